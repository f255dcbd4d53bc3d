// Human-readable lines. A long wait stays readable: a failure that repeats is printed once,
// then summarised every 10 s or when the error changes (unless --verbose).
#pragma once

#include "app/board.hpp"
#include "app/options.hpp"
#include "app/output.hpp"
#include "app/report.hpp"

#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>

namespace tcpretry::app {

inline constexpr core::Duration k_repeat_summary_every = std::chrono::seconds(10);

// "0.21 ms", "12 ms", "1.3 s": how long one connect took.
std::string format_latency(core::Duration d);
// "0.7 s", "20.3 s", "2m05s": how long something has been going on.
std::string format_span(core::Duration d);
// "200 ms", "1.5 s": a retry delay.
std::string format_delay(core::Duration d);

struct HumanStyle {
    Verbosity verbosity = Verbosity::normal;
    bool color = false;
    bool watch = false;     // connections are held: number them, say "reconnecting"
    bool sparkline = false; // ping summaries end with a latency sparkline (on a terminal)
    // More than k_fleet_threshold targets and not --verbose: a live status line on a
    // terminal (else one line per target outcome), then a table of what did not succeed.
    bool fleet = false;
    bool live = false;       // the status line: only on a terminal
    bool timestamps = false; // each line starts with the local date and time
    bool invert = false;     // --invert: the summary counts closed targets, lists open ones
};

inline constexpr std::size_t k_fleet_threshold = 10;

// One character a probe: ▁..█ scaled between the fastest and slowest, '×' for a failure.
std::string sparkline(const std::vector<std::optional<core::Duration>>& history);

class HumanReporter : public Reporter {
  public:
    using Now = std::function<core::TimePoint()>;
    using WallNow = std::function<std::chrono::system_clock::time_point()>;

    // `out` gets the report; `err` gets errors in --quiet mode. `board`: the run's, fed by
    // the run; none: one of our own, fed from on_event.
    HumanReporter(Output& out, Output& err, std::vector<core::Target> targets, HumanStyle style,
                  Now now = core::Clock::now, WallNow wall = std::chrono::system_clock::now,
                  const Board* board = nullptr);
    // The same over targets that outlive the reporter (the run's Options): a fleet's list is
    // not copied.
    HumanReporter(Output& out, Output& err, std::span<const core::Target> targets, HumanStyle style,
                  Now now = core::Clock::now, WallNow wall = std::chrono::system_clock::now,
                  const Board* board = nullptr);
    void start() override {}
    void tick() override;
    void on_event(const core::Event& e) override;
    void target_summary(std::size_t target, const core::WatchStats& stats) override;
    void probe_summary(std::size_t target, const core::ProbeStats& stats, bool interim) override;
    void summary(const Summary& s) override;
    void add_target(const core::Target& target) override;

  private:
    // A failure line held until its round ends: printed with "; retrying in" when the round
    // fails, folded into the connected line when another address of the round connects.
    struct Held {
        std::string line;
        std::string then; // "retrying in " or "reconnecting in "
    };
    // A target's lines: what is held back, folded or summarised (where it stands is the
    // board's).
    // A recycled connection waiting for its reconnect, and the repeats not printed.
    struct Recycling {
        std::optional<core::Event> pending;
        std::string key; // what the last printed one was (disconnect words)
        unsigned suppressed = 0;
        core::TimePoint last_print{};
    };
    struct LineState {
        std::vector<Held> held;
        std::vector<std::string> folded; // "::1: connection refused", this round
        // Watch: recycled connections, made on the first (a target's state stays small).
        std::unique_ptr<Recycling> recycling;
        // Repeated failures: printed once, then summarised.
        std::optional<core::ErrorClass> last_error; // of the failures being summarised
        std::set<std::string> seen;                 // failures printed since the error last changed
        unsigned suppressed = 0;                    // repeats not printed since the last line
        unsigned last_round = 0;                    // the round of the last failure
        // Where this spell of failures began (the first round, or the first after a
        // connection): "still refused after N attempts, SPAN" counts from there.
        unsigned first_failed_round = 0;
        core::TimePoint first_round{};
        core::TimePoint last_print{};
    };

    bool on_fleet_event(const core::Event& e);
    void on_line_event(const core::Event& e, LineState& t);
    void on_probe(const core::Event& e);
    void on_gave_up(const core::Event& e, LineState& t);
    void on_closed(const core::Event& e, LineState& t);
    void fleet_table();
    std::string not_up_reason(std::size_t target) const;
    void draw_status(bool force);
    void clear_status();

    void flush_pending();
    void flush_held(LineState& t, const std::string& suffix = {});
    void flush_recycles(std::size_t target, LineState& t);
    void print(std::string line);
    void write_err(std::string line);
    std::string stamp() const;
    void on_failed(const core::Event& e, LineState& t);
    void on_connected(const core::Event& e, LineState& t);
    void on_disconnected(const core::Event& e, LineState& t);
    void list_not_up(bool ping);
    std::string label(const core::Event& e) const;
    std::string paint(std::string_view text, const char* code) const;
    std::string result_words(Result r) const;
    std::string still_line(const core::Event& e, const LineState& t) const;

    Output& m_out;
    Output& m_err;
    HumanReporter(Output& out, Output& err, std::span<const core::Target> targets, HumanStyle style,
                  Now now, WallNow wall, const Board* board, std::vector<core::Target> own);

    std::vector<core::Target> m_own_targets; // when given by value, or once one is added
    std::span<const core::Target> m_targets;
    const core::Target& target_at(std::size_t i) const;
    HumanStyle m_style;
    Now m_now;
    WallNow m_wall;
    // Made on a target's first failure, drop or give-up: a target that only connects (most
    // of a fleet) needs none, and is handled with m_blank.
    std::vector<std::unique_ptr<LineState>> m_state;
    LineState m_blank;
    BoardView m_board; // where each target stands: the fleet view and the list of not up
    core::TimePoint m_started{};
    std::optional<core::TimePoint> m_status_drawn; // when the status line was last drawn
};

} // namespace tcpretry::app
