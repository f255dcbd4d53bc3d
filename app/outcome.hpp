// How a run ends: one table (mode x how the run ended -> result and exit status), one pure
// function over it, and the --help text made from it. The run only gathers the facts.
#pragma once

#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tcpretry::app {

// Exit statuses (documented in the man page and README; --help's text comes from the table).
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failed = 1;
inline constexpr int k_exit_usage = 2;
inline constexpr int k_exit_timeout = 124;
inline constexpr int k_exit_internal = 125;
inline constexpr int k_exit_not_executable = 126;
inline constexpr int k_exit_not_found = 127;
inline constexpr int k_exit_sigint = 130;
inline constexpr int k_exit_sigpipe = 141;
inline constexpr int k_exit_sigterm = 143;

// wait: until the targets connect (default); watch: hold and reconnect (--watch);
// ping: probe repeatedly (--count).
enum class Mode { wait, watch, ping };

std::string_view mode_name(Mode m); // "wait", "watch", "ping" (the JSON start line's mode)

// disconnected: a watch ended with a target not connected at that moment.
// failed: ping mode ended with a target that never answered.
enum class Result { ok, gave_up, timeout, interrupted, disconnected, failed };

std::string_view result_name(Result r); // the JSON summary's "result"

// What ended the run from outside, if anything did (the first such thing; it ends the run).
enum class Stop {
    none,          // nothing yet: the targets' progress decides whether the run is over
    deadline,      // --timeout passed
    sigint,        // SIGINT
    sigterm,       // SIGTERM
    output_closed, // the reader of our output went away (a pipe closed) while running
};

// The facts a run gathers, as counts over the per-target board.
struct Facts {
    Stop stop = Stop::none;
    std::size_t targets = 0;
    std::size_t needed = 0;   // wait and watch: targets that must be up (all, --any, --quorum)
    std::size_t up = 0;       // wait: connected; watch: available now; ping: answered a probe
    std::size_t gave_up = 0;  // wait and watch: targets with no rounds left
    bool probes_done = false; // ping: every target has sent its --count probes
    // The reader went away while the summary was written (after the outcome was known).
    bool summary_lost = false;
    bool command = false; // a COMMAND follows success
};

struct Outcome {
    Result result = Result::ok;
    int status = k_exit_ok;   // tcpretry's exit status, unless the COMMAND runs
    bool run_command = false; // success and a COMMAND: exec it; its status becomes ours
};

// The condition a row of the table asks of the facts.
enum class When {
    always,
    enough_up,         // up >= needed
    too_few_left,      // targets not given up < needed: the condition cannot be met
    all_gave_up,       // every target gave up
    all_answered,      // ping: up == targets
    done_all_answered, // ping: probes done and every target answered
    done,              // ping: probes done
};

// One row: in this mode, stopped this way, when this holds -> this result and status.
// The first matching row decides; no row: the run goes on.
struct Rule {
    Mode mode;
    Stop stop;
    When when;
    Result result;
    int status;
    const char* words; // for --help and the docs: what the status means here
};

std::span<const Rule> outcome_rules();

// nullopt while the run goes on (no stop yet and the targets have not decided it).
std::optional<Outcome> exit_status(Mode mode, const Facts& facts);

// --help's "Exit status: ..." paragraph, wrapped, made from the table.
std::string exit_status_help();

} // namespace tcpretry::app
