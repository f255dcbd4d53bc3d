#include "core/prober.hpp"

#include <algorithm>
#include <cerrno>
#include <string>

namespace tcpretry::core {

// One probe: a Connector for one round, and the sink that hears it.
struct Prober::Probe final : EventSink {
    Prober* owner = nullptr;
    unsigned seq = 0;
    std::optional<Event> last_failure;
    std::unique_ptr<Connector> connector;

    void on_event(const Event& e) override { owner->on_probe_event(*this, e); }
};

Prober::Prober(Loop& loop, Resolver& resolver, Target target, std::size_t index,
               ConnectorOptions connector, ProbeOptions options, EventSink& sink)
    : m_loop(loop), m_resolver(resolver), m_target(std::move(target)), m_index(index),
      m_connector(std::move(connector)), m_options(options), m_sink(sink),
      m_next(loop, [this] { send_next(); }) {
    m_connector.max_rounds = 1;
}

Prober::~Prober() {
    stop();
}

void Prober::start() {
    m_first = Clock::now();
    send_next();
}

void Prober::stop() {
    m_stopped = true;
    m_next.cancel();
    // Stopped, not destroyed: one of them may be the caller, further up the stack.
    for (auto& p : m_in_flight)
        p->connector->stop();
    m_finished.splice(m_finished.end(), m_in_flight);
}

bool Prober::done() const {
    return m_options.count != 0 && m_seq >= m_options.count && m_in_flight.empty();
}

void Prober::send_next() {
    if (m_stopped || (m_options.count != 0 && m_seq >= m_options.count))
        return;
    auto p = std::make_unique<Probe>();
    p->owner = this;
    p->seq = ++m_seq;
    ConnectorOptions co = m_connector;
    co.seed += m_seq;
    p->connector = std::make_unique<Connector>(m_loop, m_resolver, m_target, m_index, co, *p);
    Connector* c = p->connector.get();
    m_in_flight.push_back(std::move(p));
    // On a fixed schedule from the first probe, so slow probes do not make the rate drift.
    if (m_options.count == 0 || m_seq < m_options.count) {
        TimePoint due = m_first + m_options.interval * m_seq;
        TimePoint now = Clock::now();
        // More than a slot behind (the process was stopped, its output blocked, the machine
        // suspended): the slots missed are skipped, not sent in a burst of probes at once;
        // the schedule goes on from now.
        if (now - due > m_options.interval) {
            m_first += now - due;
            due = now;
        }
        if (!m_next.start(std::max(Duration::zero(), due - now))) {
            // Out of memory: this probe is the last, so the run still ends.
            m_options.count = m_seq;
            warn("cannot schedule the next probe (out of memory): probe " + std::to_string(m_seq) +
                 " is the last");
        }
    }
    c->start();
}

void Prober::on_probe_event(Probe& p, const Event& e) {
    if (e.type == EventType::failed) {
        p.last_failure = e;
        return;
    }
    if (e.type == EventType::warning) {
        m_sink.on_event(e);
        return;
    }
    if (e.type != EventType::connected && e.type != EventType::gave_up)
        return;

    Event out;
    out.type = EventType::probe;
    out.target = m_index;
    out.seq = p.seq;
    out.ok = e.type == EventType::connected;
    if (out.ok) {
        out.address = e.address;
        out.duration = e.duration;
        out.check = e.check;
        out.tls = e.tls;
        out.resolve_time = e.resolve_time;
        out.tls_time = e.tls_time;
        out.http = e.http;
        out.http_time = e.http_time;
        m_stats.add_success(e.duration, e.tls_time);
        if (e.http)
            m_stats.add_ttfb(e.http->ttfb);
    } else {
        if (p.last_failure) {
            out.address = p.last_failure->address;
            out.error = p.last_failure->error;
            out.code = p.last_failure->code;
            out.message = p.last_failure->message;
            out.received = p.last_failure->received;
            out.cert = p.last_failure->cert;
            out.duration = p.last_failure->duration;
            out.phase = p.last_failure->phase;
            out.http = p.last_failure->http;
            out.step = p.last_failure->step;
            out.resolve_time = p.last_failure->resolve_time;
        } else {
            out.error = e.error;
            out.message = e.message;
        }
        m_stats.add_failure();
    }
    // The probe's Connector is still on the stack: free it from the loop.
    auto it = std::find_if(m_in_flight.begin(), m_in_flight.end(),
                           [&](const auto& q) { return q.get() == &p; });
    if (it != m_in_flight.end()) {
        m_finished.splice(m_finished.end(), m_in_flight, it);
        if (!m_reap.pending())
            m_reap = m_loop.defer([this] { reap(); });
    }
    m_sink.on_event(out);
}

void Prober::reap() {
    m_finished.clear();
}

void Prober::warn(std::string message) {
    Event w;
    w.type = EventType::warning;
    w.target = m_index;
    w.error = ErrorClass::local;
    w.code = ErrorCode::sys(ENOMEM);
    w.message = std::move(message);
    m_sink.on_event(w);
}

} // namespace tcpretry::core
