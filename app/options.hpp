// The command line: flags and TARGETs become a validated plan, or a usage error.
#pragma once

#include "app/env.hpp"
#include "app/outcome.hpp"
#include "core/backoff.hpp"
#include "core/connector.hpp"
#include "core/target.hpp"
#include "core/url.hpp"

#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace tcpretry::app {

enum class Format { human, json, prometheus };
enum class Verbosity { quiet, normal, verbose };
enum class ColorMode { automatic, always, never };

// --serve: a probe's deadline is Prometheus's scrape timeout less this margin.
inline constexpr core::Duration k_serve_timeout_offset = std::chrono::milliseconds(500);

struct Options {
    Mode mode = Mode::wait; // --watch, --count or neither; set once, here
    std::vector<core::Target> targets;
    // --targets-file FILE (not stdin): SIGHUP re-reads it in watch and ping modes. Its
    // targets are targets[file_first, file_first + file_count).
    std::optional<std::string> targets_file;
    std::size_t file_first = 0, file_count = 0;
    std::optional<core::Duration> timeout;
    unsigned attempts = 0; // --attempts: failed rounds in a row before giving up; 0 = never
    core::Duration connect_timeout = core::k_connect_timeout;
    core::BackoffPolicy backoff;
    std::optional<uint64_t> seed;
    std::optional<core::Family> family;
    std::optional<core::SockAddr> source;
    std::optional<std::string> resolver; // "ADDR" or "ADDR:PORT" as evdns takes it
    // How many targets must be connected for success: all (default), 1 (--any), N (--quorum).
    std::size_t needed = 0;
    // --invert: wait until the targets refuse or do not answer (wait mode only).
    bool invert = false;
    std::size_t parallel = core::k_parallel; // rounds in flight at once (--parallel)
    Format format = Format::human;
    Verbosity verbosity = Verbosity::normal; // always normal with --json: every event is a line
    ColorMode color = ColorMode::automatic;
    // --timestamps / --no-timestamps; unset: the default rule (watch mode, stdout not a
    // terminal). Only human output: --timestamps with --json or prometheus is a usage error.
    std::optional<bool> timestamps;
    std::vector<std::string> command; // after "--"

    // Watch mode: hold each connection, reconnect when it drops.
    core::Duration stable_after = core::k_stable_after;
    core::Duration keepalive = core::k_keepalive; // zero: off
    // --recheck: also make a fresh connect (and check) this often; watch mode only, > 0.
    std::optional<core::Duration> recheck;
    // Ping mode (--count): probes per target, 0 = until stopped; one every interval.
    unsigned count = 0;
    std::optional<core::SockAddr> metrics_listen; // serve /metrics here (--metrics-listen)
    // --serve: run as an exporter answering /probe?target= here (no TARGET needed); the
    // TARGETs given, if any, are the targets it may probe (with --serve-allow's entries).
    std::optional<core::SockAddr> serve;
    std::vector<std::string> serve_allow;                         // --serve-allow entries
    core::Duration serve_timeout_offset = k_serve_timeout_offset; // --serve-timeout-offset
    core::Duration interval = core::k_probe_interval;

    // --send / --expect check; unset when neither was given.
    std::optional<core::CheckOptions> check;
    // HTTP(S) TARGETs: (index in targets, the URL), in target order; and each one's own check
    // (its request, TLS for https), which replaces `check` for that target.
    std::vector<std::pair<std::size_t, core::Url>> urls;
    std::vector<std::pair<std::size_t, core::CheckOptions>> target_checks;
    // The TLS context the TLS flags make, for https:// TARGETs (also without --tls).
    std::optional<core::TlsContext> url_tls;

    // One line each, for the run to report as warning events; the plan stands as it is
    // (a TARGET given twice is probed twice).
    std::vector<std::string> warnings;
};

struct UsageError {
    std::string message; // one line, naming the flag and the bad value
};

// --help or --version: print this text on stdout and exit 0.
struct EarlyExit {
    std::string text;
};

using ParseResult = std::variant<Options, UsageError, EarlyExit>;

// The command line, and the TCPRETRY_ variables of the process (app/env.hpp): the first reads
// `environ`, the second is given them.
ParseResult parse_options(int argc, const char* const* argv);
ParseResult parse_options(int argc, const char* const* argv, const Environment& env);

// Pieces of the parser, exposed for tests.
std::optional<std::string> parse_resolver(std::string_view text); // normalised "ADDR:PORT"
std::optional<unsigned> parse_count(std::string_view text);

// A --targets-file: one TARGET a line; '#' starts a comment; blank lines are skipped.
// Returns the targets, or a usage error naming `name` and the line.
std::variant<std::vector<core::Target>, UsageError> parse_targets_file(std::string_view text,
                                                                       std::string_view name);

const char* version();

} // namespace tcpretry::app
