#include "app/options.hpp"

#include "app/env.hpp"
#include "app/options_internal.hpp"
#include "app/serve_query.hpp"
#include "app/version.hpp"

#include "core/defaults.hpp"
#include "core/duration.hpp"
#include "core/escape.hpp"
#include "core/expect.hpp"
#include "core/http.hpp"
#include "core/starttls.hpp"
#include "core/tls.hpp"
#include "core/url.hpp"

#include <CLI/CLI.hpp>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <unistd.h>
#include <unordered_map>

namespace tcpretry::app::options_internal {

using core::Duration;
using core::quote;

const char* const k_duration_hint = "a duration such as 250ms, 1.5s, 1m30s or seconds";

// The one shape of an invalid-value message: "--multiplier: invalid value '2000' (1 to 1000)".
UsageError invalid(const Flag& f, std::string_view hint) {
    return UsageError{f.name() + ": invalid value " + quote(f.text) + " (" + std::string(hint) +
                      ")"};
}

// A DUR flag that was given; `positive` rejects 0.
std::optional<UsageError> read_duration(const Flag& f, Duration& out, bool positive) {
    auto d = core::parse_duration(f.text);
    if (!d)
        return invalid(f, k_duration_hint);
    if (positive && *d <= Duration::zero())
        return invalid(f, "more than 0");
    out = *d;
    return std::nullopt;
}

// Defaults shown in --help come from the constants the code uses, so they cannot drift.
std::string dur(Duration d) {
    return core::format_duration_arg(d);
}

// A listening address (--metrics-listen, --serve): ADDR:PORT, or :PORT for all addresses.
// `any_port_ok`: ADDR:0 lets the kernel pick (--serve says which on stderr; --metrics-listen
// does not, so there port 0 is refused).
std::optional<UsageError> read_listen(const Flag& f, std::optional<core::SockAddr>& out,
                                      unsigned example_port, bool any_port_ok) {
    std::string p = std::to_string(example_port);
    std::string hint =
        "ADDR:PORT such as 127.0.0.1:" + p + " or [::1]:" + p + ", or :PORT for all addresses";
    if (f.text.size() > 1 && f.text[0] == ':') {
        // All addresses: [::], which takes IPv4 too (dual stack).
        auto port = parse_count(std::string_view(f.text).substr(1));
        if (!port || *port == 0 || *port > 65535)
            return invalid(f, hint);
        out = core::parse_numeric_address("::", static_cast<uint16_t>(*port));
        return std::nullopt;
    }
    bool any_port =
        any_port_ok && f.text.size() > 2 && f.text.compare(f.text.size() - 2, 2, ":0") == 0;
    auto parsed = core::parse_target(any_port ? f.text.substr(0, f.text.size() - 1) + "1" : f.text);
    auto* t = std::get_if<core::Target>(&parsed);
    if (!t || !t->numeric || f.text.find("://") != std::string::npos)
        return invalid(f, hint);
    out = t->numeric;
    if (any_port)
        out->set_port(0);
    return std::nullopt;
}

// Adds an option that takes a value to the parser and to the table.
void option(CLI::App& app, Raw& r, Flag& f, const std::string& names, const std::string& help,
            const char* type, const char* group) {
    f.opt = app.add_option(names, f.text, help)->type_name(type)->group(group);
    r.flags.push_back(&f);
}

// Adds a switch to the parser and to the table.
void flag(CLI::App& app, Raw& r, Switch& s, const std::string& names, const std::string& help,
          const char* group) {
    s.opt = app.add_flag(names, s.on, help)->group(group);
    r.switches.push_back(&s);
}

// A flag the chosen mode would ignore is a mistake worth hearing about.
std::optional<UsageError> unused(const Flag& f, const char* mode) {
    if (f.given())
        return UsageError{f.name() + " has no effect " + mode};
    return std::nullopt;
}

} // namespace tcpretry::app::options_internal

namespace tcpretry::app {

using namespace options_internal;

namespace {

using core::Duration;
using core::quote;

const char* const k_description =
    "Connect to TCP endpoints, retrying with capped exponential backoff until they accept, and\n"
    "report every attempt, failure, retry and connection. With -- COMMAND, run COMMAND once\n"
    "the targets are up (its exit status becomes tcpretry's). --watch stays connected and\n"
    "reconnects; --count probes repeatedly with latency statistics.";

const char* const k_footer =
    "TARGET is HOST:PORT, IPV4:PORT, [IPV6]:PORT or [IPV6%ZONE]:PORT, each also as\n"
    "tcp://TARGET; PORT is 1-65535 or a service name. DUR is 250ms, 1.5s, 2m, 1h, 1m30s or a\n"
    "number of seconds; --timeout 0 means no deadline. REGEX is POSIX extended (no \\d: use\n"
    "[0-9]); its ^ and $ match at LF and CRLF line ends. With --json the output is JSON lines,\n"
    "one per event: -q and -v have no effect.\n";

// Words wrapped into lines of at most `width` columns (a word longer than that stands alone).
std::string wrap(std::string_view text, std::size_t width) {
    std::string out, line;
    std::istringstream words{std::string(text)};
    for (std::string word; words >> word;) {
        if (!line.empty() && line.size() + 1 + word.size() > width) {
            out += line + "\n";
            line.clear();
        }
        line += (line.empty() ? "" : " ") + word;
    }
    return out + line;
}

const char* const k_env_help =
    "Environment: every option but --help and --version can also come from TCPRETRY_ and its "
    "long name in capitals, '_' for '-' (-4, -6: TCPRETRY_IPV4, TCPRETRY_IPV6), as in "
    "TCPRETRY_CONNECT_TIMEOUT=5s; the command line wins. Switches take 1, true, yes, 0, false or "
    "no (TCPRETRY_TIMESTAMPS=0 is --no-timestamps). An empty variable is unset. "
    "TCPRETRY_TARGETS adds TARGETs (separated by spaces, commas or newlines) after the others. "
    "The variables:";

// The footer's exit statuses come from the outcome table (app/outcome.cpp) and its variables
// from the option table, never by hand.
std::string footer(const std::vector<std::string>& variables) {
    constexpr std::size_t k_width = 87; // about as wide as the lines above
    std::string env = k_env_help;
    for (const std::string& v : variables)
        env += " " + v;
    return k_footer + wrap(env, k_width) + "\n" +
           wrap(exit_status_help() + " See tcpretry(1) and docs/json-events.md.", k_width);
}

std::optional<double> parse_number(std::string_view text) {
    double v = 0;
    if (text.empty() || text[0] == '+' || text[0] == ' ')
        return std::nullopt;
    auto [end, ec] =
        std::from_chars(text.data(), text.data() + text.size(), v, std::chars_format::fixed);
    if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v))
        return std::nullopt;
    return v;
}

// Moves a SockAddr's text form into evdns's "ADDR:PORT" / "[ADDR]:PORT".
std::string nameserver_text(const core::SockAddr& a) {
    if (a.family() == core::Family::ipv6)
        return "[" + a.host() + "]:" + std::to_string(a.port());
    return a.host() + ":" + std::to_string(a.port());
}

// CLI11 cannot describe TARGET... [-- COMMAND [ARG]...]: say it ourselves.
class UsageFormatter : public CLI::Formatter {
  public:
    std::string make_usage(const CLI::App*, std::string) const override {
        return "Usage: tcpretry [OPTIONS] TARGET... [-- COMMAND [ARG]...]\n";
    }
};

std::string number(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
}

void add_retry_flags(CLI::App& app, Raw& r) {
    const char* g = "Retry";
    option(app, r, r.timeout, "-t,--timeout", "Overall deadline (exit 124; 0: none)", "DUR", g);
    r.timeout.opt->default_str("none");
    option(app, r, r.attempts, "-n,--attempts", "Give up on a target after N rounds (0: never)",
           "N", g);
    r.attempts.opt->default_str("0");
    flag(app, r, r.once, "--once", "Same as --attempts 1", g);
    option(app, r, r.connect_timeout, "-T,--connect-timeout",
           "Deadline of one round (resolve + connect)", "DUR", g);
    r.connect_timeout.opt->default_str(dur(core::k_connect_timeout));
    option(app, r, r.initial, "--initial-delay",
           "First retry delay (watch: " + dur(core::k_watch_initial_delay) + ")", "DUR", g);
    r.initial.opt->default_str(dur(core::k_initial_delay));
    option(app, r, r.max, "--max-delay",
           "Retry delay cap (watch: " + dur(core::k_watch_max_delay) + ")", "DUR", g);
    r.max.opt->default_str(dur(core::k_max_delay));
    option(app, r, r.multiplier, "--multiplier", "Delay growth per failed round (1 to 1000)", "X",
           g);
    r.multiplier.opt->default_str(number(core::k_multiplier));
    option(app, r, r.jitter, "--jitter", "Randomise each delay by +/- this fraction (0-1)",
           "FRACTION", g);
    r.jitter.opt->default_str(number(core::k_jitter));
    option(app, r, r.seed, "--seed", "Seed for the jitter (reproducible delays)", "N", g);
    r.seed.opt->default_str("random");
    flag(app, r, r.all, "--all", "Succeed when all targets connected (default)", g);
    flag(app, r, r.any, "--any", "Succeed when any target connected; stop the others", g);
    option(app, r, r.quorum, "--quorum", "Succeed when N targets connected", "N", g);
    flag(app, r, r.invert, "--invert",
         "Wait until the targets refuse or do not answer (a connect is the failure); "
         "--all/--any/--quorum count them",
         g);
    option(app, r, r.parallel, "--parallel", "Rounds in flight at once, over all targets", "N", g);
    r.parallel.opt->default_str(std::to_string(core::k_parallel));
    option(app, r, r.targets_file, "--targets-file",
           "Read TARGETs from FILE, one a line ('-': stdin; '#' comments)", "FILE", g);
}

void add_check_flags(CLI::App& app, Raw& r) {
    const char* g = "Watch and check";
    flag(app, r, r.watch, "-w,--watch",
         "Stay connected; report drops and reconnect (until SIGINT/SIGTERM/--timeout)", g);
    option(app, r, r.stable_after, "--stable-after",
           "Watch: a connection up this long resets the retry delay", "DUR", g);
    r.stable_after.opt->default_str(dur(core::k_stable_after));
    option(app, r, r.keepalive, "--keepalive",
           "Watch: declare a silent dead peer after DUR (0: off, >= 2s)", "DUR", g);
    r.keepalive.opt->default_str(dur(core::k_keepalive));
    option(app, r, r.recheck, "--recheck",
           "Watch: also make a fresh connect (and check) every DUR; a failed one "
           "starts an outage even while the held connection lives",
           "DUR", g);
    r.recheck.opt->default_str("off");
    option(app, r, r.send, "--send",
           "Send STRING after connecting (escapes \\r \\n \\t \\0 \\xHH \\\\); repeat "
           "--send and --expect for a dialogue, run in command-line order",
           "STRING", g);
    option(app, r, r.expect, "--expect",
           "Ready only when the reply matches REGEX (POSIX extended); for an HTTP "
           "TARGET, the response body",
           "REGEX", g);
    r.send.opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    r.expect.opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    option(app, r, r.expect_timeout, "--expect-timeout", "How long to wait for the reply", "DUR",
           g);
    r.expect_timeout.opt->default_str("connect timeout");
}

void add_ping_flags(CLI::App& app, Raw& r) {
    const char* g = "Ping";
    option(app, r, r.count, "-c,--count",
           "Ping mode: N probes per target, each a fresh connect (0: until stopped)", "N", g);
    option(app, r, r.interval, "-i,--interval", "Ping mode: time between probes", "DUR", g);
    r.interval.opt->default_str(dur(core::k_probe_interval));
}

void add_network_flags(CLI::App& app, Raw& r) {
    const char* g = "Network";
    flag(app, r, r.only4, "-4", "IPv4 only", g);
    flag(app, r, r.only6, "-6", "IPv6 only", g);
    option(app, r, r.source, "--source", "Bind this local address", "ADDR", g);
    option(app, r, r.resolver, "--resolver", "Ask this DNS server instead of /etc/resolv.conf",
           "ADDR[:PORT]", g);
}

void add_output_flags(CLI::App& app, Raw& r) {
    const char* g = "Output";
    flag(app, r, r.json, "-j,--json", "JSON Lines, one event per line (same as --format json)", g);
    option(app, r, r.format, "--format",
           "human, json (JSON Lines) or prometheus (metrics at the end)", "FORMAT", g);
    r.format.opt->default_str("human");
    option(app, r, r.metrics, "--metrics-listen",
           "Serve live Prometheus metrics at http://ADDR:PORT/metrics (:PORT: all addresses)",
           "ADDR:PORT", g);
    flag(app, r, r.quiet, "-q,--quiet", "Print nothing but errors (no effect with --json)", g);
    flag(app, r, r.verbose, "-v,--verbose", "Print every event (no summarising of repeats)", g);
    flag(app, r, r.timestamps, "--timestamps",
         "Start each human line with the local time (default in watch mode when stdout "
         "is not a terminal)",
         g);
    flag(app, r, r.no_timestamps, "--no-timestamps", "Do not start human lines with the time", g);
    option(app, r, r.color, "--color", "Colour human output: auto|always|never", "WHEN", g);
    r.color.opt->default_str("auto");
}

// Options that exclude each other. One given on the command line also sets aside the
// environment's value of the others: with TCPRETRY_QUIET=1, -v is verbose, not an error.
const std::vector<std::vector<std::string_view>> k_exclusive = {
    {"--quiet", "--verbose"}, {"--timestamps", "--no-timestamps"}, {"--json", "--format"},
    {"--once", "--attempts"}, {"--all", "--any", "--quorum"},      {"-4", "-6"},
    {"--watch", "--count"}};

// Whether the command line has its say on `opt`: given there, or one it excludes is.
bool on_command_line(const CLI::App& app, const CLI::Option* opt) {
    if (opt->count() > 0)
        return true;
    for (const auto& group : k_exclusive) {
        if (std::find(group.begin(), group.end(), opt->get_name()) == group.end())
            continue;
        for (std::string_view other : group)
            if (app.get_option(std::string(other))->count() > 0)
                return true;
    }
    return false;
}

// The variable of an option of the table, or nothing for --help and --version.
std::optional<std::string> variable(const Raw& r, const CLI::Option* opt) {
    auto same = [opt](const auto* f) { return f->opt == opt; };
    if (std::none_of(r.flags.begin(), r.flags.end(), same) &&
        std::none_of(r.switches.begin(), r.switches.end(), same))
        return std::nullopt;
    return env_name(opt->get_name());
}

// Every variable, in the order of --help, then TCPRETRY_TARGETS.
std::vector<std::string> variables(const CLI::App& app, const Raw& r) {
    std::vector<std::string> names;
    for (const CLI::Option* opt : app.get_options())
        if (auto name = variable(r, opt))
            names.push_back(*name);
    names.emplace_back(k_env_targets);
    return names;
}

// The TCPRETRY_ variables the command line leaves a say to, into `r` (an empty one is unset),
// and TCPRETRY_TARGETS. A switch's false value leaves it off, as the default is, except that it
// turns on a --no- twin (TCPRETRY_TIMESTAMPS=0 is --no-timestamps).
std::optional<UsageError> apply_environment(const CLI::App& app, Raw& r, const Environment& env) {
    auto value_of = [&](const CLI::Option* opt) -> const Environment::value_type* {
        auto it = env.find(env_name(opt->get_name()));
        if (it == env.end() || it->second.empty() || on_command_line(app, opt))
            return nullptr;
        return &*it;
    };
    for (Flag* f : r.flags)
        if (const auto* v = value_of(f->opt)) {
            f->text = v->second;
            f->env = v->first;
        }
    for (Switch* s : r.switches) {
        const auto* v = value_of(s->opt);
        if (!v)
            continue;
        auto on = parse_switch(v->second);
        if (!on)
            return UsageError{v->first + ": invalid value " + quote(v->second) +
                              " (a switch: 1, true, yes, 0, false or no)"};
        Switch* set = s;
        if (!*on) {
            auto twin = std::find_if(r.switches.begin(), r.switches.end(), [s](const Switch* t) {
                return t->opt->get_name() == "--no-" + s->opt->get_name().substr(2);
            });
            if (twin == r.switches.end())
                continue;
            set = *twin;
        }
        set->on = true;
        set->env = v->first;
    }
    if (auto it = env.find(k_env_targets); it != env.end())
        r.env_words = split_targets(it->second);
    return std::nullopt;
}

// wait-for-it's "-h HOST -p PORT" habit: help and exit 0 would let an entrypoint
// "tcpretry -h db -p 5432 -- migrate" look like success without running migrate. So -h/--help
// beside a word that is no option (or a COMMAND) is a usage error.
std::optional<UsageError> help_beside_words(const std::vector<std::string>& rest, bool command) {
    std::string host, port;
    bool word = command;
    for (std::size_t i = 0; i < rest.size(); ++i) {
        const std::string& a = rest[i];
        if ((a == "-p" || a == "--port") && i + 1 < rest.size()) {
            port = rest[++i];
            word = true;
        } else if (a.size() < 2 || a[0] != '-') {
            word = true;
            if (host.empty())
                host = a;
        }
    }
    if (!word)
        return std::nullopt;
    std::string message = "tcpretry takes HOST:PORT; -h is --help";
    std::string target =
        host.find(':') == std::string::npos && !port.empty() ? host + ":" + port : host;
    if (!target.empty() && std::holds_alternative<core::Target>(core::parse_target(target)))
        message += " (did you mean 'tcpretry " + target + "'?)";
    return UsageError{message};
}

// "--once=3": CLI11 would read the 3 as "true".
std::optional<UsageError> switch_with_value(const CLI::App& app,
                                            const std::vector<std::string>& args) {
    for (const std::string& a : args) {
        auto eq = a.find('=');
        if (a.rfind("--", 0) != 0 || eq == std::string::npos)
            continue;
        const CLI::Option* opt = app.get_option_no_throw(a.substr(0, eq));
        if (opt && opt->get_items_expected_max() == 0)
            return UsageError{a.substr(0, eq) + ": invalid value " + quote(a.substr(eq + 1)) +
                              " (a switch takes no value)"};
    }
    return std::nullopt;
}

// CLI11's own errors, in the shape of ours: "--timeout: missing value (DUR)".
UsageError from_cli11(const CLI::ParseError& e) {
    std::string m = e.what();
    if (auto nl = m.find('\n'); nl != std::string::npos)
        m.resize(nl);
    auto colon = m.find(": ");
    std::string flag = colon == std::string::npos ? "" : m.substr(0, colon);
    if (!flag.empty() && flag[0] == '-') {
        if (m.find(" missing") != std::string::npos) {
            auto type = m.find(" required ");
            std::string what = type == std::string::npos ? "" : m.substr(type + 10);
            what = what.substr(0, what.find(" missing"));
            return UsageError{flag + ": missing value" + (what.empty() ? "" : " (" + what + ")")};
        }
        if (m.find("At Most") != std::string::npos)
            return UsageError{flag + ": given more than once"};
    }
    return UsageError{m + " (see --help)"};
}

std::optional<UsageError> check_output(const Raw& r, Options& o) {
    if (r.quiet.on && r.verbose.on)
        return excluding(r.quiet, r.verbose);
    if (r.timestamps.on && r.no_timestamps.on)
        return excluding(r.timestamps, r.no_timestamps);
    o.format = r.json.on ? Format::json : Format::human;
    if (r.format.given()) {
        if (r.format.text == "human")
            o.format = Format::human;
        else if (r.format.text == "json")
            o.format = Format::json;
        else if (r.format.text == "prometheus")
            o.format = Format::prometheus;
        else
            return invalid(r.format, "human, json or prometheus");
        if (r.json.on && o.format != Format::json)
            return UsageError{r.json.name() + " and " + r.format.name() + " " +
                              quote(r.format.text) + " contradict each other"};
    }
    if (r.metrics.given())
        if (auto e = read_listen(r.metrics, o.metrics_listen, 9464, false))
            return e;
    // JSON lines are the whole output: every event is a line, -q and -v change nothing.
    o.verbosity = o.format == Format::json ? Verbosity::normal
                  : r.quiet.on             ? Verbosity::quiet
                  : r.verbose.on           ? Verbosity::verbose
                                           : Verbosity::normal;
    if (r.timestamps.on && o.format != Format::human)
        return UsageError{r.timestamps.name() + " has no effect with --format " +
                          std::string(o.format == Format::json ? "json" : "prometheus") +
                          " (it is for human output)"};
    if (r.timestamps.on || r.no_timestamps.on)
        o.timestamps = r.timestamps.on;
    if (!r.color.given() || r.color.text == "auto")
        o.color = ColorMode::automatic;
    else if (r.color.text == "always")
        o.color = ColorMode::always;
    else if (r.color.text == "never")
        o.color = ColorMode::never;
    else
        return invalid(r.color, "auto, always or never");
    return std::nullopt;
}

// --watch, --count and the flags only one of them takes.
std::optional<UsageError> check_mode(const Raw& r, Options& o) {
    if (r.count.given()) {
        auto n = parse_count(r.count.text);
        if (!n)
            return invalid(r.count, "a whole number >= 0");
        o.mode = Mode::ping;
        o.count = *n;
        if (r.watch.on)
            return UsageError{r.count.name() + " (ping mode) and " + r.watch.name() +
                              " exclude each other"};
        if (!o.command.empty())
            return UsageError{"-- COMMAND cannot be used with " + r.count.name() + " (ping mode)"};
    }
    if (r.interval.given()) {
        if (o.mode != Mode::ping)
            return UsageError{r.interval.name() + " needs --count (ping mode)"};
        if (auto e = read_duration(r.interval, o.interval))
            return e;
        if (o.interval < std::chrono::milliseconds(1))
            return invalid(r.interval, "at least 1ms");
    }
    if (r.invert.on && (r.watch.on || o.mode == Mode::ping))
        return UsageError{r.invert.name() +
                          " waits for the targets to close: it cannot be used with " +
                          (r.watch.on ? r.watch.name() : r.count.name())};
    o.invert = r.invert.on;
    if (!r.watch.on) {
        for (const Flag* f : {&r.stable_after, &r.keepalive, &r.recheck})
            if (auto e = unused(*f, "without --watch"))
                return e;
    }
    if (o.mode == Mode::ping) {
        for (const Flag* f : {&r.attempts, &r.initial, &r.max, &r.multiplier, &r.jitter, &r.quorum})
            if (auto e = unused(*f, "with --count (probes are not retried)"))
                return e;
        if (r.once.on || r.any.on)
            return UsageError{(r.once.on ? r.once : r.any).name() +
                              " has no effect with --count (probes are not retried)"};
    }
    if (r.watch.on) {
        o.mode = Mode::watch;
        o.backoff.initial = core::k_watch_initial_delay;
        o.backoff.max = core::k_watch_max_delay;
        if (!o.command.empty())
            return UsageError{"-- COMMAND cannot be used with " + r.watch.name() +
                              " (a watch does not end in success)"};
    }
    if (r.stable_after.given()) {
        if (auto e = read_duration(r.stable_after, o.stable_after))
            return e;
    }
    if (r.keepalive.given()) {
        if (auto e = read_duration(r.keepalive, o.keepalive))
            return e;
        if (o.keepalive != Duration::zero() && o.keepalive < core::k_min_keepalive)
            return invalid(r.keepalive, "0 to turn it off, or at least 2s");
    }
    if (r.recheck.given()) {
        Duration d;
        if (auto e = read_duration(r.recheck, d, true))
            return e;
        o.recheck = d;
    }
    return std::nullopt;
}

// Deadlines, attempts and the backoff.
std::optional<UsageError> check_retry(const Raw& r, Options& o) {
    if (r.all.on + r.any.on + r.quorum.given() > 1)
        return UsageError{r.all.name() + ", " + r.any.name() + " and " + r.quorum.name() +
                          " exclude each other"};
    if (r.timeout.given()) {
        Duration d;
        if (auto e = read_duration(r.timeout, d))
            return e;
        if (d > Duration::zero()) // 0: no deadline, as wait-for-it's -t 0
            o.timeout = d;
    }
    if (r.once.on && r.attempts.given())
        return excluding(r.once, r.attempts);
    if (r.once.on)
        o.attempts = 1;
    if (r.attempts.given()) {
        auto n = parse_count(r.attempts.text);
        if (!n)
            return invalid(r.attempts, "a whole number >= 0");
        o.attempts = *n;
    }
    if (r.connect_timeout.given()) {
        if (auto e = read_duration(r.connect_timeout, o.connect_timeout, true))
            return e;
    }
    if (r.initial.given()) {
        if (auto e = read_duration(r.initial, o.backoff.initial))
            return e;
    }
    if (r.max.given()) {
        if (auto e = read_duration(r.max, o.backoff.max))
            return e;
    }
    o.backoff.initial = std::max(o.backoff.initial, core::k_min_delay);
    o.backoff.max = std::max(o.backoff.max, core::k_min_delay);
    if (o.backoff.initial > o.backoff.max) {
        if (r.initial.given() && r.max.given())
            return UsageError{r.initial.name() + " " + quote(r.initial.text) + " is above " +
                              r.max.name() + " " + quote(r.max.text)};
        // Only one was given: the other default moves to match it.
        if (r.initial.given())
            o.backoff.max = o.backoff.initial;
        else
            o.backoff.initial = o.backoff.max;
    }
    if (r.multiplier.given()) {
        auto m = parse_number(r.multiplier.text);
        if (!m || *m < 1 || *m > 1000)
            return invalid(r.multiplier, "1 to 1000");
        o.backoff.multiplier = *m;
    }
    if (r.jitter.given()) {
        auto j = parse_number(r.jitter.text);
        if (!j || *j < 0 || *j > 1)
            return invalid(r.jitter, "a fraction from 0 to 1");
        o.backoff.jitter = *j;
    }
    if (r.seed.given()) {
        uint64_t seed = 0;
        const std::string& t = r.seed.text;
        auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), seed);
        if (t.empty() || ec != std::errc() || end != t.data() + t.size())
            return invalid(r.seed, "a whole number from 0 to 18446744073709551615");
        o.seed = seed;
    }
    if (r.parallel.given()) {
        auto n = parse_count(r.parallel.text);
        if (!n || *n == 0)
            return invalid(r.parallel, "a whole number >= 1");
        o.parallel = *n;
    }
    return std::nullopt;
}

// --send and --expect in command-line order, as CLI11 met them.
std::vector<std::pair<bool, std::string>> dialogue_order(const CLI::App& app, const Raw& r) {
    std::vector<std::pair<bool, std::string>> order;
    std::size_t sends = 0, expects = 0;
    const auto& send_values = r.send.opt->results();
    const auto& expect_values = r.expect.opt->results();
    for (const CLI::Option* opt : app.parse_order()) {
        if (opt == r.send.opt && sends < send_values.size())
            order.emplace_back(false, send_values[sends++]);
        else if (opt == r.expect.opt && expects < expect_values.size())
            order.emplace_back(true, expect_values[expects++]);
    }
    return order;
}

// The dialogue's steps, each value checked as its flag's.
std::variant<std::vector<core::CheckStep>, UsageError> dialogue_steps(const Raw& r) {
    std::vector<core::CheckStep> steps;
    for (const auto& step : r.dialogue) {
        // Named, not a structured binding: clang 14 (the fuzzers' compiler) cannot capture one.
        const bool is_expect = step.first;
        const std::string& text = step.second;
        const Flag& f = is_expect ? r.expect : r.send;
        auto bad = [&](std::string_view why) {
            return UsageError{f.name() + ": invalid value " + quote(text) + " (" +
                              std::string(why) + ")"};
        };
        if (is_expect) {
            auto m = core::Matcher::compile(text);
            if (auto* e = std::get_if<std::string>(&m))
                return bad(*e);
            steps.push_back(core::CheckStep{{}, std::get<core::Matcher>(std::move(m))});
        } else {
            auto sent = core::parse_escapes(text);
            if (auto* e = std::get_if<core::EscapeError>(&sent))
                return bad(e->message);
            steps.push_back(core::CheckStep{std::get<std::string>(std::move(sent)), {}});
        }
    }
    return steps;
}

// --send / --expect / --expect-timeout (after check_retry: the check's deadline defaults to
// the connect timeout).
std::optional<UsageError> check_check(const Raw& r, Options& o) {
    bool tls = r.tls.on || r.starttls.given(); // the deadline also bounds the TLS handshake
    if (!r.send.given() && !r.expect.given() && !tls) {
        if (r.expect_timeout.given() && !any_url_word(r, false))
            return UsageError{r.expect_timeout.name() + " needs --expect, --send or --tls"};
        return std::nullopt;
    }
    core::CheckOptions c;
    c.timeout = o.connect_timeout;
    auto sent = core::parse_escapes(r.send.text);
    if (auto* e = std::get_if<core::EscapeError>(&sent))
        return invalid(r.send, e->message);
    c.send = std::get<std::string>(sent);
    if (r.expect.given()) {
        auto m = core::Matcher::compile(r.expect.text);
        if (auto* e = std::get_if<std::string>(&m))
            return invalid(r.expect, *e);
        c.expect = std::get<core::Matcher>(std::move(m));
    }
    if (r.dialogue.size() > 1) {
        auto steps = dialogue_steps(r);
        if (auto* e = std::get_if<UsageError>(&steps))
            return *e;
        c.steps = std::get<std::vector<core::CheckStep>>(std::move(steps));
    }
    if (r.expect_timeout.given()) {
        if (auto e = read_duration(r.expect_timeout, c.timeout, true))
            return e;
    }
    o.check = std::move(c);
    return std::nullopt;
}

std::optional<UsageError> check_network(const Raw& r, Options& o) {
    if (r.only4.on && r.only6.on)
        return excluding(r.only4, r.only6);
    if (r.only4.on)
        o.family = core::Family::ipv4;
    if (r.only6.on)
        o.family = core::Family::ipv6;
    if (r.source.given()) {
        auto addr = core::parse_numeric_address(r.source.text, 0);
        if (!addr)
            return invalid(r.source, "a numeric IP address");
        if (o.family && *o.family != addr->family())
            return UsageError{r.source.name() + " " + quote(r.source.text) + " does not match " +
                              (r.only4.on ? r.only4 : r.only6).name()};
        o.source = addr;
        o.family = addr->family(); // only addresses the source can reach
    }
    if (r.resolver.given()) {
        auto resolver = parse_resolver(r.resolver.text);
        if (!resolver)
            return invalid(r.resolver, "ADDR, ADDR:PORT or [IPV6]:PORT");
        o.resolver = resolver;
    }
    return std::nullopt;
}

std::variant<std::string, UsageError> read_targets_file(const Flag& f) {
    std::ostringstream content;
    if (f.text == "-") {
        content << std::cin.rdbuf();
        return content.str();
    }
    std::ifstream in(f.text);
    if (!in)
        return UsageError{f.name() + ": cannot read " + quote(f.text) + ": " +
                          std::strerror(errno)};
    content << in.rdbuf();
    return content.str();
}

// How a target is compared with the others: "DB.example.:5432" and "tcp://db.example:postgresql"
// are one target.
std::string target_key(const core::Target& t) {
    std::string host = t.numeric ? t.numeric->host() : t.host;
    if (!t.numeric && !host.empty() && host.back() == '.')
        host.pop_back();
    for (char& c : host)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return host + " " + std::to_string(t.port);
}

// A target given more than once stays as given (each copy probed): a warning says so.
std::vector<std::string> duplicate_warnings(const std::vector<core::Target>& targets) {
    // Each key made once (a fleet of 100,000 targets pays for it before the first connect).
    std::vector<std::string> keys;
    keys.reserve(targets.size());
    std::unordered_map<std::string_view, std::size_t> times;
    times.reserve(targets.size());
    for (const auto& t : targets)
        keys.push_back(target_key(t));
    for (const auto& k : keys)
        ++times[k];
    std::vector<std::string> warnings;
    for (std::size_t i = 0; i < targets.size(); ++i) {
        auto it = times.find(keys[i]);
        if (it == times.end() || it->second < 2)
            continue;
        warnings.push_back("target " + targets[i].text + " is given " + std::to_string(it->second) +
                           " times; each copy is probed");
        times.erase(it); // one warning per target
    }
    return warnings;
}

// Appends TARGET words to the plan; `source` names the words' origin in an error ("" for the
// arguments).
std::optional<UsageError> add_targets(const std::vector<std::string>& words,
                                      std::string_view source, Options& o) {
    for (const std::string& text : words) {
        if (core::is_http_url(text)) {
            if (auto e = add_url(text, source, o))
                return e;
            continue;
        }
        auto parsed = core::parse_target(text);
        if (auto* e = std::get_if<core::TargetError>(&parsed))
            return UsageError{(source.empty() ? "" : std::string(source) + ": ") + e->message};
        o.targets.push_back(std::get<core::Target>(std::move(parsed)));
    }
    return std::nullopt;
}

// --invert waits for connects to fail: a check after the connect has nothing to say then.
std::optional<UsageError> check_invert(const Raw& r, Options& o) {
    if (o.invert && o.check)
        return UsageError{r.invert.name() +
                          " cannot be used with --send, --expect, --tls or --starttls (it waits "
                          "until nothing accepts a connection)"};
    return std::nullopt;
}

// The TARGETs (arguments, then --targets-file, then TCPRETRY_TARGETS), their families, and
// --any/--quorum.
std::optional<UsageError> check_targets(const Raw& r, Options& o) {
    if (auto e = add_targets(r.words, "", o))
        return e;
    if (r.targets_file.given()) {
        auto text = read_targets_file(r.targets_file);
        if (auto* e = std::get_if<UsageError>(&text))
            return *e;
        auto parsed =
            parse_targets_file(std::get<std::string>(text),
                               r.targets_file.text == "-" ? "stdin" : r.targets_file.text);
        if (auto* e = std::get_if<UsageError>(&parsed))
            return *e;
        auto& listed = std::get<std::vector<core::Target>>(parsed);
        if (r.targets_file.text != "-")
            o.targets_file = r.targets_file.text;
        o.file_first = o.targets.size();
        o.file_count = listed.size();
        o.targets.reserve(o.targets.size() + listed.size());
        for (auto& t : listed)
            o.targets.push_back(std::move(t));
        std::vector<core::Target>().swap(listed);
    }
    if (auto e = add_targets(r.env_words, k_env_targets, o))
        return e;
    o.targets.shrink_to_fit(); // a fleet's list is kept for the whole run
    if (o.targets.empty() && !r.serve.given())
        return UsageError{"no TARGET given (the " + r.targets_file.name() + " " +
                          quote(r.targets_file.text) + " lists none)"};
    for (const auto& t : o.targets) {
        if (t.numeric && o.family && t.numeric->family() != *o.family)
            return UsageError{"target " + quote(t.text) + " is " +
                              std::string(core::family_name(t.numeric->family())) + " but only " +
                              std::string(core::family_name(*o.family)) +
                              " is allowed (-4/-6/--source)"};
    }
    o.needed = r.any.on ? 1 : o.targets.size();
    if (r.quorum.given()) {
        auto n = parse_count(r.quorum.text);
        if (!n || *n == 0 || *n > o.targets.size())
            return invalid(r.quorum, "1 to " + std::to_string(o.targets.size()) +
                                         ", the number of targets given");
        o.needed = *n;
    }
    o.warnings = duplicate_warnings(o.targets);
    return std::nullopt;
}

} // namespace

const char* version() {
    return TCPRETRY_VERSION;
}

std::optional<unsigned> parse_count(std::string_view text) {
    if (text.empty() || text.size() > 9)
        return std::nullopt;
    unsigned n = 0;
    for (char c : text) {
        if (c < '0' || c > '9')
            return std::nullopt;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    return n;
}

std::variant<std::vector<core::Target>, UsageError> parse_targets_file(std::string_view text,
                                                                       std::string_view name) {
    std::vector<core::Target> targets;
    unsigned line_no = 0;
    while (!text.empty()) {
        ++line_no;
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (auto hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);
        auto first = line.find_first_not_of(" \t\r");
        if (first == std::string_view::npos)
            continue;
        line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
        auto parsed = core::parse_target(line);
        if (auto* e = std::get_if<core::TargetError>(&parsed))
            return UsageError{std::string(name) + ":" + std::to_string(line_no) + ": " +
                              e->message};
        targets.push_back(std::get<core::Target>(std::move(parsed)));
    }
    return targets;
}

std::optional<std::string> parse_resolver(std::string_view text) {
    if (text.empty() || !core::is_clean_text(text))
        return std::nullopt;
    std::string host(text);
    uint16_t port = core::k_default_dns_port;
    if (text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            return std::nullopt;
        host = std::string(text.substr(1, close - 1));
        auto rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest.front() != ':')
                return std::nullopt;
            auto p = parse_count(rest.substr(1));
            if (!p || *p == 0 || *p > 65535)
                return std::nullopt;
            port = static_cast<uint16_t>(*p);
        }
    } else if (std::count(text.begin(), text.end(), ':') == 1) {
        auto colon = text.find(':');
        host = std::string(text.substr(0, colon));
        auto p = parse_count(text.substr(colon + 1));
        if (!p || *p == 0 || *p > 65535)
            return std::nullopt;
        port = static_cast<uint16_t>(*p);
    }
    auto addr = core::parse_numeric_address(host, port);
    if (!addr)
        return std::nullopt;
    return nameserver_text(*addr);
}

ParseResult parse_options(int argc, const char* const* argv) {
    return parse_options(argc, argv, read_environment(environ));
}

ParseResult parse_options(int argc, const char* const* argv, const Environment& env) {
    // CLI11 would take everything after "--" as more TARGETs: split it off first.
    std::vector<std::string> args;
    Options o;
    bool in_command = false;
    for (int i = 1; i < argc; ++i) {
        std::string_view a = argv[i];
        if (in_command)
            o.command.emplace_back(a);
        else if (a == "--")
            in_command = true;
        else
            args.emplace_back(a);
    }
    if (in_command && o.command.empty())
        return UsageError{"missing COMMAND after '--'"};

    CLI::App app{k_description, "tcpretry"};
    auto formatter = std::make_shared<UsageFormatter>();
    formatter->column_width(34);
    app.formatter(formatter);
    app.set_version_flag("--version", [] { return version_text(); });
    // TARGETs are what CLI11 leaves over: as a positional option it would split "[a,b]" into
    // two and strip "[::1]"'s brackets.
    app.allow_extras();

    Raw raw;
    add_retry_flags(app, raw);
    add_check_flags(app, raw);
    add_http_flags(app, raw);
    add_tls_flags(app, raw);
    add_ping_flags(app, raw);
    add_network_flags(app, raw);
    add_output_flags(app, raw);
    add_serve_flags(app, raw);
    // The footer (exit statuses, every variable) is made only for --help: a run does not pay
    // for wrapping it.
    auto help = [&app, &raw] {
        app.footer(footer(variables(app, raw)));
        return app.help();
    };

    if (auto e = switch_with_value(app, args))
        return *e;
    std::reverse(args.begin(), args.end()); // CLI11 takes a reversed vector
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        if (auto e = help_beside_words(app.remaining(), !o.command.empty()))
            return *e;
        return EarlyExit{help()};
    } catch (const CLI::CallForAllHelp&) {
        return EarlyExit{help()};
    } catch (const CLI::CallForVersion& e) {
        return EarlyExit{std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        return from_cli11(e);
    }

    for (const std::string& a : app.remaining()) {
        if (a.size() > 1 && a[0] == '-')
            return UsageError{"unknown option " + quote(a) + " (see --help)"};
        raw.words.push_back(a);
    }
    raw.dialogue = dialogue_order(app, raw);
    // No TCPRETRY_ variable set (the usual case): nothing to apply or warn about, and the
    // start of a one-probe run does not pay for naming every option's variable.
    std::vector<std::string> env_warnings;
    if (!env.empty()) {
        if (auto e = apply_environment(app, raw, env))
            return *e;
        Environment excluded; // --help, --version
        for (const CLI::Option* opt : app.get_options())
            if (!variable(raw, opt))
                excluded.emplace(env_name(opt->get_name()), opt->get_name());
        env_warnings = unknown_variable_warnings(env, variables(app, raw), excluded);
    }
    if (raw.words.empty() && raw.env_words.empty() && !raw.targets_file.given() &&
        !raw.serve.given()) {
        std::string m = "no TARGET given (usage: tcpretry [OPTIONS] HOST:PORT... [-- COMMAND])";
        if (!env_warnings.empty()) // TCPRETRY_TARGET=db:5432 is the likely reason
            m += "; " + env_warnings.front();
        return UsageError{m};
    }

    if (auto e = check_serve(raw, o))
        return *e;
    for (auto check : {check_output, check_network, check_mode, check_retry, check_check, check_tls,
                       check_invert, check_targets, check_http})
        if (auto e = check(raw, o))
            return *e;
    o.warnings.insert(o.warnings.begin(), env_warnings.begin(), env_warnings.end());
    return o;
}

} // namespace tcpretry::app
