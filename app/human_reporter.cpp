#include "app/human_reporter.hpp"

#include "core/escape.hpp"
#include "core/expect.hpp"

#include <cstdio>

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
    }
    return "failing";
}

std::string disconnect_words(const core::Event& e) {
    switch (e.reason) {
    case core::DisconnectReason::closed:
        return "closed by peer";
    case core::DisconnectReason::reset:
        return "reset by peer";
    case core::DisconnectReason::timeout:
        return "timed out (peer or path dead)";
    case core::DisconnectReason::error:
        break;
    }
    return e.code ? core::errno_message(e.code.value) : "error";
}

std::string plural(unsigned n, std::string_view word) {
    return std::to_string(n) + " " + std::string(word) + (n == 1 ? "" : "s");
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
                             HumanStyle style, Now now)
    : m_out(out), m_err(err), m_targets(std::move(targets)), m_style(style),
      m_now(std::move(now)), m_state(m_targets.size()), m_started(m_now()) {
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
    const core::Target& t = m_targets.at(e.target);
    std::string s = t.text;
    // "db:5432 [10.0.0.5]"; a literal address is not repeated.
    if (e.address && e.address->address != t.host)
        s += " [" + e.address->address + "]";
    return s;
}

void HumanReporter::print(std::string line) {
    if (m_style.verbosity == Verbosity::quiet)
        return;
    clear_status();
    m_out.write_line(line);
}

void HumanReporter::flush_pending() {
    if (m_pending) {
        print(std::move(*m_pending));
        m_pending.reset();
    }
}

std::string HumanReporter::still_line(const core::Event& e, const TargetState& t) const {
    return m_targets.at(e.target).text + " still " + std::string(still_words(*t.last_error)) +
           " after " + plural(t.last_attempt, "attempt") + ", " +
           format_span(m_now() - t.first_round);
}

void HumanReporter::on_failed(const core::Event& e, TargetState& t) {
    bool verbose = m_style.verbosity == Verbosity::verbose;
    std::string key = (e.address ? e.address->address : std::string()) + "|" +
                      std::string(core::error_class_name(e.error)) + "|" + e.message;
    bool changed = t.last_error && *t.last_error != e.error;
    if (changed && t.suppressed > 0) {
        print(still_line(e, t)); // counts the attempts up to the previous one
        t.suppressed = 0;
    }
    if (changed)
        t.seen.clear();
    t.last_error = e.error;
    t.last_attempt = e.attempt;

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
        what = "cannot resolve " + m_targets.at(e.target).host + ": " + e.message;
    else if (!e.received.empty())
        what += ", received \"" + core::escape_bytes(e.received, core::k_received_shown) + "\"";
    m_pending = label(e) + " attempt " + std::to_string(e.attempt) + ": " + paint(what, k_red) +
                " (" + format_latency(e.duration) + ")";
    m_pending_target = e.target;
    m_pending_then = "retrying in ";
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
    std::size_t n = m_targets.size();
    std::string line = "\r\033[K" + paint(std::to_string(m_connected) + " connected", k_green) +
                       " · " + std::to_string(n - m_connected - m_gave_up) + " waiting · " +
                       paint(std::to_string(m_gave_up) + " failed", k_red) + " · " +
                       format_span(now - m_started);
    m_out.write_raw(line);
    m_status_drawn = now;
}

// The fleet view's share of an event; false when the event needs the normal lines too.
bool HumanReporter::on_fleet_event(const core::Event& e, TargetState& t) {
    switch (e.type) {
    case core::EventType::attempt:
        t.attempts = e.attempt;
        break;
    case core::EventType::failed:
        t.last_error = e.error;
        break;
    case core::EventType::connected:
        if (!t.connected)
            ++m_connected;
        t.connected = true;
        break;
    case core::EventType::disconnected:
        if (t.connected)
            --m_connected;
        t.connected = false;
        break;
    case core::EventType::gave_up:
        if (!t.gave_up)
            ++m_gave_up;
        t.gave_up = true;
        t.gave_up_reason = e.error;
        break;
    case core::EventType::probe:
        // The latest probe decides: answering targets count as connected, the others failed.
        t.attempts = e.seq;
        if (!e.ok)
            t.last_error = e.error;
        if (e.ok != t.connected) {
            t.connected = e.ok;
            e.ok ? ++m_connected : --m_connected;
        }
        if (e.ok == t.gave_up) {
            t.gave_up = !e.ok;
            e.ok ? --m_gave_up : ++m_gave_up;
        }
        break;
    case core::EventType::retry:
    case core::EventType::warning:
        return false;
    }
    if (m_style.live) {
        draw_status(false);
        return true;
    }
    // Not a terminal: one line per target outcome.
    return !(e.type == core::EventType::connected || e.type == core::EventType::gave_up ||
             e.type == core::EventType::disconnected);
}

void HumanReporter::on_event(const core::Event& e) {
    TargetState& t = m_state.at(e.target);
    if (m_style.fleet && e.type != core::EventType::warning && on_fleet_event(e, t))
        return;
    if (e.type == core::EventType::retry && m_pending && m_pending_target == e.target) {
        print(*m_pending + "; " + paint(m_pending_then + format_delay(e.delay), k_yellow));
        m_pending.reset();
        return;
    }
    flush_pending();
    if (!t.started) {
        t.started = true;
        t.first_round = m_now();
    }
    switch (e.type) {
    case core::EventType::attempt:
        if (m_style.verbosity == Verbosity::verbose)
            print(label(e) + " attempt " + std::to_string(e.attempt) + ": connecting");
        break;
    case core::EventType::failed:
        on_failed(e, t);
        break;
    case core::EventType::retry:
        if (m_style.verbosity == Verbosity::verbose)
            print(m_targets.at(e.target).text + " retrying in " + format_delay(e.delay) +
                  " (attempt " + std::to_string(e.attempt) + ")");
        break;
    case core::EventType::connected: {
        std::string check = e.check ? ", check " + format_latency(*e.check) : "";
        if (m_style.watch)
            print(label(e) + " " + paint("connected", k_green) + " (connection " +
                  std::to_string(e.connection) + ") in " + format_latency(e.duration) + check);
        else
            print(label(e) + " " + paint("connected", k_green) + " on attempt " +
                  std::to_string(e.attempt) + " in " + format_latency(e.duration) + check +
                  " after " + format_span(e.waited));
        t.last_error.reset();
        t.seen.clear();
        t.suppressed = 0;
        break;
    }
    case core::EventType::disconnected:
        m_pending = label(e) + " " + paint("disconnected", k_red) + ": " + disconnect_words(e) +
                    " after " + format_span(e.uptime);
        m_pending_target = e.target;
        m_pending_then = "reconnecting in ";
        break;
    case core::EventType::warning:
        m_err.write_line("tcpretry: warning: " + e.message);
        break;
    case core::EventType::probe:
        if (e.ok)
            print(label(e) + " seq=" + std::to_string(e.seq) + " " + paint("connected", k_green) +
                  " in " + format_latency(e.duration) +
                  (e.check ? ", check " + format_latency(*e.check) : ""));
        else
            print(label(e) + " seq=" + std::to_string(e.seq) + " " +
                  paint(e.error == core::ErrorClass::resolve
                            ? "cannot resolve " + m_targets.at(e.target).host + ": " + e.message
                            : e.message,
                        k_red) +
                  " (" + format_latency(e.duration) + ")");
        break;
    case core::EventType::gave_up: {
        std::string line = m_targets.at(e.target).text + " " + paint("gave up", k_red) + " after " +
                           plural(e.attempt, "attempt") + " (last error: " +
                           std::string(core::error_class_name(e.error)) + ")";
        if (m_style.verbosity == Verbosity::quiet)
            m_err.write_line("tcpretry: " + line);
        else
            print(line);
        break;
    }
    }
}

void HumanReporter::target_summary(std::size_t target, const core::WatchStats& st) {
    flush_pending();
    if (m_style.verbosity == Verbosity::quiet)
        return;
    double elapsed = core::to_ms(st.elapsed);
    double percent = elapsed > 0 ? core::to_ms(st.up) / elapsed * 100 : 0;
    char pct[32];
    std::snprintf(pct, sizeof pct, "%.1f%%", percent);
    print(m_targets.at(target).text + ": " +
          (st.connected ? paint("connected", k_green) : paint("disconnected", k_red)) + ", " +
          plural(st.connections, "connection") + ", " + plural(st.disconnects, "disconnect") +
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

void HumanReporter::probe_summary(std::size_t target, const core::ProbeStats& st, bool) {
    flush_pending();
    if (m_style.verbosity == Verbosity::quiet)
        return;
    char loss[32];
    std::snprintf(loss, sizeof loss, "%.1f%%", st.loss_percent());
    if (m_style.fleet) { // one line a target
        std::string line = m_targets.at(target).text + ": " + std::to_string(st.sent()) +
                           " sent, " + std::to_string(st.received()) + " answered, " + loss +
                           " loss";
        if (auto l = st.latency())
            line += ", avg " + format_latency(l->avg) + ", max " + format_latency(l->max);
        print(line);
        return;
    }
    print("--- " + m_targets.at(target).text + " tcpretry statistics ---");
    print(plural(st.sent(), "probe") + " sent, " + std::to_string(st.received()) + " answered, " +
          loss + " loss, longest failure streak " + std::to_string(st.longest_failure_streak()));
    if (auto l = st.latency()) {
        char buf[160];
        std::snprintf(buf, sizeof buf,
                      "connect min/avg/max/mdev = %.3f/%.3f/%.3f/%.3f ms, p50/p90/p99 = "
                      "%.3f/%.3f/%.3f ms",
                      core::to_ms(l->min), core::to_ms(l->avg), core::to_ms(l->max),
                      core::to_ms(l->mdev), core::to_ms(l->p50), core::to_ms(l->p90),
                      core::to_ms(l->p99));
        print(buf);
    }
    if (m_style.sparkline && !st.history().empty())
        print(sparkline(st.history()));
}

void HumanReporter::summary(const Summary& s) {
    flush_pending();
    if (m_style.fleet) {
        clear_status();
        constexpr std::size_t k_rows = 50;
        std::size_t shown = 0, missing = 0;
        for (std::size_t i = 0; i < m_targets.size(); ++i) {
            const TargetState& t = m_state[i];
            if (t.connected)
                continue;
            ++missing;
            if (++shown > k_rows)
                continue;
            std::string why = t.gave_up ? "gave up" : "not connected";
            if (t.last_error)
                why += " (" + std::string(core::error_class_name(*t.last_error)) + ")";
            print("  " + m_targets[i].text + "  " + why + " after " + plural(t.attempts, "attempt"));
        }
        if (missing > k_rows)
            print("  ... and " + std::to_string(missing - k_rows) + " more");
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
                 plural(static_cast<unsigned>(s.targets), "target") + " connected, " +
                 plural(s.attempts, "attempt") + ", " + std::to_string(s.failures) + " failed";
    }
    std::string line = paint("tcpretry:", k_bold) + " " + result_words(s.result) + ", " + counts +
                       ", " + format_span(s.elapsed);
    if (m_style.verbosity == Verbosity::quiet) {
        if (s.result != Result::ok)
            m_err.write_line(line);
        return;
    }
    print(line);
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
