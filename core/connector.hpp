// The Connector: gets one target connected, round after round (after muduo's Connector).
// A *round* is one try at the target; an *attempt* is one address's connect within a round.
//
// The algorithm, once:
//   A round begins (with a gate, --parallel, once it has a slot): ++round, a Round is made
//   (all of the round's state lives in it and dies with it) and its deadline timer starts (it
//   covers resolution and connect). A numeric host is its own address; a name is looked up in
//   /etc/hosts, then in DNS, A and AAAA asked separately. HappyEyeballs (RFC 8305) says which
//   address next and when: families interleaved, IPv6 first; if A answers first, 50 ms for
//   AAAA; the next address 250 ms after the previous one, or at once when an attempt fails.
//   Per attempt: socket(NONBLOCK|CLOEXEC), optional bind, connect(). Its errno decides
//   (connect_step): in progress -> watch the fd for writability; anything else ends the
//   attempt, and some errnos mark it fatal. Writable is confirmed with SO_ERROR, then a
//   connection to ourselves is refused (closed with an RST, so no TIME_WAIT). A socket() that
//   fails with EMFILE/ENFILE while other rounds are in flight suspends the round at the gate
//   until a descriptor frees up (no failure; the Round is kept).
//   After each attempt its fd watch is removed and the fd closed; the first to connect wins,
//   and every other attempt and query of the round ends silently, the gate slot is freed.
//   With --send/--expect the winner is checked (state checking): a Check does the I/O within
//   its own timer (STARTTLS, the TLS handshake, then --send/--expect over the channel); a
//   failed check fails the round (starttls, tls_*, cert_expiring, expect_*, timeout).
//   Phase times: a name's lookup is timed from the round's start to its first address (or to
//   /etc/hosts' answer); the connect per attempt; the Check times its TLS handshake. Every
//   failed event names its phase (resolve, connect, or the Check's starttls / tls / check).
//   A Unix socket target (unix:PATH) skips resolution and Happy Eyeballs: its round has one
//   address, an AF_UNIX marker, whose connect() uses the Target's path; no bind, no
//   self-connect check; ENOENT is `missing` (retried), EACCES/EPERM `denied` (fatal).
//   The round fails when every address failed (or nothing resolved, or the deadline passed).
//   Then the Round is dropped and: rounds exhausted or every address fatal -> gave up; else
//   the retry timer starts the next round after the backoff delay. stop() drops the Round and
//   cancels the retry timer. restart() after a handed-on connection ended schedules the next
//   round the same way; reconnect_after() schedules it without a backoff delay (a recycled
//   connection). --invert turns the outcome round: a round that connects (and passes its
//   check) fails with still_open, its connection closed at once; a round that fails with
//   refused, timeout, unreachable, resolve or missing ends the target (`closed` event, state
//   closed), and an unanswered one does so when the deadline passes. A timer that cannot be armed
//   (out of memory) fails the round as a local error; nothing is thrown from a libevent callback.
#pragma once

#include "core/backoff.hpp"
#include "core/check.hpp"
#include "core/event.hpp"
#include "core/gate.hpp"
#include "core/loop.hpp"
#include "core/resolver.hpp"
#include "core/target.hpp"

#include <functional>
#include <memory>
#include <optional>

namespace tcpretry::core {

struct ConnectorOptions {
    Duration connect_timeout = k_connect_timeout; // a round's deadline
    unsigned max_rounds = 0; // give up after this many failed rounds in a row; 0 = never
    BackoffPolicy backoff;
    uint64_t seed = 0;                 // seeds the backoff jitter (not read when shared)
    std::optional<Family> family;      // only this family (-4 / -6)
    std::optional<SockAddr> source;    // bind to this local address (port 0)
    std::optional<CheckOptions> check; // a connection counts only once the check passed
    Gate* gate = nullptr; // shared cap on rounds in flight; none: no cap, EMFILE is a failure
    bool invert = false;  // --invert: done when nothing accepts (see above)
};

class Connector {
  public:
    enum class State {
        idle,       // not started
        queued,     // a round waits at the gate (--parallel, or out of descriptors)
        connecting, // a round is under way (resolving and/or connecting)
        checking,   // a round's winner is being checked (--send / --expect)
        waiting,    // the round failed; the retry timer is pending
        connected,  // done: the fd was handed on
        gave_up,    // done: no more rounds
        closed,     // done (--invert): a round found nothing accepting
        stopped,    // stop() was called
    };

    // Called with the connection (the socket, or its TLS session) and how many bytes the
    // check already read from it; if unset, the connection is closed at once.
    using ConnectedHandler = std::function<void(Channel channel, uint64_t bytes_read)>;

    // With options of its own (options.seed seeds the backoff jitter).
    Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              ConnectorOptions options, EventSink& sink);
    // With options shared by many Connectors (one copy for a fleet); `seed` seeds this one's
    // backoff jitter, options->seed is not read.
    Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
              std::shared_ptr<const ConnectorOptions> options, uint64_t seed, EventSink& sink);
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
    const ConnectorOptions& options() const { return *m_options; }
    unsigned rounds() const { return m_round; }
    unsigned failed_rounds() const { return m_failed_rounds; }
    // Whether a round's state is held (from a round's start to its end); for tests.
    bool in_round() const { return m_current != nullptr; }

  private:
    struct Attempt;
    struct Round;

    void begin_round();
    void enter_round(); // holding a gate slot (or without a gate)
    void resume_round();
    void add_local_addresses(const std::vector<SockAddr>& addresses);
    void lookup(Family family);
    void on_resolved(Family family, ResolveResult result);
    void start_addresses();
    void on_pace();
    void connect_to(const SockAddr& addr);
    void suspend_round(const SockAddr& addr, int err);
    void on_writable(Attempt* attempt);
    void attempt_failed(Attempt* attempt, ErrorClass error, ErrorCode code, std::string message,
                        bool fatal);
    void report_failure(Phase phase, const Endpoint& peer, TimePoint started, ErrorClass error,
                        ErrorCode code, std::string message, bool fatal, std::string received = {},
                        std::optional<CertFacts> cert = std::nullopt);
    void succeed(Attempt* attempt, const SockAddr& local);
    void on_check_done(CheckOutcome outcome);
    void hand_on(Endpoint peer, Channel channel, uint64_t bytes_read,
                 std::optional<TlsInfo> tls = std::nullopt,
                 std::optional<Duration> tls_time = std::nullopt);
    void still_open(const Endpoint& peer, Channel channel);
    void end_closed(); // --invert: the failed round is the success
    void check_round_over();
    void fail_resolution();
    void on_round_timeout();
    void fail_locally(int err);
    void fail_round(ErrorClass last_error);
    void schedule_retry();
    void give_up(ErrorClass error, std::string message);
    Event make_event(EventType type) const;
    Event make_failure(Phase phase) const; // a failed event of the current round
    void emit(const Event& e) { m_sink.on_event(e); }
    void emit_failure(const Event& e);  // remembered by the round (--invert's `closed` says it)
    ErrorClass classify(int err) const; // connect()'s errno, for this target's kind

    Loop& m_loop;
    Resolver& m_resolver;
    EventSink& m_sink;
    std::shared_ptr<const ConnectorOptions> m_options;
    Target m_target;
    std::size_t m_index;
    ConnectedHandler m_on_connected;
    Backoff m_backoff;

    State m_state = State::idle;
    unsigned m_round = 0;                         // the current (or last) round's number, from 1
    unsigned m_failed_rounds = 0;                 // in all
    unsigned m_failed_streak = 0;                 // since the last success
    std::optional<TimePoint> m_first_round_start; // of this outage: waited_ms counts from it
    std::unique_ptr<Round> m_current; // while a round is in flight (or suspended); else null
    Timer m_retry_timer;
};

} // namespace tcpretry::core
