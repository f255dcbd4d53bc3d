#include "app/outcome.hpp"

#include <algorithm>
#include <array>
#include <vector>

namespace tcpretry::app {

namespace {

using enum Mode;
using enum Stop;
using enum When;
using enum Result;

// Every way a run can end. Stopping a watch or a ping is how they normally end: the status
// then says whether the targets were up at that moment, however the run was stopped.
constexpr std::array k_rules = {
    // wait: until the targets the condition needs are connected
    Rule{wait, none, enough_up, ok, k_exit_ok, "ready (or COMMAND's status)"},
    Rule{wait, none, too_few_left, gave_up, k_exit_failed, "gave up"},
    Rule{wait, deadline, always, timeout, k_exit_timeout, "--timeout"},
    Rule{wait, sigint, always, interrupted, k_exit_sigint, "SIGINT"},
    Rule{wait, sigterm, always, interrupted, k_exit_sigterm, "SIGTERM"},
    Rule{wait, output_closed, always, interrupted, k_exit_sigpipe, "output closed"},
    // watch: until stopped, or until no target has anything left to try
    Rule{watch, none, all_gave_up, gave_up, k_exit_failed, "every target gave up"},
    Rule{watch, deadline, enough_up, ok, k_exit_ok, "connected when stopped"},
    Rule{watch, deadline, always, disconnected, k_exit_failed, "not connected when stopped"},
    Rule{watch, sigint, enough_up, ok, k_exit_ok, "connected when stopped"},
    Rule{watch, sigint, always, disconnected, k_exit_failed, "not connected when stopped"},
    Rule{watch, sigterm, enough_up, ok, k_exit_ok, "connected when stopped"},
    Rule{watch, sigterm, always, disconnected, k_exit_failed, "not connected when stopped"},
    Rule{watch, output_closed, always, interrupted, k_exit_sigpipe, "output closed"},
    // ping: until every target sent its --count probes, or stopped
    Rule{ping, none, done_all_answered, ok, k_exit_ok, "every target answered a probe"},
    Rule{ping, none, done, failed, k_exit_failed, "a target never answered"},
    Rule{ping, deadline, all_answered, ok, k_exit_ok, "every target answered a probe"},
    Rule{ping, deadline, always, failed, k_exit_failed, "a target never answered"},
    Rule{ping, sigint, all_answered, ok, k_exit_ok, "every target answered a probe"},
    Rule{ping, sigint, always, failed, k_exit_failed, "a target never answered"},
    Rule{ping, sigterm, all_answered, ok, k_exit_ok, "every target answered a probe"},
    Rule{ping, sigterm, always, failed, k_exit_failed, "a target never answered"},
    Rule{ping, output_closed, always, interrupted, k_exit_sigpipe, "output closed"},
};

// Statuses no run's ending decides: before the run, around it, or instead of it.
struct OtherStatus {
    int status;
    const char* shown;
    const char* words;
};
constexpr std::array k_other_statuses = {
    OtherStatus{k_exit_usage, "2", "usage error"},
    OtherStatus{k_exit_internal, "125", "internal error"},
    OtherStatus{k_exit_not_executable, "126/127", "COMMAND not executable/not found"},
};

bool holds(When when, const Facts& f) {
    switch (when) {
    case always:
        return true;
    case enough_up:
        return f.up >= f.needed;
    case too_few_left:
        return f.targets - std::min(f.gave_up, f.targets) < f.needed;
    case all_gave_up:
        return f.gave_up >= f.targets;
    case all_answered:
        return f.up >= f.targets;
    case done_all_answered:
        return f.probes_done && f.up >= f.targets;
    case done:
        return f.probes_done;
    }
    return false;
}

// "--watch: 0 if connected when stopped, else 1", from the rows for a stopped run.
std::string stopped_help(Mode mode, const char* flag) {
    const Rule* first = nullptr;
    const Rule* otherwise = nullptr;
    for (const Rule& r : k_rules) {
        if (r.mode != mode || r.stop != sigint)
            continue;
        if (!first)
            first = &r;
        else if (r.when == always)
            otherwise = &r;
    }
    return std::string(flag) + ": " + std::to_string(first->status) + " if " + first->words +
           ", else " + std::to_string(otherwise->status);
}

} // namespace

std::string_view mode_name(Mode m) {
    switch (m) {
    case wait:
        return "wait";
    case watch:
        return "watch";
    case ping:
        return "ping";
    }
    return "wait";
}

std::string_view result_name(Result r) {
    switch (r) {
    case ok:
        return "ok";
    case gave_up:
        return "gave_up";
    case timeout:
        return "timeout";
    case interrupted:
        return "interrupted";
    case disconnected:
        return "disconnected";
    case failed:
        return "failed";
    }
    return "ok";
}

std::span<const Rule> outcome_rules() {
    return k_rules;
}

std::optional<Outcome> exit_status(Mode mode, const Facts& facts) {
    for (const Rule& r : k_rules) {
        if (r.mode != mode || r.stop != facts.stop || !holds(r.when, facts))
            continue;
        Outcome o{r.result, r.status, facts.command && r.result == ok};
        // The reader left while we wrote the summary: the status says so. Success stays
        // success, and a COMMAND still runs (its stdout is not ours).
        if (facts.summary_lost)
            o.status = k_exit_sigpipe;
        return o;
    }
    return std::nullopt;
}

std::string exit_status_help() {
    // Wait mode's rows name every status a run can end with; the other modes add theirs.
    std::vector<std::pair<int, std::string>> statuses;
    for (const Rule& r : k_rules) {
        bool seen = std::any_of(statuses.begin(), statuses.end(),
                                [&](const auto& s) { return s.first == r.status; });
        if (r.mode == wait && !seen)
            statuses.emplace_back(r.status, std::to_string(r.status) + " " + r.words);
    }
    for (const OtherStatus& o : k_other_statuses)
        statuses.emplace_back(o.status, std::string(o.shown) + " " + o.words);
    std::sort(statuses.begin(), statuses.end());
    std::string text = "Exit status:";
    for (std::size_t i = 0; i < statuses.size(); ++i)
        text += (i == 0 ? " " : ", ") + statuses[i].second;
    return text + ". " + stopped_help(watch, "--watch") + ". " + stopped_help(ping, "--count") +
           ".";
}

} // namespace tcpretry::app
