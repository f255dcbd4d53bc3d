#include "app/json_reporter.hpp"

#include "app/options.hpp"
#include "core/escape.hpp"
#include "core/expect.hpp"

#include <cmath>
#include <ctime>

namespace tcpretry::app {

namespace {

// Milliseconds with microsecond resolution, as a number.
double ms(core::Duration d) {
    return std::round(core::to_ms(d) * 1000.0) / 1000.0;
}

std::string_view event_name(core::EventType t) {
    switch (t) {
    case core::EventType::attempt:
        return "attempt";
    case core::EventType::failed:
        return "failed";
    case core::EventType::retry:
        return "retry";
    case core::EventType::connected:
        return "connected";
    case core::EventType::disconnected:
        return "disconnected";
    case core::EventType::gave_up:
        return "gave_up";
    case core::EventType::warning:
        return "warning";
    case core::EventType::probe:
        return "probe";
    case core::EventType::removed:
        return "removed";
    case core::EventType::closed:
        return "closed";
    }
    return "unknown";
}

nlohmann::ordered_json header(std::string_view event, WallClock::time_point t) {
    nlohmann::ordered_json j;
    j["event"] = event;
    j["time"] = rfc3339(t);
    return j;
}

} // namespace

std::string rfc3339(WallClock::time_point t) {
    auto since = t.time_since_epoch();
    auto secs = std::chrono::floor<std::chrono::seconds>(since);
    auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since - secs).count();
    std::time_t tt = static_cast<std::time_t>(secs.count());
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(millis));
    return buf;
}

nlohmann::ordered_json start_json(const std::vector<std::string>& targets, WallClock::time_point t,
                                  std::string_view mode) {
    nlohmann::ordered_json j = header("start", t);
    j["version"] = version();
    j["schema"] = k_json_schema;
    j["mode"] = mode;
    j["targets"] = targets;
    return j;
}

namespace {

// A Unix socket: its path as the address, no port.
void put_address(nlohmann::ordered_json& j, const core::Event& e) {
    if (e.address) {
        j["address"] = e.address->address;
        if (e.address->family != core::Family::unix_socket)
            j["port"] = e.address->port;
    }
}

nlohmann::ordered_json cert_json(const core::CertFacts& c) {
    nlohmann::ordered_json j;
    j["subject"] = c.subject;
    j["issuer"] = c.issuer;
    j["serial"] = c.serial;
    j["not_before"] = c.not_before;
    j["not_after"] = c.not_after;
    j["days_left"] = c.days_left;
    j["dns_names"] = c.dns_names;
    j["ip_addresses"] = c.ip_addresses;
    j["sha256"] = c.sha256;
    return j;
}

// connected, probe: "tls": {version, cipher, alpn, sni, verified, [verify_errno,
// verify_message,] cert}
void put_tls(nlohmann::ordered_json& j, const core::Event& e) {
    if (!e.tls)
        return;
    const core::TlsInfo& t = *e.tls;
    nlohmann::ordered_json o;
    o["version"] = t.version;
    o["cipher"] = t.cipher;
    o["alpn"] = t.alpn.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.alpn);
    o["sni"] = t.sni.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(t.sni);
    o["verified"] = t.verified;
    if (!t.verified) {
        if (t.verify_error)
            o["verify_errno"] = core::error_code_name(t.verify_error);
        o["verify_message"] = t.verify_message;
    }
    if (t.cert)
        o["cert"] = cert_json(*t.cert);
    j["tls"] = std::move(o);
}

// Why an attempt or a probe failed: error, phase, errno, message, duration_ms, resolve_ms,
// received, cert.
void put_failure(nlohmann::ordered_json& j, const core::Event& e) {
    j["error"] = core::error_class_name(e.error);
    if (e.phase)
        j["phase"] = core::phase_name(*e.phase);
    if (e.code)
        j["errno"] = core::error_code_name(e.code);
    j["message"] = e.message;
    j["duration_ms"] = ms(e.duration);
    if (e.resolve_time)
        j["resolve_ms"] = ms(*e.resolve_time);
    // A STARTTLS opening that timed out shows what the server said so far.
    if (e.error == core::ErrorClass::expect_mismatch ||
        e.error == core::ErrorClass::expect_timeout || e.error == core::ErrorClass::starttls ||
        e.error == core::ErrorClass::http_status || e.error == core::ErrorClass::http_protocol ||
        (e.error == core::ErrorClass::timeout && !e.received.empty()))
        j["received"] = core::escape_bytes(e.received, core::k_received_shown);
    if (e.cert)
        j["cert"] = cert_json(*e.cert);
    if (e.step)
        j["step"] = e.step;
    if (e.http && e.error == core::ErrorClass::http_status) {
        j["status"] = e.http->status;
        j["reason"] = core::escape_bytes(e.http->reason, core::k_received_shown);
    }
}

// connected, probe (ok): resolve_ms, connect_ms, tls_ms, check_ms
void put_phase_times(nlohmann::ordered_json& j, const core::Event& e) {
    if (e.resolve_time)
        j["resolve_ms"] = ms(*e.resolve_time);
    j["connect_ms"] = ms(e.duration);
    if (e.tls_time)
        j["tls_ms"] = ms(*e.tls_time);
    if (e.http_time)
        j["http_ms"] = ms(*e.http_time);
    if (e.check)
        j["check_ms"] = ms(*e.check);
    if (e.http)
        j["http"] = {{"status", e.http->status},
                     {"reason", core::escape_bytes(e.http->reason, core::k_received_shown)},
                     {"ttfb_ms", ms(e.http->ttfb)},
                     {"bytes", e.http->bytes}};
}

void put_connected(nlohmann::ordered_json& j, const core::Event& e) {
    j["attempt"] = e.attempt;
    put_address(j, e);
    if (e.local) {
        j["local_address"] = e.local->address;
        j["local_port"] = e.local->port;
    }
    put_phase_times(j, e);
    j["waited_ms"] = ms(e.waited);
    j["connection"] = e.connection;
    put_tls(j, e);
}

void put_disconnected(nlohmann::ordered_json& j, const core::Event& e) {
    put_address(j, e);
    j["reason"] = core::disconnect_reason_name(e.reason);
    if (e.reason == core::DisconnectReason::recheck)
        j["error"] = core::error_class_name(e.error);
    if (e.code)
        j["errno"] = core::error_code_name(e.code);
    if (e.reason == core::DisconnectReason::recheck ||
        e.reason == core::DisconnectReason::tls_error)
        j["message"] = e.message;
    j["uptime_ms"] = ms(e.uptime);
    j["bytes_received"] = e.bytes_received;
    j["connection"] = e.connection;
    j["outage"] = e.outage;
}

// --invert: the round that found nothing accepting, and what it saw.
void put_closed(nlohmann::ordered_json& j, const core::Event& e) {
    j["attempt"] = e.attempt;
    put_address(j, e);
    j["error"] = core::error_class_name(e.error);
    if (e.code)
        j["errno"] = core::error_code_name(e.code);
    j["message"] = e.message;
    if (e.resolve_time)
        j["resolve_ms"] = ms(*e.resolve_time);
    j["waited_ms"] = ms(e.waited);
}

void put_probe(nlohmann::ordered_json& j, const core::Event& e) {
    j["seq"] = e.seq;
    put_address(j, e);
    j["ok"] = e.ok;
    if (!e.ok)
        return put_failure(j, e);
    put_phase_times(j, e);
    put_tls(j, e);
}

} // namespace

nlohmann::ordered_json event_json(const core::Event& e, std::string_view target,
                                  WallClock::time_point t) {
    nlohmann::ordered_json j = header(event_name(e.type), t);
    if (e.type == core::EventType::warning) { // about the run, not one target
        if (e.code)
            j["errno"] = core::error_code_name(e.code);
        j["message"] = e.message;
        return j;
    }
    j["target"] = target;
    switch (e.type) {
    case core::EventType::attempt:
        j["attempt"] = e.attempt;
        put_address(j, e);
        if (e.address)
            j["family"] = core::family_name(e.address->family);
        break;
    case core::EventType::failed:
        j["attempt"] = e.attempt;
        put_address(j, e);
        put_failure(j, e);
        break;
    case core::EventType::retry:
        j["attempt"] = e.attempt;
        j["delay_ms"] = ms(e.delay);
        break;
    case core::EventType::connected:
        put_connected(j, e);
        break;
    case core::EventType::disconnected:
        put_disconnected(j, e);
        break;
    case core::EventType::gave_up:
        j["attempts"] = e.attempt; // the rounds it made
        j["reason"] = core::error_class_name(e.error);
        break;
    case core::EventType::warning:
        break;
    case core::EventType::probe:
        put_probe(j, e);
        break;
    case core::EventType::closed:
        put_closed(j, e);
        break;
    case core::EventType::removed:
        break;
    }
    return j;
}

nlohmann::ordered_json summary_json(const Summary& s, WallClock::time_point t) {
    nlohmann::ordered_json j = header("summary", t);
    j["result"] = result_name(s.result);
    j["targets"] = s.targets;
    if (s.probes) {
        put_probe_stats(j, *s.probes); // ping mode: probes, not rounds
    } else {
        j["connected"] = s.connected;
        j["attempts"] = s.attempts;
        j["failures"] = s.failures;
    }
    j["elapsed_ms"] = ms(s.elapsed);
    j["exit_code"] = s.exit_code;
    return j;
}

namespace {

// {min, avg, max, mdev, p50, p90, p99} in milliseconds.
nlohmann::ordered_json latency_json(const core::LatencySummary& l) {
    nlohmann::ordered_json c;
    c["min"] = ms(l.min);
    c["avg"] = ms(l.avg);
    c["max"] = ms(l.max);
    c["mdev"] = ms(l.mdev);
    c["p50"] = ms(l.p50);
    c["p90"] = ms(l.p90);
    c["p99"] = ms(l.p99);
    return c;
}

} // namespace

void put_probe_stats(nlohmann::ordered_json& j, const core::ProbeStats& st) {
    j["sent"] = st.sent();
    j["received"] = st.received();
    j["loss_percent"] = std::round(st.loss_percent() * 1000.0) / 1000.0;
    j["longest_failure_streak"] = st.longest_failure_streak();
    if (auto l = st.latency())
        j["connect_ms"] = latency_json(*l);
    if (auto l = st.tls_latency())
        j["tls_ms"] = latency_json(*l);
    if (auto l = st.ttfb_latency())
        j["ttfb_ms"] = latency_json(*l);
}

void JsonReporter::probe_summary(std::size_t target, const core::ProbeStats& stats, bool interim) {
    nlohmann::ordered_json j = header("summary", WallClock::now());
    j["target"] = m_targets.at(target);
    if (interim)
        j["interim"] = true; // SIGQUIT: statistics so far; the run goes on
    j["result"] = stats.received() > 0 ? "ok" : "failed";
    put_probe_stats(j, stats);
    m_out.write_line(encode_line(j));
}

std::string encode_line(const nlohmann::ordered_json& j) {
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

void JsonReporter::start() {
    m_out.write_line(encode_line(start_json(m_targets, WallClock::now(), m_mode)));
}

void JsonReporter::on_event(const core::Event& e) {
    m_out.write_line(encode_line(event_json(e, m_targets.at(e.target), WallClock::now())));
}

nlohmann::ordered_json target_summary_json(std::string_view target, const core::WatchStats& st,
                                           WallClock::time_point t) {
    nlohmann::ordered_json j = header("summary", t);
    j["target"] = target;
    j["result"] = st.connected ? "connected" : "disconnected";
    j["connections"] = st.connections;
    j["disconnects"] = st.disconnects;
    j["recycled"] = st.recycled;
    j["outages"] = st.outages;
    j["uptime_percent"] = std::round(st.uptime_percent() * 1000.0) / 1000.0;
    j["longest_up_ms"] = ms(st.longest_up);
    j["longest_down_ms"] = ms(st.longest_down);
    return j;
}

void JsonReporter::target_summary(std::size_t target, const core::WatchStats& stats) {
    m_out.write_line(
        encode_line(target_summary_json(m_targets.at(target), stats, WallClock::now())));
}

void JsonReporter::summary(const Summary& s) {
    m_out.write_line(encode_line(summary_json(s, WallClock::now())));
}

} // namespace tcpretry::app
