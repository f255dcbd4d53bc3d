#include "app/board.hpp"

namespace tcpretry::app {

void Board::set_state(TargetRecord& r, TargetState s) {
    --m_counts[static_cast<std::size_t>(r.state)];
    ++m_counts[static_cast<std::size_t>(s)];
    r.state = s;
}

void Board::set_up(TargetRecord& r, bool up) {
    if (r.up != up)
        up ? ++m_up : --m_up;
    r.up = up;
}

void Board::set_problem(TargetRecord& r, const core::Event& e) {
    r.problem = Problem{e.type, e.error, e.reason, e.code, e.message};
}

std::size_t Board::add_target() {
    m_records.emplace_back();
    ++m_counts[static_cast<std::size_t>(TargetState::waiting)];
    return m_records.size() - 1;
}

void Board::remove_target(std::size_t target) {
    TargetRecord& r = m_records.at(target);
    if (r.removed)
        return;
    set_up(r, false);
    --m_counts[static_cast<std::size_t>(r.state)];
    r.removed = true;
    ++m_removed;
}

void Board::on_event(const core::Event& e) {
    if (e.type == core::EventType::warning || e.target >= m_records.size() ||
        m_records[e.target].removed)
        return;
    TargetRecord& r = m_records[e.target];
    switch (e.type) {
    case core::EventType::attempt:
        r.round = e.attempt;
        break;
    case core::EventType::failed:
        set_problem(r, e);
        // A connected target stays so: another address of a recycled connection's reconnect
        // may fail before one connects.
        if (r.state == TargetState::waiting)
            set_state(r, TargetState::failing);
        break;
    case core::EventType::connected:
        set_state(r, TargetState::connected);
        set_up(r, true);
        r.problem.reset();
        break;
    case core::EventType::closed: // --invert: what the wait waits for
        set_state(r, TargetState::connected);
        set_up(r, true);
        r.problem.reset();
        break;
    case core::EventType::disconnected:
        if (e.outage) { // recycled: still available, and its reconnect follows
            set_state(r, TargetState::waiting);
            set_up(r, false);
            set_problem(r, e);
        }
        break;
    case core::EventType::gave_up:
        set_state(r, TargetState::gave_up);
        if (!r.problem) // the failures before it say more
            set_problem(r, e);
        break;
    case core::EventType::probe:
        r.round = e.seq;
        set_state(r, e.ok ? TargetState::connected : TargetState::gave_up);
        if (e.ok) {
            set_up(r, true); // answered once: up for the exit status
            r.problem.reset();
        } else {
            set_problem(r, e);
        }
        break;
    case core::EventType::retry:
    case core::EventType::warning:
        break;
    case core::EventType::removed:
        remove_target(e.target);
        break;
    }
}

BoardView::BoardView(const Board* shared, std::size_t targets)
    : m_own(shared ? nullptr : std::make_unique<Board>(targets)),
      m_board(shared ? shared : m_own.get()) {}

} // namespace tcpretry::app
