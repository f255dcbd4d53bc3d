#include "app/human_reporter.hpp"

#include "core/escape.hpp"
#include "core/expect.hpp"

#include <cstdio>
#include <ctime>
#include <stdexcept>

namespace tcpretry::app {

namespace {

const char* const k_red = "31";
const char* const k_green = "32";
const char* const k_yellow = "33";
const char* const k_bold = "1";

std::string printf_string(const char* fmt, double v) {
    char buf[48];
    std::snprintf(buf, sizeof buf, fmt, v);
    return buf;
}

std::string_view still_words(core::ErrorClass c) {
    switch (c) {
    case core::ErrorClass::refused:
        return "refused";
    case core::ErrorClass::timeout:
        return "timing out";
    case core::ErrorClass::unreachable:
        return "unreachable";
    case core::ErrorClass::reset:
        return "reset";
    case core::ErrorClass::local:
        return "failing (local error)";
    case core::ErrorClass::fatal:
        return "failing";
    case core::ErrorClass::resolve:
        return "not resolving";
    case core::ErrorClass::self_connect:
        return "connecting to itself";
    case core::ErrorClass::expect_mismatch:
        return "not answering as expected";
    case core::ErrorClass::expect_timeout:
        return "silent";
    case core::ErrorClass::tls_handshake:
        return "failing the TLS handshake";
    case core::ErrorClass::tls_verify:
        return "failing certificate verification";
    case core::ErrorClass::tls_alpn:
        return "not agreeing on ALPN";
    case core::ErrorClass::cert_expiring:
        return "expiring";
    case core::ErrorClass::starttls:
        return "refusing STARTTLS";
    case core::ErrorClass::missing:
        return "missing";
    case core::ErrorClass::denied:
        return "denying access";
    case core::ErrorClass::still_open:
        return "open";
    case core::ErrorClass::http_status:
        return "answering with an HTTP status not accepted";
    case core::ErrorClass::http_protocol:
        return "not answering HTTP";
    }
    return "failing";
}

std::string disconnect_words(core::DisconnectReason reason, const std::string& message,
                             core::ErrorCode code) {
    switch (reason) {
    case core::DisconnectReason::recheck:
        return "new connections fail (" + message + ")";
    case core::DisconnectReason::closed:
        return "closed by peer";
    case core::DisconnectReason::reset:
        return "reset by peer";
    case core::DisconnectReason::timeout:
        return "timed out (peer or path dead)";
    case core::DisconnectReason::tls_close:
        return "closed by peer (TLS close_notify)";
    case core::DisconnectReason::tls_error:
        return "TLS error (" + (message.empty() ? std::string("truncated") : message) + ")";
    case core::DisconnectReason::error:
        break;
    }
    return code ? core::errno_message(code.value) : "error";
}

// " HTTP 200 OK (first byte 1.2 ms)", an HTTP TARGET's answer.
std::string http_words(const core::Event& e) {
    if (!e.http)
        return "";
    std::string reason = core::escape_bytes(e.http->reason, core::k_received_shown);
    return ", HTTP " + std::to_string(e.http->status) + (reason.empty() ? "" : " " + reason) +
           " (first byte " + format_latency(e.http->ttfb) + ")";
}

// ", TLSv1.3, certificate 89 days left" (with --insecure: ", certificate NOT verified: why"),
// then an HTTP TARGET's status.
std::string tls_words(const core::Event& e) {
    if (!e.tls)
        return http_words(e);
    const core::TlsInfo& t = *e.tls;
    std::string w = ", " + t.version;
    if (!t.alpn.empty())
        w += ", ALPN " + t.alpn;
    if (t.cert) {
        int64_t d = t.cert->days_left;
        w += ", certificate " +
             (d < 0 ? "expired" : std::to_string(d) + (d == 1 ? " day" : " days") + " left");
    }
    if (!t.verified)
        w += ", NOT verified" + (t.verify_message.empty() ? "" : ": " + t.verify_message);
    return w + http_words(e);
}

std::string disconnect_words(const core::Event& e) {
    return disconnect_words(e.reason, e.message, e.code);
}

std::string plural(uint64_t n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
}

std::string plural(uint64_t n, std::string_view one, std::string_view many) {
    return std::to_string(n) + " " + std::string(n == 1 ? one : many);
}

} // namespace

std::string format_latency(core::Duration d) {
    double ms = core::to_ms(d);
    if (ms < 1)
        return printf_string("%.2f ms", ms);
    if (ms < 10)
        return printf_string("%.1f ms", ms);
    if (ms < 1000)
        return printf_string("%.0f ms", ms);
    return printf_string("%.1f s", ms / 1000);
}

std::string format_span(core::Duration d) {
    double s = std::chrono::duration<double>(d).count();
    if (s < 60)
        return printf_string("%.1f s", s);
    auto whole = static_cast<long long>(s);
    char buf[48];
    if (whole < 3600)
        std::snprintf(buf, sizeof buf, "%lldm%02llds", whole / 60, whole % 60);
    else
        std::snprintf(buf, sizeof buf, "%lldh%02lldm", whole / 3600, (whole % 3600) / 60);
    return buf;
}

std::string format_delay(core::Duration d) {
    double ms = core::to_ms(d);
    if (ms < 1000)
        return printf_string("%.0f ms", ms);
    return printf_string("%.1f s", ms / 1000);
}

HumanReporter::HumanReporter(Output& out, Output& err, std::vector<core::Target> targets,
                             HumanStyle style, Now now, WallNow wall, const Board* board)
    : HumanReporter(out, err, std::span<const core::Target>(), style, std::move(now),
                    std::move(wall), board, std::move(targets)) {}

HumanReporter::HumanReporter(Output& out, Output& err, std::span<const core::Target> targets,
                             HumanStyle style, Now now, WallNow wall, const Board* board)
    : HumanReporter(out, err, targets, style, std::move(now), std::move(wall), board, {}) {}

const core::Target& HumanReporter::target_at(std::size_t i) const {
    if (i >= m_targets.size())
        throw std::out_of_range("no such target");
    return m_targets[i];
}

HumanReporter::HumanReporter(Output& out, Output& err, std::span<const core::Target> targets,
                             HumanStyle style, Now now, WallNow wall, const Board* board,
                             std::vector<core::Target> own)
    : m_out(out), m_err(err), m_own_targets(std::move(own)),
      m_targets(m_own_targets.empty() ? targets : std::span<const core::Target>(m_own_targets)),
      m_style(style), m_now(std::move(now)), m_wall(std::move(wall)), m_state(m_targets.size()),
      m_board(board, m_targets.size()), m_started(m_now()) {
    if (m_style.verbosity != Verbosity::normal)
        m_style.fleet = false; // -v prints every event; -q prints nothing to summarise
    if (!m_style.fleet)
        m_style.live = false;
}

std::string HumanReporter::paint(std::string_view text, const char* code) const {
    if (!m_style.color)
        return std::string(text);
    return "\033[" + std::string(code) + "m" + std::string(text) + "\033[0m";
}

std::string HumanReporter::label(const core::Event& e) const {
    const core::Target& t = target_at(e.target);
    std::string s = t.text;
    // "db:5432 [10.0.0.5]"; a literal address is not repeated.
    if (e.address && e.address->address != t.host)
        s += " [" + e.address->address + "]";
    return s;
}

std::string HumanReporter::stamp() const {
    if (!m_style.timestamps)
        return {};
    std::time_t t = std::chrono::system_clock::to_time_t(m_wall());
    std::tm tm{};
    localtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S ", &tm);
    return buf;
}

void HumanReporter::print(std::string line) {
    if (m_style.verbosity == Verbosity::quiet)
        return;
    clear_status();
    m_out.write_line(stamp() + line);
}

void HumanReporter::write_err(std::string line) {
    m_err.write_line(stamp() + line);
}

void HumanReporter::flush_held(LineState& t, const std::string& suffix) {
    for (std::size_t i = 0; i < t.held.size(); ++i) {
        std::string line = std::move(t.held[i].line);
        if (i + 1 == t.held.size() && !suffix.empty())
            line += "; " + paint(suffix, k_yellow);
        print(std::move(line));
    }
    t.held.clear();
}

void HumanReporter::flush_recycles(std::size_t target, LineState& t) {
    if (!t.recycling || t.recycling->suppressed == 0)
        return;
    print(target_at(target).text + " " + plural(t.recycling->suppressed, "more connection") +
          " recycled (" + t.recycling->key + ")");
    t.recycling->suppressed = 0;
}

// Everything held back is printed: before a summary.
void HumanReporter::flush_pending() {
    for (std::size_t i = 0; i < m_state.size(); ++i) {
        if (!m_state[i])
            continue;
        flush_held(*m_state[i]);
        flush_recycles(i, *m_state[i]);
    }
}

std::string HumanReporter::still_line(const core::Event& e, const LineState& t) const {
    return target_at(e.target).text + " still " + std::string(still_words(*t.last_error)) +
           " after " + plural(t.last_round - t.first_failed_round + 1, "attempt") + ", " +
           format_span(m_now() - t.first_round);
}

void HumanReporter::on_failed(const core::Event& e, LineState& t) {
    bool verbose = m_style.verbosity == Verbosity::verbose;
    if (e.address)
        t.folded.push_back(e.address->address + ": " + e.message);
    std::string key = (e.address ? e.address->address : std::string()) + "|" +
                      std::string(core::error_class_name(e.error)) + "|" + e.message;
    bool changed = t.last_error && *t.last_error != e.error;
    if (changed && t.suppressed > 0) {
        print(still_line(e, t)); // counts the attempts up to the previous one
        t.suppressed = 0;
    }
    if (changed)
        t.seen.clear();
    if (!t.last_error) { // a new spell: the first failure, or the first since a connection
        t.first_failed_round = e.attempt;
        t.first_round = m_now() - e.duration; // its round began about its duration ago
    }
    t.last_error = e.error;
    t.last_round = e.attempt;

    if (!verbose && t.seen.count(key)) {
        ++t.suppressed;
        if (m_now() - t.last_print >= k_repeat_summary_every) {
            print(still_line(e, t));
            t.suppressed = 0;
            t.last_print = m_now();
        }
        return;
    }
    t.seen.insert(key);
    t.suppressed = 0;
    t.last_print = m_now();
    std::string what = e.message;
    if (e.error == core::ErrorClass::resolve)
        what = "cannot resolve " + target_at(e.target).host + ": " + e.message;
    else if (!e.received.empty())
        what += ", received \"" + core::escape_bytes(e.received, core::k_received_shown) + "\"";
    t.held.push_back({label(e) + " attempt " + std::to_string(e.attempt) + ": " +
                          paint(what, k_red) + " (" + format_latency(e.duration) + ")",
                      "retrying in "});
}

void HumanReporter::clear_status() {
    if (m_status_drawn) {
        m_out.write_raw("\r\033[K");
        m_status_drawn.reset();
    }
}

void HumanReporter::tick() {
    if (m_style.live)
        draw_status(true);
}

void HumanReporter::draw_status(bool force) {
    core::TimePoint now = m_now();
    // Redrawing on every event would cost more than the probing: ten times a second.
    if (!force && m_status_drawn && now - *m_status_drawn < std::chrono::milliseconds(100))
        return;
    const Board& b = *m_board;
    std::string line =
        "\r\033[K" +
        paint(std::to_string(b.count(TargetState::connected)) + " connected", k_green) + " · " +
        paint(std::to_string(b.count(TargetState::failing)) + " failing", k_yellow) + " · " +
        std::to_string(b.count(TargetState::waiting)) + " waiting · " +
        paint(std::to_string(b.count(TargetState::gave_up)) + " gave up", k_red) + " · " +
        format_span(now - m_started);
    m_out.write_raw(line);
    m_status_drawn = now;
}

// The fleet view's share of an event (the board has counted it); false when the event needs
// the normal lines too.
bool HumanReporter::on_fleet_event(const core::Event& e) {
    switch (e.type) {
    case core::EventType::retry:
    case core::EventType::warning:
        return false;
    case core::EventType::disconnected:
        if (!e.outage && !m_style.live) // recycled: its reconnect follows
            return false;
        break;
    default:
        break;
    }
    if (m_style.live) {
        draw_status(false);
        return true;
    }
    // Not a terminal: one line per target outcome.
    return !(e.type == core::EventType::connected || e.type == core::EventType::gave_up ||
             e.type == core::EventType::disconnected || e.type == core::EventType::closed);
}

void HumanReporter::on_connected(const core::Event& e, LineState& t) {
    bool verbose = m_style.verbosity == Verbosity::verbose;
    std::string check = e.check ? ", check " + format_latency(*e.check) : "";
    std::string tls = tls_words(e);
    // Another address of the round failed first: said in passing, not as a failure.
    std::string fold;
    if (!verbose && !t.folded.empty()) {
        for (const auto& f : t.folded)
            fold += (fold.empty() ? " (after " : ", ") + f;
        fold += ")";
    }
    if (verbose)
        flush_held(t);
    t.held.clear();
    t.folded.clear();
    t.last_error.reset();
    t.seen.clear();
    t.suppressed = 0;
    if (t.recycling && t.recycling->pending) {
        Recycling& r = *t.recycling;
        const core::Event d = std::move(*r.pending);
        r.pending.reset();
        std::string words = disconnect_words(d);
        if (!verbose && words == r.key) {
            // The same recycling again: counted, summarised every k_repeat_summary_every.
            ++r.suppressed;
            if (m_now() - r.last_print >= k_repeat_summary_every) {
                flush_recycles(e.target, t);
                r.last_print = m_now();
            }
            return;
        }
        flush_recycles(e.target, t);
        r.key = words;
        r.last_print = m_now();
        print(label(e) + " connection " + std::to_string(d.connection) + " recycled: " + words +
              " after " + format_span(d.uptime) + "; " + paint("reconnected", k_green) +
              " (connection " + std::to_string(e.connection) + ") in " +
              format_latency(e.duration) + check + tls + fold);
        return;
    }
    if (m_style.watch)
        print(label(e) + " " + paint("connected", k_green) + " (connection " +
              std::to_string(e.connection) + ") in " + format_latency(e.duration) + check + tls +
              fold);
    else
        print(label(e) + " " + paint("connected", k_green) + " on attempt " +
              std::to_string(e.attempt) + " in " + format_latency(e.duration) + check + " after " +
              format_span(e.waited) + tls + fold);
}

void HumanReporter::on_disconnected(const core::Event& e, LineState& t) {
    if (!e.outage) {
        if (!t.recycling)
            t.recycling = std::make_unique<Recycling>();
        t.recycling->pending = e; // printed with its reconnect, which comes next
        return;
    }
    flush_recycles(e.target, t);
    if (t.recycling)
        t.recycling->key.clear();
    t.held.push_back({label(e) + " " + paint("disconnected", k_red) + ": " + disconnect_words(e) +
                          " after " + format_span(e.uptime) + ", " + paint("outage", k_red),
                      "reconnecting in "});
}

void HumanReporter::on_event(const core::Event& e) {
    m_board.on_event(e);
    if (m_style.fleet && on_fleet_event(e))
        return;
    if (e.type == core::EventType::warning) // about the run, not one target
        return write_err("tcpretry: warning: " + e.message);
    if (m_style.verbosity == Verbosity::quiet && e.type != core::EventType::gave_up)
        return; // -q: no line but errors; the board keeps what the summary needs
    std::unique_ptr<LineState>& state = m_state.at(e.target);
    bool needs_state = e.type == core::EventType::failed ||
                       e.type == core::EventType::disconnected ||
                       e.type == core::EventType::gave_up;
    if (!state && needs_state)
        state = std::make_unique<LineState>();
    on_line_event(e, state ? *state : m_blank);
}

void HumanReporter::add_target(const core::Target& target) {
    if (m_own_targets.empty()) // the span was the run's: from now on a list of our own
        m_own_targets.assign(m_targets.begin(), m_targets.end());
    m_own_targets.push_back(target);
    m_targets = m_own_targets;
    m_state.emplace_back();
    m_board.add_target();
}

// One target's event as lines of its own.
void HumanReporter::on_line_event(const core::Event& e, LineState& t) {
    switch (e.type) {
    case core::EventType::attempt:
        if (m_style.verbosity == Verbosity::verbose)
            print(label(e) + " attempt " + std::to_string(e.attempt) + ": connecting");
        break;
    case core::EventType::failed:
        on_failed(e, t);
        break;
    case core::EventType::retry:
        t.folded.clear();
        if (!t.held.empty()) {
            std::string then = t.held.back().then;
            flush_held(t, then + format_delay(e.delay));
        } else if (m_style.verbosity == Verbosity::verbose) {
            print(target_at(e.target).text + " retrying in " + format_delay(e.delay) +
                  " (attempt " + std::to_string(e.attempt) + ")");
        }
        break;
    case core::EventType::connected:
        on_connected(e, t);
        break;
    case core::EventType::disconnected:
        on_disconnected(e, t);
        break;
    case core::EventType::probe:
        on_probe(e);
        break;
    case core::EventType::gave_up:
        on_gave_up(e, t);
        break;
    case core::EventType::closed:
        on_closed(e, t);
        break;
    case core::EventType::warning:
        break;
    case core::EventType::removed:
        print(target_at(e.target).text + " removed (no longer in the targets file)");
        break;
    }
}

// --invert: the round found nothing accepting; what it saw replaces its failure lines.
void HumanReporter::on_closed(const core::Event& e, LineState& t) {
    if (m_style.verbosity == Verbosity::verbose)
        flush_held(t);
    t.held.clear();
    t.folded.clear();
    t.last_error.reset();
    t.seen.clear();
    t.suppressed = 0;
    std::string what = e.error == core::ErrorClass::resolve
                           ? "cannot resolve " + target_at(e.target).host + ": " + e.message
                           : e.message;
    print(label(e) + " " + paint("closed", k_green) + " (" + what + ") on attempt " +
          std::to_string(e.attempt) + " after " + format_span(e.waited));
}

void HumanReporter::on_probe(const core::Event& e) {
    std::string head = label(e) + " seq=" + std::to_string(e.seq) + " ";
    if (e.ok) {
        // Ping measures latency: each probe's handshake time too (part of the check's).
        print(head + paint("connected", k_green) + " in " + format_latency(e.duration) +
              (e.tls_time ? ", handshake " + format_latency(*e.tls_time) : "") +
              (e.check ? ", check " + format_latency(*e.check) : "") + tls_words(e));
        return;
    }
    std::string what = e.error == core::ErrorClass::resolve
                           ? "cannot resolve " + target_at(e.target).host + ": " + e.message
                           : e.message;
    print(head + paint(what, k_red) + " (" + format_latency(e.duration) + ")");
}

void HumanReporter::on_gave_up(const core::Event& e, LineState& t) {
    flush_held(t);
    t.folded.clear();
    std::string line = target_at(e.target).text + " " + paint("gave up", k_red) + " after " +
                       plural(e.attempt, "attempt") +
                       " (last error: " + std::string(core::error_class_name(e.error)) + ")";
    if (m_style.verbosity == Verbosity::quiet)
        write_err("tcpretry: " + line);
    else
        print(line);
}

void HumanReporter::target_summary(std::size_t target, const core::WatchStats& st) {
    flush_pending();
    if (m_style.verbosity == Verbosity::quiet)
        return;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", st.uptime_percent());
    print(target_at(target).text + ": " +
          (st.connected ? paint("connected", k_green) : paint("disconnected", k_red)) + ", " +
          plural(st.connections, "connection") + ", " +
          plural(st.recycled, "recycled", "recycled") + ", " + plural(st.outages, "outage") +
          ", up " + pct + ", longest up " + format_span(st.longest_up) + ", longest down " +
          format_span(st.longest_down));
}

std::string sparkline(const std::vector<std::optional<core::Duration>>& history) {
    static const char* const k_bars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
    std::optional<core::Duration> lo, hi;
    for (const auto& d : history) {
        if (!d)
            continue;
        lo = lo ? std::min(*lo, *d) : *d;
        hi = hi ? std::max(*hi, *d) : *d;
    }
    std::string out;
    for (const auto& d : history) {
        if (!d) {
            out += "×";
            continue;
        }
        double span = static_cast<double>((*hi - *lo).count());
        double pos = span > 0 ? static_cast<double>((*d - *lo).count()) / span : 0;
        out += k_bars[static_cast<int>(pos * 7 + 0.5)];
    }
    return out;
}

namespace {

// "connect min/avg/max/mdev = 0.1/0.2/0.3/0.05 ms, p50/p90/p99 = ..." (ping's layout)
std::string latency_line(std::string_view what, const core::LatencySummary& l) {
    char buf[160];
    std::snprintf(buf, sizeof buf,
                  "%.*s min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms, p50/p90/p99 = %.3f/%.3f/%.3f ms",
                  static_cast<int>(what.size()), what.data(), core::to_ms(l.min),
                  core::to_ms(l.avg), core::to_ms(l.max), core::to_ms(l.mdev), core::to_ms(l.p50),
                  core::to_ms(l.p90), core::to_ms(l.p99));
    return buf;
}

} // namespace

void HumanReporter::probe_summary(std::size_t target, const core::ProbeStats& st, bool) {
    flush_pending();
    if (m_style.verbosity == Verbosity::quiet)
        return;
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.1f%%", st.loss_percent());
    if (m_style.fleet) { // one line a target
        std::string line = target_at(target).text + ": " + std::to_string(st.sent()) + " sent, " +
                           std::to_string(st.received()) + " answered, " + loss + " loss";
        if (auto l = st.latency())
            line += ", avg " + format_latency(l->avg) + ", max " + format_latency(l->max);
        print(line);
        return;
    }
    print("--- " + target_at(target).text + " tcpretry statistics ---");
    print(plural(st.sent(), "probe") + " sent, " + std::to_string(st.received()) + " answered, " +
          loss + " loss, longest failure streak " + std::to_string(st.longest_failure_streak()));
    if (auto l = st.latency())
        print(latency_line("connect", *l));
    if (auto l = st.tls_latency())
        print(latency_line("handshake", *l));
    if (auto l = st.ttfb_latency())
        print(latency_line("first byte", *l));
    if (m_style.sparkline && !st.history().empty())
        print(sparkline(st.history()));
}

// The fleet view's table: every target not connected at the end (at most 50).
void HumanReporter::fleet_table() {
    constexpr std::size_t k_rows = 50;
    std::size_t shown = 0, missing = 0;
    for (std::size_t i = 0; i < m_targets.size(); ++i) {
        const TargetRecord& r = m_board->at(i);
        if (r.state == TargetState::connected || r.removed)
            continue;
        ++missing;
        if (++shown > k_rows)
            continue;
        std::string why = r.state == TargetState::gave_up ? "gave up" : "not connected";
        // The class of the failure that left it so (an outage or a give-up names none).
        if (r.problem && (r.problem->event == core::EventType::failed ||
                          r.problem->event == core::EventType::probe))
            why += " (" + std::string(core::error_class_name(r.problem->error)) + ")";
        print("  " + m_targets[i].text + "  " + why + " after " + plural(r.round, "attempt"));
    }
    if (missing > k_rows)
        print("  ... and " + std::to_string(missing - k_rows) + " more");
}

void HumanReporter::summary(const Summary& s) {
    flush_pending();
    if (m_style.fleet) {
        clear_status();
        fleet_table();
    }
    std::string counts;
    if (s.probes) {
        char loss[32];
        std::snprintf(loss, sizeof loss, "%.1f%%", s.probes->loss_percent());
        counts = plural(static_cast<unsigned>(s.targets), "target") + ", " +
                 plural(s.probes->sent(), "probe") + " sent, " +
                 std::to_string(s.probes->received()) + " answered, " + loss + " loss";
    } else {
        counts = std::to_string(s.connected) + " of " +
                 plural(static_cast<unsigned>(s.targets), "target") +
                 (m_style.invert ? " closed, " : " connected, ") + plural(s.attempts, "attempt") +
                 ", " + std::to_string(s.failures) + " failed";
    }
    std::string line = paint("tcpretry:", k_bold) + " " + result_words(s.result) + ", " + counts +
                       ", " + format_span(s.elapsed);
    // A run that did not succeed names what was not up first; the summary stays the last line.
    if (m_style.verbosity == Verbosity::quiet) {
        if (s.result != Result::ok) {
            list_not_up(s.probes.has_value());
            write_err(line);
        }
        return;
    }
    if (s.result != Result::ok && !m_style.fleet) // the fleet view has its own table
        list_not_up(s.probes.has_value());
    print(line);
}

// Why a target is not up, in the words of the list below.
std::string HumanReporter::not_up_reason(std::size_t target) const {
    const std::optional<Problem>& p = m_board->at(target).problem;
    if (!p)
        return "no attempt finished";
    std::string error(core::error_class_name(p->error));
    switch (p->event) {
    case core::EventType::failed:
        if (p->error == core::ErrorClass::resolve)
            return error + ": cannot resolve " + target_at(target).host + ": " + p->message;
        return error + ": " + p->message;
    case core::EventType::disconnected:
        return "disconnected: " + disconnect_words(p->reason, p->message, p->code);
    case core::EventType::gave_up:
        return "gave up (" + error + ")";
    default: // a probe
        return error + ": " + p->message;
    }
}

// After a run that did not succeed: which targets were not up, and why (at most 10).
void HumanReporter::list_not_up(bool ping) {
    constexpr std::size_t k_rows = 10;
    bool quiet = m_style.verbosity == Verbosity::quiet;
    std::string state = ping             ? " never answered: "
                        : m_style.invert ? " still open: "
                                         : " not connected: ";
    std::size_t shown = 0, missing = 0;
    for (std::size_t i = 0; i < m_targets.size(); ++i) {
        if (m_board->at(i).up || m_board->at(i).removed)
            continue;
        if (++missing > k_rows)
            continue;
        ++shown;
        std::string line = m_targets[i].text + state + not_up_reason(i);
        quiet ? write_err("tcpretry: " + line) : print(paint(line, k_red));
    }
    if (missing > shown) {
        std::string line = "and " + std::to_string(missing - shown) + " more" +
                           (ping             ? " never answered"
                            : m_style.invert ? " still open"
                                             : " not connected");
        quiet ? write_err("tcpretry: " + line) : print(line);
    }
}

std::string HumanReporter::result_words(Result r) const {
    switch (r) {
    case Result::ok:
        return paint("ok", k_green);
    case Result::gave_up:
        return paint("gave up", k_red);
    case Result::timeout:
        return paint("timed out", k_red);
    case Result::interrupted:
        return paint("interrupted", k_yellow);
    case Result::disconnected:
        return paint("disconnected", k_red);
    case Result::failed:
        return paint("failed", k_red);
    }
    return "";
}

} // namespace tcpretry::app
