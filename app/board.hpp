// The per-target board (after fping's HOST_ENTRY): one record a target, updated once per event
// by the run before any reporter hears of it. The fleet view, the metrics' up gauge, the list
// of targets that are not up and the exit status all read it.
#pragma once

#include "core/event.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tcpretry::app {

// Where a target stands now.
//   wait, watch: waiting (no round failed yet, or reconnecting after an outage), failing (its
//   latest round failed), connected (watch: available; a recycled connection stays so),
//   gave_up (no rounds left).
//   ping: each probe is a round of its own and the latest decides: connected, or gave_up
//   (that probe's round gave up); waiting before the first.
enum class TargetState { waiting, failing, connected, gave_up };

// Why a target is not up: the latest failure, outage or give-up since it was last up.
struct Problem {
    core::EventType event = core::EventType::failed;  // failed, probe, disconnected or gave_up
    core::ErrorClass error = core::ErrorClass::fatal; // not for disconnected (but --recheck)
    core::DisconnectReason reason = core::DisconnectReason::closed; // disconnected
    core::ErrorCode code;
    std::string message;
};

struct TargetRecord {
    TargetState state = TargetState::waiting;
    // What the exit status asks: wait: connected; watch: available now; ping: answered at
    // least one probe.
    bool up = false;
    unsigned round = 0; // the latest round begun (ping: the latest probe's number)
    std::optional<Problem> problem;
    bool removed = false; // gone from the --targets-file (SIGHUP): in no count, no event
};

class Board {
  public:
    explicit Board(std::size_t targets) : m_records(targets) {
        m_counts[static_cast<std::size_t>(TargetState::waiting)] = targets;
    }

    // Events about the run (warnings), an unknown or a removed target are ignored; a `removed`
    // event removes its target.
    void on_event(const core::Event& e);

    // Live target reload (SIGHUP): a new target takes the next slot, waiting; a removed one
    // keeps its slot, out of every count, and no slot is reused within a run, so the index of
    // every other target stays what it was.
    std::size_t add_target();
    void remove_target(std::size_t target);

    // Slots, removed ones included: indexes run from 0 to size() - 1.
    std::size_t size() const { return m_records.size(); }
    // Targets not removed.
    std::size_t live() const { return m_records.size() - m_removed; }
    const TargetRecord& at(std::size_t target) const { return m_records.at(target); }
    std::size_t count(TargetState s) const { return m_counts[static_cast<std::size_t>(s)]; }
    std::size_t up_count() const { return m_up; }

  private:
    void set_state(TargetRecord& r, TargetState s);
    void set_up(TargetRecord& r, bool up);
    static void set_problem(TargetRecord& r, const core::Event& e);

    std::vector<TargetRecord> m_records;
    std::size_t m_counts[4] = {0, 0, 0, 0}; // by TargetState
    std::size_t m_up = 0;
    std::size_t m_removed = 0;
};

// A reporter reads the run's board. Used on its own (tests, another program), it keeps a board
// of its own, fed from the events it hears.
class BoardView {
  public:
    BoardView(const Board* shared, std::size_t targets);
    // Feeds our own board; the run's board is the run's to feed.
    void on_event(const core::Event& e) {
        if (m_own)
            m_own->on_event(e);
    }
    // SIGHUP brought a new target: our own board makes room (the run's board is the run's).
    void add_target() {
        if (m_own)
            m_own->add_target();
    }
    const Board& operator*() const { return *m_board; }
    const Board* operator->() const { return m_board; }

  private:
    std::unique_ptr<Board> m_own;
    const Board* m_board;
};

} // namespace tcpretry::app
