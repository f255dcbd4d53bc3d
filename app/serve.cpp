#include "app/serve.hpp"

#include "app/exposition.hpp"
#include "app/http_server.hpp"
#include "app/probe_metrics.hpp"
#include "app/serve_query.hpp"
#include "core/connector.hpp"
#include "core/gate.hpp"
#include "core/loop.hpp"
#include "core/resolver.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <list>
#include <map>
#include <memory>
#include <stdexcept>

namespace tcpretry::app {

namespace ex = exposition;
using core::Duration;

std::optional<Duration> probe_deadline(std::optional<std::string_view> header, Duration offset) {
    Duration scrape = k_serve_default_scrape_timeout;
    if (header) {
        double seconds = 0;
        auto [end, ec] = std::from_chars(header->data(), header->data() + header->size(), seconds);
        if (ec != std::errc() || end != header->data() + header->size() ||
            !std::isfinite(seconds) || seconds <= 0 || seconds > 1e6)
            return std::nullopt;
        scrape = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds));
    }
    Duration left = scrape - offset;
    return left < scrape / 2 ? scrape / 2 : left;
}

namespace {

double seconds(Duration d) {
    return std::chrono::duration<double>(d).count();
}

ProbeResult failure(std::string error_class) {
    ProbeResult r;
    r.error_class = std::move(error_class);
    return r;
}

HttpResponse text_response(int status, std::string body) {
    HttpResponse r;
    r.status = status;
    r.body = std::move(body);
    return r;
}

constexpr std::string_view k_index_page = R"(<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>tcpretry exporter</title></head>
<body>
<h1>tcpretry exporter</h1>
<p><a href="/probe?target=127.0.0.1:22">Probe 127.0.0.1:22</a> (/probe?target=HOST:PORT)</p>
<p><a href="/metrics">Metrics</a> (the exporter's own)</p>
</body>
</html>
)";

// The exporter: one HttpServer, one Connector per probe in flight, a gate for --parallel.
class Exporter {
  public:
    Exporter(core::Loop& loop, core::Resolver& resolver, const Options& options, AllowList allow);
    uint16_t port() const { return m_http.port(); }

  private:
    struct Probe;
    void on_probe(const HttpRequest& request, HttpServer::Responder answer);
    bool admitted(const core::Target& target, HttpServer::Responder& answer);
    void start(Probe& p);
    void resolve_then_start(Probe& p, core::Family family);
    void on_resolved(Probe& p, core::Family family, core::ResolveResult result);
    void on_event(Probe& p, const core::Event& e);
    void finish(Probe& p, ProbeResult result);
    void reap() { m_finished.clear(); }
    std::shared_ptr<const core::ConnectorOptions> connector_options(Duration deadline);
    std::string own_metrics() const;

    core::Loop& m_loop;
    core::Resolver& m_resolver;
    const Options& m_options;
    AllowList m_allow;
    core::Gate m_gate;
    HttpServer m_http;
    std::map<Duration, std::shared_ptr<const core::ConnectorOptions>> m_connector_options;
    std::list<std::unique_ptr<Probe>> m_in_flight;
    std::list<std::unique_ptr<Probe>> m_finished; // freed from the loop, not their callbacks
    core::Deferred m_reap;
    uint64_t m_seq = 0;
    uint64_t m_success = 0, m_failure = 0, m_bad = 0, m_refused = 0, m_modules = 0;
};

// One /probe request in flight: its Connector, its deadline, and what it heard.
struct Exporter::Probe final : core::EventSink {
    Probe(Exporter& exporter, HttpServer::Responder responder, core::Target what, Duration limit)
        : owner(exporter), answer(std::move(responder)), target(std::move(what)), deadline(limit),
          timer(exporter.m_loop, [this] { on_deadline(); }) {}
    void on_event(const core::Event& e) override { owner.on_event(*this, e); }
    void on_deadline();

    Exporter& owner;
    HttpServer::Responder answer;
    core::Target target;
    Duration deadline;
    core::TimePoint started = core::Clock::now();
    bool module_ignored = false;
    bool by_address = false; // a name allowed only by --serve-allow's networks
    std::optional<Duration> dns;
    core::Resolver::RequestId query = 0;
    std::optional<core::Event> last_failure;
    std::unique_ptr<core::Connector> connector;
    core::Timer timer;
    bool done = false;
};

void Exporter::Probe::on_deadline() {
    ProbeResult r;
    r.error_class = "timeout";
    if (last_failure && last_failure->address)
        r.address = last_failure->address;
    r.dns_seconds = dns ? std::optional<double>(seconds(*dns)) : std::nullopt;
    owner.finish(*this, std::move(r));
}

Exporter::Exporter(core::Loop& loop, core::Resolver& resolver, const Options& options,
                   AllowList allow)
    : m_loop(loop), m_resolver(resolver), m_options(options), m_allow(std::move(allow)),
      m_gate(loop, options.parallel), m_http(loop, *options.serve, "--serve") {
    m_http.route("/probe", [this](const HttpRequest& request, HttpServer::Responder answer) {
        on_probe(request, std::move(answer));
    });
    m_http.route("/metrics", [this](const HttpRequest&, HttpServer::Responder answer) {
        HttpResponse r = text_response(200, own_metrics());
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        answer.respond(std::move(r));
    });
    m_http.route("/-/healthy", [](const HttpRequest&, HttpServer::Responder answer) {
        answer.respond(text_response(200, "OK\n"));
    });
    m_http.route("/", [](const HttpRequest&, HttpServer::Responder answer) {
        HttpResponse page = text_response(200, std::string(k_index_page));
        page.content_type = "text/html; charset=utf-8";
        page.headers.emplace_back("Content-Security-Policy", "default-src 'none'");
        page.headers.emplace_back("X-Content-Type-Options", "nosniff");
        answer.respond(std::move(page));
    });
}

// Whether `target` may be probed: 403 (one line) when not.
bool Exporter::admitted(const core::Target& target, HttpServer::Responder& answer) {
    std::string why;
    if (target.port == 0 /* unix: */ && !m_allow.allows_target(target))
        why = "a unix: target must be given on the command line or in --targets-file";
    else if (!m_allow.empty() && !m_allow.allows_target(target) &&
             (target.numeric || !m_allow.has_cidrs()))
        why = "not allowed (--serve-allow, or the targets given)";
    if (why.empty())
        return true;
    ++m_refused;
    answer.respond(text_response(403, "target " + core::quote(target.text) + ": " + why + "\n"));
    return false;
}

void Exporter::on_probe(const HttpRequest& request, HttpServer::Responder answer) {
    auto parsed = parse_probe_query(request.query);
    if (auto* e = std::get_if<QueryError>(&parsed)) {
        ++m_bad;
        return answer.respond(text_response(400, e->message + "\n"));
    }
    auto& query = std::get<ProbeQuery>(parsed);
    auto deadline = probe_deadline(request.header("X-Prometheus-Scrape-Timeout-Seconds"),
                                   m_options.serve_timeout_offset);
    if (!deadline) {
        ++m_bad;
        return answer.respond(
            text_response(400, "X-Prometheus-Scrape-Timeout-Seconds: not a positive number\n"));
    }
    if (!admitted(query.target, answer))
        return;
    auto p = std::make_unique<Probe>(*this, std::move(answer), std::move(query.target), *deadline);
    p->module_ignored = query.module.has_value();
    m_modules += p->module_ignored;
    p->by_address = !m_allow.empty() && !m_allow.allows_target(p->target);
    Probe& probe = *p;
    m_in_flight.push_back(std::move(p));
    if (!probe.timer.start(probe.deadline))
        return finish(probe, failure("local"));
    if (probe.by_address)
        return resolve_then_start(probe, m_options.family.value_or(core::Family::ipv4));
    start(probe);
}

// A name allowed only by a network: its address is looked up here and checked, then probed
// as that address (the name kept for TLS's SNI and certificate check).
void Exporter::resolve_then_start(Probe& p, core::Family family) {
    if (auto local = m_resolver.local_lookup(p.target.host)) {
        core::ResolveResult r;
        for (auto a : *local)
            if (a.family() == family) {
                a.set_port(p.target.port);
                r.addresses.push_back(a);
            }
        return on_resolved(p, family, std::move(r));
    }
    p.query = m_resolver.resolve(p.target.host, family, p.target.port,
                                 [this, &p, family](core::ResolveResult r) {
                                     p.query = 0;
                                     on_resolved(p, family, std::move(r));
                                 });
    if (p.query == 0)
        finish(p, failure("resolve"));
}

void Exporter::on_resolved(Probe& p, core::Family family, core::ResolveResult result) {
    for (const auto& a : result.addresses) {
        if (m_allow.allows_address(a)) {
            p.dns = core::Clock::now() - p.started;
            p.target.numeric = a;
            return start(p);
        }
    }
    // Without -4/-6, IPv6 is asked after IPv4 had no allowed address.
    if (family == core::Family::ipv4 && !m_options.family)
        return resolve_then_start(p, core::Family::ipv6);
    bool resolved = !result.addresses.empty();
    if (!resolved)
        return finish(p, failure("resolve"));
    ++m_refused;
    p.done = true;
    p.timer.cancel();
    p.answer.respond(text_response(403, "target " + core::quote(p.target.text) +
                                            ": resolves to no address --serve-allow allows\n"));
    finish(p, {});
}

std::shared_ptr<const core::ConnectorOptions> Exporter::connector_options(Duration deadline) {
    Duration connect = std::min(m_options.connect_timeout, deadline);
    auto& slot = m_connector_options[connect];
    if (!slot) {
        if (m_connector_options.size() > 64) { // headers vary: keep a few
            m_connector_options.clear();
            return connector_options(deadline);
        }
        core::ConnectorOptions co;
        co.connect_timeout = connect;
        co.max_rounds = 1;
        co.family = m_options.family;
        co.source = m_options.source;
        co.check = m_options.check;
        co.gate = &m_gate;
        slot = std::make_shared<const core::ConnectorOptions>(std::move(co));
    }
    return slot;
}

void Exporter::start(Probe& p) {
    p.connector = std::make_unique<core::Connector>(m_loop, m_resolver, p.target, 0,
                                                    connector_options(p.deadline), ++m_seq, p);
    p.connector->start();
}

void Exporter::on_event(Probe& p, const core::Event& e) {
    using core::EventType;
    if (e.type == EventType::failed) {
        p.last_failure = e;
        return;
    }
    if (e.type != EventType::connected && e.type != EventType::gave_up)
        return;
    ProbeResult r;
    const core::Event& facts =
        e.type == EventType::connected || !p.last_failure ? e : *p.last_failure;
    r.address = facts.address;
    std::optional<Duration> dns = p.dns ? p.dns : facts.resolve_time;
    if (dns) {
        r.dns_seconds = seconds(*dns);
        r.phases.emplace_back("resolve", seconds(*dns));
    }
    if (e.type == EventType::connected) {
        r.success = true;
        r.phases.emplace_back("connect", seconds(e.duration));
        if (e.tls_time)
            r.phases.emplace_back("tls", seconds(*e.tls_time));
        if (e.check)
            r.phases.emplace_back("check", seconds(*e.check - e.tls_time.value_or(Duration{})));
        if (e.tls) {
            r.tls_version = e.tls->version;
            if (e.tls->cert)
                r.cert_not_after = e.tls->cert->not_after_unix;
        }
    } else {
        r.error_class = std::string(core::error_class_name(facts.error));
        r.failed_due_to_regex = facts.error == core::ErrorClass::expect_mismatch;
        if (facts.cert)
            r.cert_not_after = facts.cert->not_after_unix;
    }
    finish(p, std::move(r));
}

// Answers (unless answered) and frees the probe from the loop: its Connector may be on the
// stack.
void Exporter::finish(Probe& p, ProbeResult result) {
    if (!p.done) {
        p.done = true;
        p.timer.cancel();
        result.success ? ++m_success : ++m_failure;
        result.module_ignored = p.module_ignored;
        result.duration_seconds = seconds(core::Clock::now() - p.started);
        HttpResponse r = text_response(200, encode_probe(result));
        r.content_type = "text/plain; version=0.0.4; charset=utf-8";
        p.answer.respond(std::move(r));
    }
    // A Connector that reported its end is left alone (it may be calling us); one still under
    // way (the deadline passed) is stopped.
    using State = core::Connector::State;
    if (p.connector) {
        State s = p.connector->state();
        if (s == State::queued || s == State::connecting || s == State::checking ||
            s == State::waiting)
            p.connector->stop();
    }
    if (p.query != 0) {
        m_resolver.cancel(p.query);
        p.query = 0;
    }
    auto it = std::find_if(m_in_flight.begin(), m_in_flight.end(),
                           [&](const auto& q) { return q.get() == &p; });
    if (it != m_in_flight.end())
        m_finished.splice(m_finished.end(), m_in_flight, it);
    if (!m_reap.pending())
        m_reap = m_loop.defer([this] { reap(); });
}

std::string Exporter::own_metrics() const {
    std::string out;
    ex::family(out, "tcpretry_serve_probes_total", "counter",
               "Probes answered, by result (success: probe_success 1)");
    ex::sample(out, "tcpretry_serve_probes_total", "result=\"success\"",
               static_cast<double>(m_success));
    ex::sample(out, "tcpretry_serve_probes_total", "result=\"failure\"",
               static_cast<double>(m_failure));
    ex::family(out, "tcpretry_serve_probes_in_flight", "gauge",
               "Probes under way (connecting, or waiting for a --parallel slot)");
    ex::sample(out, "tcpretry_serve_probes_in_flight", "", static_cast<double>(m_in_flight.size()));
    ex::family(out, "tcpretry_serve_requests_rejected_total", "counter",
               "/probe requests answered without a probe: 400 (bad request), 403 (not allowed)");
    ex::sample(out, "tcpretry_serve_requests_rejected_total", "code=\"400\"",
               static_cast<double>(m_bad));
    ex::sample(out, "tcpretry_serve_requests_rejected_total", "code=\"403\"",
               static_cast<double>(m_refused));
    ex::family(out, "tcpretry_serve_module_ignored_total", "counter",
               "/probe requests that named a module= (ignored: options come from the command "
               "line)");
    ex::sample(out, "tcpretry_serve_module_ignored_total", "", static_cast<double>(m_modules));
    ex::family(out, "tcpretry_serve_connections", "gauge", "HTTP connections open");
    ex::sample(out, "tcpretry_serve_connections", "", static_cast<double>(m_http.connections()));
    return out;
}

struct StopOnSignal {
    static void on_signal(evutil_socket_t, short, void* arg) {
        static_cast<core::Loop*>(arg)->break_loop();
    }
};

} // namespace

int serve(const Options& options) {
    AllowList allow;
    for (const auto& entry : options.serve_allow)
        (void)allow.add(entry); // checked by the option parser
    for (const auto& t : options.targets)
        allow.add_target(t);
    core::Loop loop;
    core::Resolver resolver(loop, options.resolver);
    Exporter exporter(loop, resolver, options, std::move(allow));
    core::EventPtr sigint(evsignal_new(loop.base(), SIGINT, &StopOnSignal::on_signal, &loop));
    core::EventPtr sigterm(evsignal_new(loop.base(), SIGTERM, &StopOnSignal::on_signal, &loop));
    if (!sigint || !sigterm || event_add(sigint.get(), nullptr) != 0 ||
        event_add(sigterm.get(), nullptr) != 0)
        throw std::runtime_error("cannot set up signal handling");
    if (options.verbosity != Verbosity::quiet) {
        core::Endpoint where = core::to_endpoint(*options.serve);
        std::string host =
            where.family == core::Family::ipv6 ? "[" + where.address + "]" : where.address;
        std::fprintf(stderr, "tcpretry: serving http://%s:%u/probe?target=HOST:PORT\n",
                     host.c_str(), static_cast<unsigned>(exporter.port()));
        std::fflush(stderr);
    }
    loop.run();
    return k_exit_ok;
}

} // namespace tcpretry::app
