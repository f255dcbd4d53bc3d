// The Connector: gets one target connected, round after round (after muduo's Connector).
//
// The algorithm, once:
//   A round begins: ++attempt, the connect timer starts (it covers resolution and connect).
//   A numeric host is its own address; a name is looked up in /etc/hosts, then in DNS, A and
//   AAAA asked separately. Addresses are tried Happy-Eyeballs style (RFC 8305): families
//   interleaved, IPv6 first; if A answers first we wait 50 ms for AAAA; the next address
//   starts 250 ms after the previous one, or at once when an attempt fails.
//   Per address: socket(NONBLOCK|CLOEXEC), optional bind, connect(). Its errno decides
//   (connect_step): in progress -> watch the fd for writability; anything else ends this
//   address's attempt, and some errnos mark it fatal. Writable is confirmed with SO_ERROR,
//   then a connection to ourselves is refused (closed with an RST, so no TIME_WAIT).
//   With a gate (--parallel), a round first waits for a slot; a socket() that fails with
//   EMFILE/ENFILE suspends the round at the gate until a descriptor frees up (no failure).
//   After each attempt its fd watch is removed and the fd closed; only the winner's fd is
//   handed on, and every other attempt and query of the round is cancelled silently.
//   With --send/--expect, the winner is then checked: bytes sent, the reply matched within
//   its own timer; a failed check fails the round (error expect_mismatch / expect_timeout).
//   The round fails when every address failed (or nothing resolved, or the timer expired).
//   Then: rounds exhausted or every address fatal -> gave up; else a retry timer with the
//   backoff delay starts the next round. stop() cancels everything, the retry timer too.
//   restart() after a handed-on connection ended schedules the next round the same way;
//   reconnect_after() schedules it without a backoff delay (a recycled connection).
#pragma once

#include "core/backoff.hpp"
#include "core/event.hpp"
#include "core/expect.hpp"
#include "core/gate.hpp"
#include "core/loop.hpp"
#include "core/resolver.hpp"
#include "core/target.hpp"

#include <array>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace tcpretry::core {

// An application-level check after the TCP connect: send bytes, then expect a reply.
struct CheckOptions {
    std::string send;              // sent right after connecting (may be empty)
    std::optional<Matcher> expect; // matched against the first k_expect_limit bytes received
    Duration timeout = k_connect_timeout;
};

struct ConnectorOptions {
    Duration connect_timeout = k_connect_timeout;
    unsigned max_rounds = 0; // give up after this many failed rounds in a row; 0 = never
    BackoffPolicy backoff;
    uint64_t seed = 0;
    std::optional<Family> family;   // only this family (-4 / -6)
    std::optional<SockAddr> source; // bind to this local address (port 0)
    std::optional<CheckOptions> check; // a connection counts only once the check passed
    Gate* gate = nullptr; // shared cap on rounds in flight; none: no cap, EMFILE is a failure
};

class Connector {
  public:
    enum class State {
        idle,       // not started
        queued,     // a round waits at the gate (--parallel, or out of descriptors)
        connecting, // a round is under way (resolving and/or connecting)
        waiting,    // the round failed; the retry timer is pending
        connected,  // done: the fd was handed on
        gave_up,    // done: no more rounds
        stopped,    // stop() was called
    };

    // Called with the connected socket and how many bytes the check already read from it;
    // if unset, the socket is closed at once.
    using ConnectedHandler = std::function<void(UniqueFd fd, uint64_t bytes_read)>;

    Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              ConnectorOptions options, EventSink& sink);
    ~Connector();
    Connector(const Connector&) = delete;
    Connector& operator=(const Connector&) = delete;

    void set_connected_handler(ConnectedHandler handler) { m_on_connected = std::move(handler); }

    void start(); // begins the first round
    void stop();  // cancels timers, queries and sockets; emits nothing more
    // After a handed-on connection ended: the next round after the backoff delay.
    void restart();
    // After a handed-on connection ended: the next round after `delay`, without a retry event
    // and without touching the backoff (watch mode's immediate reconnect).
    void reconnect_after(Duration delay);
    void reset_backoff() { m_backoff.reset(); }

    State state() const { return m_state; }
    const Target& target() const { return m_target; }
    unsigned rounds() const { return m_round; }
    unsigned failed_rounds() const { return m_failed_rounds; }

  private:
    struct Attempt;
    struct FamilyLookup {
        bool wanted = false;
        bool done = false;
        Resolver::RequestId request = 0;
        std::optional<ResolveResult> failure;
    };

    static std::size_t slot(Family f) { return f == Family::ipv6 ? 0 : 1; }

    void begin_round();
    void enter_round(); // holding a gate slot (or without a gate)
    void release_slot();
    void suspend_round(const SockAddr& addr, int err);
    void lookup(Family family);
    void on_resolved(Family family, ResolveResult result);
    void start_addresses();
    bool start_next();
    void connect_to(const SockAddr& addr);
    void on_writable(Attempt* attempt);
    void finish_attempt(Attempt* attempt, ErrorClass error, ErrorCode code, std::string message,
                        bool fatal);
    void report_failure(const SockAddr& addr, TimePoint started, ErrorClass error, ErrorCode code,
                        std::string message, bool fatal, std::string received = {});
    void succeed(Attempt* attempt);
    void begin_check(std::unique_ptr<Attempt> winner);
    void on_check_io(short what);
    void on_check_timeout();
    void check_failed(ErrorClass error, ErrorCode code, std::string message);
    void hand_on(std::unique_ptr<Attempt> winner);
    std::unique_ptr<Attempt> take_checked();
    void check_round_over();
    void on_round_timeout();
    void fail_round(ErrorClass last_error);
    void schedule_retry();
    void cancel_round();
    Event make_event(EventType type) const;
    void emit(const Event& e) { m_sink.on_event(e); }

    Loop& m_loop;
    Resolver& m_resolver;
    Target m_target;
    std::size_t m_index;
    ConnectorOptions m_options;
    EventSink& m_sink;
    ConnectedHandler m_on_connected;
    Backoff m_backoff;

    State m_state = State::idle;
    unsigned m_round = 0;
    unsigned m_failed_rounds = 0;
    std::optional<TimePoint> m_first_round_start;
    TimePoint m_round_start{};

    // Per round.
    std::array<FamilyLookup, 2> m_lookups;
    // Addresses not tried yet this round, per family. Not a std::deque: libstdc++'s allocates
    // about 600 bytes when constructed, which ten thousand targets times two would feel.
    struct AddressQueue {
        std::vector<SockAddr> items;
        std::size_t head = 0;
        bool empty() const { return head == items.size(); }
        const SockAddr& front() const { return items[head]; }
        void pop_front() { ++head; }
        void push_back(const SockAddr& a) { items.push_back(a); }
        void push_front(const SockAddr& a);
        void clear() {
            items.clear();
            head = 0;
        }
    };
    std::array<AddressQueue, 2> m_queue;
    std::optional<Family> m_last_family;
    std::vector<std::unique_ptr<Attempt>> m_attempts;
    unsigned m_started = 0;      // addresses tried this round
    unsigned m_fatal = 0;        // of those, failed fatally
    bool m_delay_done = false;   // the resolution delay was already given this round
    unsigned m_failed_streak = 0; // failed rounds since the last success
    bool m_holds_slot = false;    // this round holds a gate slot
    bool m_suspended = false;     // this round waits for a descriptor, mid-round

    // The check of a connected socket (--send / --expect).
    std::unique_ptr<Attempt> m_checking;
    TimePoint m_check_start{};
    Duration m_connect_duration{};
    std::size_t m_sent = 0;
    std::string m_received;
    ErrorClass m_last_error = ErrorClass::fatal;

    Timer m_round_timer;
    Timer m_stagger_timer; // paces addresses; also the resolution delay before the first
    Timer m_retry_timer;
    Timer m_check_timer;
};

} // namespace tcpretry::core
