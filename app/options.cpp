#include "app/options.hpp"

#include "core/defaults.hpp"
#include "core/duration.hpp"
#include "core/escape.hpp"
#include "core/expect.hpp"

#include <CLI/CLI.hpp>
#include <charconv>
#include <cmath>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

namespace tcpretry::app {

namespace {

using core::Duration;

const char* const k_description =
    "Connect to TCP endpoints, retrying with capped exponential backoff until they accept, and\n"
    "report every attempt, failure, retry and connection. With -- COMMAND, run COMMAND once\n"
    "the targets are up (its exit status becomes tcpretry's). --watch stays connected and\n"
    "reconnects; --count probes repeatedly with latency statistics.";

const char* const k_footer =
    "TARGET is HOST:PORT, IPV4:PORT, [IPV6]:PORT or [IPV6%ZONE]:PORT; PORT is 1-65535 or a\n"
    "service name. DUR is 250ms, 1.5s, 2m, 1h or a number of seconds.\n"
    "Exit status: 0 ready (or COMMAND's status), 1 gave up, 2 usage error, 124 --timeout,\n"
    "125 internal error, 126/127 COMMAND not executable/not found, 130 SIGINT, 141 output\n"
    "closed, 143 SIGTERM. --watch: 0 if connected when stopped, else 1. --count: 0 if every\n"
    "target answered a probe, else 1. See tcpretry(1) and docs/json-events.md.";

using core::quote;

std::optional<double> parse_number(std::string_view text) {
    double v = 0;
    if (text.empty() || text[0] == '+' || text[0] == ' ')
        return std::nullopt;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v,
                                     std::chars_format::fixed);
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
            return UsageError{std::string(name) + ":" + std::to_string(line_no) + ": " + e->message};
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

    // Defaults shown in --help come from the constants the code uses, so they cannot drift.
    auto dur = core::format_duration_arg;
    auto number = [](double v) {
        char buf[32];
        std::snprintf(buf, sizeof buf, "%g", v);
        return std::string(buf);
    };

    CLI::App app{k_description, "tcpretry"};
    app.footer(k_footer);
    auto formatter = std::make_shared<UsageFormatter>();
    formatter->column_width(34);
    app.formatter(formatter);
    app.set_version_flag("--version", std::string("tcpretry ") + version());

    std::vector<std::string> target_args;
    std::string quorum_s, parallel_s, targets_file_s, count_s, interval_s, format_s, metrics_s;
    std::string send_s, expect_s, expect_timeout_s, stable_after_s, keepalive_s;
    bool watch = false;
    std::string timeout_s, attempts_s, connect_timeout_s, initial_s, max_s, multiplier_s, jitter_s,
        seed_s, source_s, resolver_s, color_s = "auto";
    bool once = false, all = false, any = false, json = false, quiet = false, verbose = false,
         only4 = false, only6 = false;

    // TARGETs are what CLI11 leaves over: as a positional option it would split "[a,b]" into
    // two and strip "[::1]"'s brackets.
    app.allow_extras();

    const char* retry = "Retry";
    auto* o_timeout = app.add_option("-t,--timeout", timeout_s, "Overall deadline (exit 124)")
                          ->type_name("DUR")->default_str("none")->group(retry);
    auto* o_attempts = app.add_option("-n,--attempts", attempts_s,
                                      "Give up on a target after N rounds (0: never)")
                           ->type_name("N")->default_str("0")->group(retry);
    app.add_flag("--once", once, "Same as --attempts 1")->group(retry);
    auto* o_ct = app.add_option("-T,--connect-timeout", connect_timeout_s,
                                "Deadline of one round (resolve + connect)")
                     ->type_name("DUR")->default_str(dur(core::k_connect_timeout))->group(retry);
    auto* o_initial = app.add_option("--initial-delay", initial_s, "First retry delay (watch: " + dur(core::k_watch_initial_delay) + ")")
                          ->type_name("DUR")->default_str(dur(core::k_initial_delay))->group(retry);
    auto* o_max = app.add_option("--max-delay", max_s, "Retry delay cap (watch: " + dur(core::k_watch_max_delay) + ")")
                      ->type_name("DUR")->default_str(dur(core::k_max_delay))->group(retry);
    auto* o_mult = app.add_option("--multiplier", multiplier_s, "Delay growth per failed round (>= 1)")
                       ->type_name("X")->default_str(number(core::k_multiplier))->group(retry);
    auto* o_jitter = app.add_option("--jitter", jitter_s,
                                    "Randomise each delay by +/- this fraction (0-1)")
                         ->type_name("FRACTION")->default_str(number(core::k_jitter))->group(retry);
    auto* o_seed = app.add_option("--seed", seed_s, "Seed for the jitter (reproducible delays)")
                       ->type_name("N")->default_str("random")->group(retry);
    app.add_flag("--all", all, "Succeed when all targets connected (default)")->group(retry);
    app.add_flag("--any", any, "Succeed when any target connected; stop the others")->group(retry);
    auto* o_quorum = app.add_option("--quorum", quorum_s, "Succeed when N targets connected")
                         ->type_name("N")->group(retry);
    auto* o_parallel = app.add_option("--parallel", parallel_s,
                                      "Rounds in flight at once, over all targets")
                           ->type_name("N")->default_str(std::to_string(core::k_parallel))->group(retry);
    auto* o_file = app.add_option("--targets-file", targets_file_s,
                                  "Read TARGETs from FILE, one a line ('-': stdin; '#' comments)")
                       ->type_name("FILE")->group(retry);

    const char* check = "Watch and check";
    app.add_flag("-w,--watch", watch,
                 "Stay connected; report drops and reconnect (until SIGINT/SIGTERM/--timeout)")
        ->group(check);
    auto* o_stable = app.add_option("--stable-after", stable_after_s,
                                    "Watch: a connection up this long resets the retry delay")
                         ->type_name("DUR")->default_str(dur(core::k_stable_after))->group(check);
    auto* o_keepalive = app.add_option("--keepalive", keepalive_s,
                                       "Watch: declare a silent dead peer after DUR (0: off, >= 2s)")
                            ->type_name("DUR")->default_str(dur(core::k_keepalive))->group(check);
    auto* o_send = app.add_option("--send", send_s,
                                  "Send STRING after connecting (escapes \\r \\n \\t \\0 \\xHH \\\\)")
                       ->type_name("STRING")->group(check);
    auto* o_expect = app.add_option("--expect", expect_s,
                                    "Ready only when the reply matches REGEX (POSIX extended)")
                         ->type_name("REGEX")->group(check);
    auto* o_expect_timeout = app.add_option("--expect-timeout", expect_timeout_s,
                                            "How long to wait for the reply")
                                 ->type_name("DUR")->default_str("connect timeout")->group(check);

    const char* ping = "Ping";
    auto* o_count = app.add_option("-c,--count", count_s,
                                   "Ping mode: N probes per target, each a fresh connect (0: until stopped)")
                        ->type_name("N")->group(ping);
    auto* o_interval = app.add_option("-i,--interval", interval_s, "Ping mode: time between probes")
                           ->type_name("DUR")->default_str(dur(core::k_probe_interval))->group(ping);

    const char* network = "Network";
    app.add_flag("-4", only4, "IPv4 only")->group(network);
    app.add_flag("-6", only6, "IPv6 only")->group(network);
    auto* o_source = app.add_option("--source", source_s, "Bind this local address")
                         ->type_name("ADDR")->group(network);
    auto* o_resolver = app.add_option("--resolver", resolver_s,
                                      "Ask this DNS server instead of /etc/resolv.conf")
                           ->type_name("ADDR[:PORT]")->group(network);

    const char* output = "Output";
    app.add_flag("-j,--json", json, "JSON Lines, one event per line (same as --format json)")
        ->group(output);
    auto* o_format = app.add_option("--format", format_s,
                                    "human, json (JSON Lines) or prometheus (metrics at the end)")
                         ->type_name("FORMAT")->default_str("human")->group(output);
    auto* o_metrics = app.add_option("--metrics-listen", metrics_s,
                                     "Serve live Prometheus metrics at http://ADDR:PORT/metrics")
                          ->type_name("ADDR:PORT")->group(output);
    app.add_flag("-q,--quiet", quiet, "Print nothing but errors")->group(output);
    app.add_flag("-v,--verbose", verbose, "Print every event (no summarising of repeats)")->group(output);
    app.add_option("--color", color_s, "Colour human output: auto|always|never")
        ->type_name("WHEN")->default_str("auto")->group(output);

    std::reverse(args.begin(), args.end()); // CLI11 takes a reversed vector
    try {
        app.parse(args);
    } catch (const CLI::CallForHelp&) {
        return EarlyExit{app.help()};
    } catch (const CLI::CallForAllHelp&) {
        return EarlyExit{app.help()};
    } catch (const CLI::CallForVersion& e) {
        return EarlyExit{std::string(e.what()) + "\n"};
    } catch (const CLI::ParseError& e) {
        std::string msg = e.what();
        if (auto nl = msg.find('\n'); nl != std::string::npos)
            msg.resize(nl);
        return UsageError{msg + " (see --help)"};
    }

    auto set_duration = [&](Duration& out, CLI::Option* opt,
                            const std::string& text) -> std::optional<UsageError> {
        auto d = core::parse_duration(text);
        if (!d)
            return UsageError{"invalid duration " + quote(text) + " for " + opt->get_name() +
                              " (use e.g. 250ms, 1.5s, 2m, 1h or seconds)"};
        out = *d;
        return std::nullopt;
    };

    for (const std::string& a : app.remaining()) {
        if (a.size() > 1 && a[0] == '-')
            return UsageError{"unknown option " + quote(a) + " (see --help)"};
        target_args.push_back(a);
    }
    if (target_args.empty() && !o_file->count())
        return UsageError{"no TARGET given (usage: tcpretry [OPTIONS] HOST:PORT... [-- COMMAND])"};

    if (all + any + (o_quorum->count() > 0) > 1)
        return UsageError{"--all, --any and --quorum exclude each other"};
    if (only4 && only6)
        return UsageError{"-4 and -6 exclude each other"};
    if (quiet && verbose)
        return UsageError{"--quiet and --verbose exclude each other"};
    o.format = json ? Format::json : Format::human;
    if (o_format->count()) {
        if (format_s == "human")
            o.format = Format::human;
        else if (format_s == "json")
            o.format = Format::json;
        else if (format_s == "prometheus")
            o.format = Format::prometheus;
        else
            return UsageError{"invalid --format " + quote(format_s) + " (use human, json or prometheus)"};
        if (json && o.format != Format::json)
            return UsageError{"--json and --format " + quote(format_s) + " contradict each other"};
    }
    if (o_metrics->count()) {
        auto parsed = core::parse_target(metrics_s);
        auto* t = std::get_if<core::Target>(&parsed);
        if (!t || !t->numeric)
            return UsageError{"invalid --metrics-listen " + quote(metrics_s) +
                              " (a numeric ADDR:PORT such as 127.0.0.1:9464 or [::1]:9464)"};
        o.metrics_listen = t->numeric;
    }
    o.verbosity = quiet ? Verbosity::quiet : verbose ? Verbosity::verbose : Verbosity::normal;
    if (color_s == "auto")
        o.color = ColorMode::automatic;
    else if (color_s == "always")
        o.color = ColorMode::always;
    else if (color_s == "never")
        o.color = ColorMode::never;
    else
        return UsageError{"invalid value " + quote(color_s) + " for --color (use auto, always or never)"};
    if (only4)
        o.family = core::Family::ipv4;
    if (only6)
        o.family = core::Family::ipv6;

    if (o_timeout->count()) {
        Duration d;
        if (auto e = set_duration(d, o_timeout, timeout_s))
            return *e;
        if (d <= Duration::zero())
            return UsageError{"--timeout must be more than 0, got " + quote(timeout_s)};
        o.timeout = d;
    }
    if (once && o_attempts->count())
        return UsageError{"--once and --attempts exclude each other"};
    if (once)
        o.attempts = 1;
    if (o_attempts->count()) {
        auto n = parse_count(attempts_s);
        if (!n)
            return UsageError{"invalid count " + quote(attempts_s) + " for --attempts (a whole number >= 0)"};
        o.attempts = *n;
    }
    if (o_ct->count()) {
        if (auto e = set_duration(o.connect_timeout, o_ct, connect_timeout_s))
            return *e;
        if (o.connect_timeout <= Duration::zero())
            return UsageError{"--connect-timeout must be more than 0, got " + quote(connect_timeout_s)};
    }
    if (o_count->count()) {
        auto n = parse_count(count_s);
        if (!n)
            return UsageError{"invalid count " + quote(count_s) + " for --count (a whole number >= 0)"};
        o.count = *n;
        if (watch)
            return UsageError{"--count (ping mode) and --watch exclude each other"};
        if (!o.command.empty())
            return UsageError{"-- COMMAND cannot be used with --count (ping mode)"};
    }
    if (o_interval->count()) {
        if (!o.count)
            return UsageError{"--interval needs --count (ping mode)"};
        if (auto e = set_duration(o.interval, o_interval, interval_s))
            return *e;
        if (o.interval < std::chrono::milliseconds(1))
            return UsageError{"--interval must be at least 1ms, got " + quote(interval_s)};
    }
    // A flag the chosen mode would ignore is a mistake worth hearing about.
    auto unused = [&](CLI::Option* opt, const char* name, const char* mode) -> std::optional<UsageError> {
        if (opt->count())
            return UsageError{std::string(name) + " has no effect " + mode};
        return std::nullopt;
    };
    for (auto [opt, name] : {std::pair{o_stable, "--stable-after"}, {o_keepalive, "--keepalive"}}) {
        if (!watch) {
            if (auto e = unused(opt, name, "without --watch"))
                return *e;
        }
    }
    if (o.count) {
        for (auto [opt, name] :
             {std::pair{o_attempts, "--attempts"}, {o_initial, "--initial-delay"},
              {o_max, "--max-delay"}, {o_mult, "--multiplier"}, {o_jitter, "--jitter"},
              {o_quorum, "--quorum"}}) {
            if (auto e = unused(opt, name, "with --count (probes are not retried)"))
                return *e;
        }
        if (once || any)
            return UsageError{std::string(once ? "--once" : "--any") +
                              " has no effect with --count (probes are not retried)"};
    }
    o.watch = watch;
    if (watch) {
        o.backoff.initial = core::k_watch_initial_delay;
        o.backoff.max = core::k_watch_max_delay;
        if (!o.command.empty())
            return UsageError{"-- COMMAND cannot be used with --watch (a watch does not end in success)"};
    }
    if (o_stable->count()) {
        if (auto e = set_duration(o.stable_after, o_stable, stable_after_s))
            return *e;
    }
    if (o_keepalive->count()) {
        if (auto e = set_duration(o.keepalive, o_keepalive, keepalive_s))
            return *e;
        if (o.keepalive != Duration::zero() && o.keepalive < core::k_min_keepalive)
            return UsageError{"--keepalive " + quote(keepalive_s) + " is below 2s (use 0 to turn it off)"};
    }
    if (o_send->count() || o_expect->count()) {
        core::CheckOptions c;
        c.timeout = o.connect_timeout;
        auto sent = core::parse_escapes(send_s);
        if (auto* e = std::get_if<core::EscapeError>(&sent))
            return UsageError{"invalid --send " + quote(send_s) + ": " + e->message};
        c.send = std::get<std::string>(sent);
        if (o_expect->count()) {
            auto m = core::Matcher::compile(expect_s);
            if (auto* e = std::get_if<std::string>(&m))
                return UsageError{"invalid --expect regular expression " + quote(expect_s) + ": " + *e};
            c.expect = std::get<core::Matcher>(std::move(m));
        }
        if (o_expect_timeout->count()) {
            if (auto e = set_duration(c.timeout, o_expect_timeout, expect_timeout_s))
                return *e;
            if (c.timeout <= Duration::zero())
                return UsageError{"--expect-timeout must be more than 0, got " + quote(expect_timeout_s)};
        }
        o.check = std::move(c);
    } else if (o_expect_timeout->count()) {
        return UsageError{"--expect-timeout needs --expect or --send"};
    }
    if (o_initial->count()) {
        if (auto e = set_duration(o.backoff.initial, o_initial, initial_s))
            return *e;
    }
    if (o_max->count()) {
        if (auto e = set_duration(o.backoff.max, o_max, max_s))
            return *e;
    }
    o.backoff.initial = std::max(o.backoff.initial, core::k_min_delay);
    o.backoff.max = std::max(o.backoff.max, core::k_min_delay);
    if (o.backoff.initial > o.backoff.max) {
        if (o_initial->count() && o_max->count())
            return UsageError{"--initial-delay " + quote(initial_s) + " is above --max-delay " +
                              quote(max_s)};
        // Only one was given: the other default moves to match it.
        if (o_initial->count())
            o.backoff.max = o.backoff.initial;
        else
            o.backoff.initial = o.backoff.max;
    }
    if (o_mult->count()) {
        auto m = parse_number(multiplier_s);
        if (!m || *m < 1 || *m > 1000)
            return UsageError{"invalid multiplier " + quote(multiplier_s) + " (a number from 1 to 1000)"};
        o.backoff.multiplier = *m;
    }
    if (o_jitter->count()) {
        auto j = parse_number(jitter_s);
        if (!j || *j < 0 || *j > 1)
            return UsageError{"invalid jitter " + quote(jitter_s) + " (a fraction from 0 to 1)"};
        o.backoff.jitter = *j;
    }
    if (o_seed->count()) {
        uint64_t seed = 0;
        auto [end, ec] = std::from_chars(seed_s.data(), seed_s.data() + seed_s.size(), seed);
        if (seed_s.empty() || ec != std::errc() || end != seed_s.data() + seed_s.size())
            return UsageError{"invalid seed " + quote(seed_s) + " (a whole number >= 0)"};
        o.seed = seed;
    }
    if (o_source->count()) {
        auto addr = core::parse_numeric_address(source_s, 0);
        if (!addr)
            return UsageError{"invalid --source address " + quote(source_s) + " (a numeric IP address)"};
        if (o.family && *o.family != addr->family())
            return UsageError{"--source " + quote(source_s) + " does not match -4/-6"};
        o.source = addr;
        o.family = addr->family(); // only addresses the source can reach
    }
    if (o_resolver->count()) {
        auto r = parse_resolver(resolver_s);
        if (!r)
            return UsageError{"invalid --resolver " + quote(resolver_s) + " (use ADDR, ADDR:PORT or [IPV6]:PORT)"};
        o.resolver = r;
    }

    for (const std::string& text : target_args) {
        auto parsed = core::parse_target(text);
        if (auto* e = std::get_if<core::TargetError>(&parsed))
            return UsageError{e->message};
        o.targets.push_back(std::get<core::Target>(std::move(parsed)));
    }
    if (o_file->count()) {
        std::string text;
        if (targets_file_s == "-") {
            std::ostringstream in;
            in << std::cin.rdbuf();
            text = in.str();
        } else {
            std::ifstream in(targets_file_s);
            if (!in)
                return UsageError{"cannot read --targets-file " + quote(targets_file_s) + ": " +
                                  std::strerror(errno)};
            std::ostringstream content;
            content << in.rdbuf();
            text = content.str();
        }
        auto parsed = parse_targets_file(text, targets_file_s == "-" ? "stdin" : targets_file_s);
        if (auto* e = std::get_if<UsageError>(&parsed))
            return *e;
        for (auto& t : std::get<std::vector<core::Target>>(parsed))
            o.targets.push_back(std::move(t));
        if (o.targets.empty())
            return UsageError{"no TARGET given (the --targets-file " + quote(targets_file_s) +
                              " lists none)"};
    }
    for (const auto& t : o.targets) {
        if (t.numeric && o.family && t.numeric->family() != *o.family)
            return UsageError{"target " + quote(t.text) + " is " +
                              std::string(core::family_name(t.numeric->family())) +
                              " but only " + std::string(core::family_name(*o.family)) +
                              " is allowed (-4/-6/--source)"};
    }

    o.needed = any ? 1 : o.targets.size();
    if (o_quorum->count()) {
        auto n = parse_count(quorum_s);
        if (!n || *n == 0 || *n > o.targets.size())
            return UsageError{"invalid --quorum " + quote(quorum_s) + " (a number from 1 to the " +
                              std::to_string(o.targets.size()) + " targets given)"};
        o.needed = *n;
    }
    if (o_parallel->count()) {
        auto n = parse_count(parallel_s);
        if (!n || *n == 0)
            return UsageError{"invalid --parallel " + quote(parallel_s) + " (a whole number >= 1)"};
        o.parallel = *n;
    }
    return o;
}

} // namespace tcpretry::app
