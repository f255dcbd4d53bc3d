#include "core/connector.hpp"

#include "core/happy_eyeballs.hpp"

#include <algorithm>
#include <array>
#include <cerrno>
#include <event2/util.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <utility>
#include <vector>

namespace tcpretry::core {

namespace {

std::size_t slot(Family f) {
    return f == Family::ipv6 ? 0 : 1;
}

// connect()'s errno (0: connected); a Unix marker connects to `path`.
int connect_socket(int fd, const SockAddr& addr, const std::string& path) {
    if (!addr.is_unix())
        return ::connect(fd, addr.get(), addr.length) == 0 ? 0 : errno;
    UnixAddress u = make_unix_address(path);
    return ::connect(fd, reinterpret_cast<const sockaddr*>(&u.addr), u.length) == 0 ? 0 : errno;
}

} // namespace

// One address's connect: its socket and the watch for writability.
struct Connector::Attempt {
    Attempt(Connector* c, const SockAddr& a, Endpoint p, TimePoint t, UniqueFd f)
        : owner(c), address(a), peer(std::move(p)), started(t), fd(std::move(f)) {}

    Connector* owner;
    SockAddr address;
    Endpoint peer; // the address as events show it: formatted once, for every event
    TimePoint started;
    UniqueFd fd;
    WriteWatch watch; // cancelled before the fd closes (declared after it)

    static void on_writable(void* arg) noexcept {
        auto* self = static_cast<Attempt*>(arg);
        self->owner->on_writable(self);
    }
};

// Everything a round holds, made at its start and dropped at its end. Dropping it cancels
// the round's queries, closes its sockets, disarms its timers and frees its gate slot.
struct Connector::Round {
    struct Lookup {
        Resolver::RequestId request = 0;      // while the query is out
        std::optional<ResolveResult> failure; // the lookup ended without an address
    };

    explicit Round(Connector& c)
        : owner(c), deadline(c.m_loop, [&c] { c.on_round_timeout(); }),
          pace(c.m_loop, [&c] { c.on_pace(); }) {}
    ~Round() { end_connecting(); }
    Round(const Round&) = delete;
    Round& operator=(const Round&) = delete;

    // The connect phase is over (won, failed or cancelled): queries, attempts, timers, slot.
    void end_connecting();

    Connector& owner;
    TimePoint start{};
    std::optional<Duration> resolve_time; // a name's lookup: until its first address
    std::array<Lookup, 2> lookups;        // by family: IPv6, IPv4
    HappyEyeballs eyeballs;               // the addresses not tried yet, and when the next starts
    std::vector<std::unique_ptr<Attempt>> attempts; // connecting now
    unsigned fatal = 0; // attempts that failed with an error retrying cannot fix
    ErrorClass last_error = ErrorClass::fatal;
    // --invert only: the latest failure's code, words and address, which the `closed` event
    // repeats. Behind a pointer, as the HTTP result below: every waiting target has a round, and
    // 10,000 targets must fit in 12 MiB.
    struct LastFailure {
        ErrorCode code;
        std::string message;
        std::optional<Endpoint> peer;
    };
    std::unique_ptr<LastFailure> last;
    bool holds_slot = false; // a gate slot
    bool suspended = false;  // waits at the gate for a descriptor (state queued)
    Timer deadline;          // the round's: resolution and connect
    Timer pace;              // wakes HappyEyeballs' waits (stagger, resolution delay)
    std::optional<TimePoint> pace_until;

    // State checking: the winner and its check.
    Endpoint winner;
    SockAddr winner_local; // our end of it
    TimePoint winner_started{};
    Duration connect_duration{};
    TimePoint check_start{};
    std::unique_ptr<Check> check;
    struct HttpPassed {
        HttpInfo info;
        std::optional<Duration> time;
    };
    std::unique_ptr<HttpPassed> http; // passed, an HTTP TARGET: its response
};

void Connector::Round::end_connecting() {
    for (Lookup& l : lookups) {
        if (l.request != 0)
            owner.m_resolver.cancel(l.request);
        l.request = 0;
    }
    attempts.clear();
    deadline.cancel();
    pace.cancel();
    pace_until.reset();
    if (holds_slot) {
        holds_slot = false;
        owner.m_options->gate->leave();
    }
}

Connector::Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     ConnectorOptions options, EventSink& sink)
    : Connector(loop, resolver, std::move(target), index,
                std::make_shared<const ConnectorOptions>(options), options.seed, sink) {}

Connector::Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     std::shared_ptr<const ConnectorOptions> options, uint64_t seed,
                     EventSink& sink)
    : m_loop(loop), m_resolver(resolver), m_sink(sink), m_options(std::move(options)),
      m_target(std::move(target)), m_index(index), m_backoff(m_options->backoff, seed),
      m_retry_timer(loop, [this] { begin_round(); }) {}

Connector::~Connector() {
    stop();
}

void Connector::start() {
    if (m_state == State::idle)
        begin_round();
}

void Connector::stop() {
    m_current.reset();
    m_retry_timer.cancel();
    if (m_options->gate)
        m_options->gate->withdraw(this);
    switch (m_state) {
    case State::idle:
    case State::queued:
    case State::connecting:
    case State::checking:
    case State::waiting:
        m_state = State::stopped;
        break;
    case State::connected:
    case State::gave_up:
    case State::closed:
    case State::stopped:
        break;
    }
}

Event Connector::make_event(EventType type) const {
    Event e;
    e.type = type;
    e.target = m_index;
    e.attempt = m_round; // the round's number (JSON calls it "attempt")
    return e;
}

Event Connector::make_failure(Phase phase) const {
    Event e = make_event(EventType::failed);
    e.phase = phase;
    e.resolve_time = m_current->resolve_time;
    return e;
}

void Connector::begin_round() {
    Gate* gate = m_options->gate;
    if (gate && !gate->enter(this, [this] { enter_round(); })) {
        m_state = State::queued;
        return;
    }
    enter_round();
}

void Connector::enter_round() {
    if (m_current && m_current->suspended)
        return resume_round();
    m_current = std::make_unique<Round>(*this);
    Round& r = *m_current;
    r.holds_slot = m_options->gate != nullptr;
    m_state = State::connecting;
    ++m_round;
    r.start = Clock::now();
    if (!m_first_round_start)
        m_first_round_start = r.start;
    if (!r.deadline.start(m_options->connect_timeout))
        return fail_locally(ENOMEM);

    if (m_target.numeric || m_target.is_unix()) {
        r.eyeballs.add(m_target.is_unix() ? SockAddr::unix_marker() : *m_target.numeric);
        return start_addresses();
    }
    // /etc/hosts and localhost names first: a name they answer for is not asked of DNS, in
    // any family; a family they have no address for has none (-6 with an IPv4-only entry).
    if (auto local = m_resolver.local_lookup(m_target.host)) {
        r.resolve_time = Clock::now() - r.start;
        add_local_addresses(*local);
        return start_addresses();
    }
    for (Family f : {Family::ipv6, Family::ipv4})
        if (!m_options->family || *m_options->family == f)
            r.eyeballs.expect(f);
    for (Family f : {Family::ipv6, Family::ipv4})
        if (!m_options->family || *m_options->family == f)
            lookup(f);
    check_round_over();
}

// Back from waiting for a descriptor: the round goes on with a fresh deadline.
void Connector::resume_round() {
    Round& r = *m_current;
    r.suspended = false;
    r.holds_slot = m_options->gate != nullptr;
    m_state = State::connecting;
    if (!r.deadline.start(m_options->connect_timeout))
        return fail_locally(ENOMEM);
    start_addresses();
}

void Connector::add_local_addresses(const std::vector<SockAddr>& addresses) {
    Round& r = *m_current;
    const std::optional<Family>& only = m_options->family;
    bool any = false;
    for (SockAddr a : addresses) {
        if (only && *only != a.family())
            continue;
        a.set_port(m_target.port);
        r.eyeballs.add(a);
        any = true;
    }
    if (!only || any)
        return;
    ResolveResult none;
    none.code = ErrorCode::resolver(EVUTIL_EAI_NODATA);
    none.message = *only == Family::ipv6 ? "name has no IPv6 address in /etc/hosts"
                                         : "name has no IPv4 address in /etc/hosts";
    none.no_data = true;
    r.lookups[slot(*only)].failure = std::move(none);
}

void Connector::lookup(Family family) {
    Round& r = *m_current;
    Round::Lookup& l = r.lookups[slot(family)];
    l.request = m_resolver.resolve(
        m_target.host, family, m_target.port,
        [this, family](ResolveResult result) { on_resolved(family, std::move(result)); });
    if (l.request != 0)
        return;
    ResolveResult failed;
    failed.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
    failed.message = "cannot start a DNS query";
    l.failure = std::move(failed);
    r.eyeballs.resolved(family, {});
}

void Connector::on_resolved(Family family, ResolveResult result) {
    Round& r = *m_current; // a round's end cancels its queries: this one is alive
    Round::Lookup& l = r.lookups[slot(family)];
    l.request = 0;
    if (!r.resolve_time && !result.addresses.empty())
        r.resolve_time = Clock::now() - r.start;
    r.eyeballs.resolved(family, result.addresses);
    if (result.addresses.empty())
        l.failure = std::move(result);
    start_addresses();
}

// Asks HappyEyeballs what to do until it says wait or idle; then sees whether the round is
// over. Anything here may end the round (a sink that stops us, a failure): re-checked.
void Connector::start_addresses() {
    while (m_current && m_state == State::connecting) {
        Round& r = *m_current;
        TimePoint now = Clock::now();
        HappyEyeballs::Step step = r.eyeballs.next(now);
        if (step.kind == HappyEyeballs::Step::Kind::connect) {
            connect_to(step.address);
            continue;
        }
        if (step.kind == HappyEyeballs::Step::Kind::idle) {
            r.pace.cancel();
            r.pace_until.reset();
        } else if (r.pace_until != step.until || !r.pace.pending()) {
            r.pace_until = step.until;
            if (!r.pace.start(step.until - now))
                return fail_locally(ENOMEM);
        }
        break;
    }
    check_round_over();
}

void Connector::on_pace() {
    m_current->pace_until.reset();
    m_current->eyeballs.wait_over();
    start_addresses();
}

void Connector::report_failure(Phase phase, const Endpoint& peer, TimePoint started,
                               ErrorClass error, ErrorCode code, std::string message, bool fatal,
                               std::string received, std::optional<CertFacts> cert) {
    if (fatal)
        ++m_current->fatal;
    Event e = make_failure(phase);
    e.address = peer;
    e.error = error;
    e.code = code;
    e.message = std::move(message);
    e.received = std::move(received);
    e.cert = std::move(cert);
    e.duration = Clock::now() - started;
    emit_failure(e);
}

void Connector::emit_failure(const Event& e) {
    Round& r = *m_current;
    r.last_error = e.error;
    if (m_options->invert)
        r.last =
            std::make_unique<Round::LastFailure>(Round::LastFailure{e.code, e.message, e.address});
    emit(e);
}

ErrorClass Connector::classify(int err) const {
    return m_target.is_unix() ? classify_unix_errno(err) : classify_errno(err);
}

void Connector::connect_to(const SockAddr& addr) {
    TimePoint started = Clock::now();
    int domain = addr.is_unix() ? AF_UNIX : addr.family() == Family::ipv6 ? AF_INET6 : AF_INET;
    UniqueFd fd(::socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int socket_err = fd ? 0 : errno;
    // Out of descriptors while other rounds are in flight: back-pressure, not a failure; one
    // of them will free a descriptor. With nothing else in flight, nothing will: a failure.
    Gate* gate = m_options->gate;
    if ((socket_err == EMFILE || socket_err == ENFILE) && gate &&
        gate->in_flight() > (m_current->holds_slot ? 1U : 0U))
        return suspend_round(addr, socket_err);

    Endpoint peer =
        addr.is_unix() ? Endpoint{m_target.host, 0, Family::unix_socket} : to_endpoint(addr);
    Event e = make_event(EventType::attempt);
    e.address = peer;
    emit(e);
    if (!m_current)
        return; // stopped by the sink

    auto sys_failure = [&](int err) {
        m_current->eyeballs.failed();
        report_failure(Phase::connect, peer, started, classify(err), ErrorCode::sys(err),
                       errno_message(err), connect_step(err) == ConnectStep::fatal);
    };
    if (!fd)
        return sys_failure(socket_err);
    if (const std::optional<SockAddr>& source = m_options->source; source && !addr.is_unix()) {
        int one = 1;
        // Take the port at connect() time, so a bound source does not pin ephemeral ports.
        setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd.get(), source->get(), source->length) != 0)
            return sys_failure(errno);
    }
    // A Unix socket connects (or fails) at once; a full backlog is EAGAIN, a failure.
    int err = connect_socket(fd.get(), addr, m_target.host);
    if (connect_step(err) != ConnectStep::connecting)
        return sys_failure(err);

    auto attempt = std::make_unique<Attempt>(this, addr, std::move(peer), started, std::move(fd));
    if (!attempt->watch.arm(m_loop, attempt->fd.get(), &Attempt::on_writable, attempt.get())) {
        peer = std::move(attempt->peer);
        attempt.reset();
        return sys_failure(ENOMEM);
    }
    m_current->attempts.push_back(std::move(attempt));
    m_current->eyeballs.started(Clock::now());
}

void Connector::suspend_round(const SockAddr& addr, int err) {
    Round& r = *m_current;
    if (!r.attempts.empty()) {
        // Our own attempts in flight will free descriptors: try again after the stagger.
        r.eyeballs.put_back(addr, Clock::now());
        return;
    }
    r.eyeballs.put_back(addr);
    r.deadline.cancel();
    r.pace.cancel();
    r.pace_until.reset();
    r.suspended = true;
    r.holds_slot = false; // out_of_descriptors takes the slot back
    m_state = State::queued;
    if (m_options->gate->out_of_descriptors(this, [this] { enter_round(); })) {
        Event w = make_event(EventType::warning);
        w.error = ErrorClass::local;
        w.code = ErrorCode::sys(err);
        w.message = "out of file descriptors: attempts wait for free ones (raise ulimit -n)";
        emit(w);
    }
}

void Connector::on_writable(Attempt* attempt) {
    int fd = attempt->fd.get();
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
        err = errno;
    if (err != 0)
        return attempt_failed(attempt, classify(err), ErrorCode::sys(err), errno_message(err),
                              connect_step(err) == ConnectStep::fatal);
    if (attempt->address.is_unix()) // no port to connect to ourselves through
        return succeed(attempt, attempt->address);
    auto local = local_address(fd);
    if (!local) {
        int e = errno;
        return attempt_failed(attempt, classify_errno(e), ErrorCode::sys(e), errno_message(e),
                              false);
    }
    // Connected to ourselves: only possible on the target's own port, so only then is the
    // peer asked for (0.0.0.0 connects to 127.0.0.1: the peer, not the target, is compared).
    if (local->port() == attempt->address.port()) {
        auto peer = peer_address(fd);
        if (peer && *local == *peer) {
            // Closing with an RST leaves no TIME_WAIT on the port the next attempt needs.
            linger lg{1, 0};
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
            return attempt_failed(attempt, ErrorClass::self_connect, {},
                                  "connected to itself (local address equals the target)", false);
        }
    }
    succeed(attempt, *local);
}

namespace {

template <class T> std::unique_ptr<T> take(std::vector<std::unique_ptr<T>>& from, T* which) {
    auto it =
        std::find_if(from.begin(), from.end(), [&](const auto& a) { return a.get() == which; });
    std::unique_ptr<T> owned = std::move(*it);
    from.erase(it);
    return owned;
}

} // namespace

void Connector::attempt_failed(Attempt* attempt, ErrorClass error, ErrorCode code,
                               std::string message, bool fatal) {
    std::unique_ptr<Attempt> owned = take(m_current->attempts, attempt);
    owned->watch.cancel();
    owned->fd.reset();
    m_current->eyeballs.failed(); // the next address starts at once, not after the stagger
    report_failure(Phase::connect, owned->peer, owned->started, error, code, std::move(message),
                   fatal);
    start_addresses();
}

void Connector::succeed(Attempt* attempt, const SockAddr& local) {
    Round& r = *m_current;
    std::unique_ptr<Attempt> winner = take(r.attempts, attempt);
    winner->watch.cancel();
    r.connect_duration = Clock::now() - winner->started;
    r.end_connecting(); // the other addresses and queries end silently; the slot is free
    r.winner_local = local;
    r.winner_started = winner->started;
    if (!m_options->check)
        return hand_on(std::move(winner->peer), Channel(std::move(winner->fd)), 0);
    r.winner = std::move(winner->peer);
    // A Unix socket's path is no name for TLS (--sni names one).
    r.check = make_check(m_loop, *m_options->check, m_target.is_unix() ? "" : m_target.host);
    r.check_start = Clock::now();
    m_state = State::checking;
    // `done` may run before start() returns, and it may drop the Round: nothing after this.
    r.check->start(std::move(winner->fd),
                   [this](CheckOutcome outcome) { on_check_done(std::move(outcome)); });
}

void Connector::on_check_done(CheckOutcome outcome) {
    Round& r = *m_current;
    if (outcome.passed) {
        if (outcome.http) // an HTTP TARGET's response, for the event
            r.http = std::make_unique<Round::HttpPassed>(
                Round::HttpPassed{std::move(*outcome.http), outcome.http_time});
        return hand_on(std::move(r.winner), std::move(outcome.channel), outcome.bytes_read,
                       std::move(outcome.tls), outcome.tls_time);
    }
    Event e = make_failure(outcome.phase);
    e.address = r.winner;
    e.error = outcome.error;
    e.code = outcome.code;
    e.message = std::move(outcome.message);
    e.received = std::move(outcome.received);
    e.cert = std::move(outcome.cert);
    e.http = std::move(outcome.http);
    e.step = outcome.step;
    e.duration = Clock::now() - r.winner_started;
    emit_failure(e);
    if (m_current)
        fail_round(outcome.error);
}

void Connector::hand_on(Endpoint peer, Channel channel, uint64_t bytes_read,
                        std::optional<TlsInfo> tls, std::optional<Duration> tls_time) {
    if (m_options->invert)
        return still_open(peer, std::move(channel));
    TimePoint now = Clock::now();
    const Round& r = *m_current;
    Event e = make_event(EventType::connected);
    e.address = std::move(peer);
    if (!r.winner_local.is_unix())
        e.local = to_endpoint(r.winner_local);
    e.duration = r.connect_duration;
    if (m_options->check)
        e.check = now - r.check_start;
    e.waited = now - *m_first_round_start;
    e.tls = std::move(tls);
    e.resolve_time = r.resolve_time;
    e.tls_time = tls_time;
    if (r.http) {
        e.http = std::move(r.http->info);
        e.http_time = r.http->time;
    }
    m_current.reset(); // the round is over
    m_state = State::connected;
    m_failed_streak = 0;
    emit(e);
    if (m_on_connected)
        m_on_connected(std::move(channel), bytes_read);
}

// --invert: something accepts. The connection closes at once (as `channel` goes), and the
// round fails.
void Connector::still_open(const Endpoint& peer, Channel channel) {
    channel.close();
    report_failure(Phase::connect, peer, m_current->winner_started, ErrorClass::still_open, {},
                   "still accepting connections", false);
    if (m_current)
        fail_round(ErrorClass::still_open);
}

namespace {

// --invert: the classes that say nothing accepts at the target.
bool says_closed(ErrorClass c) {
    switch (c) {
    case ErrorClass::refused:
    case ErrorClass::timeout:
    case ErrorClass::unreachable:
    case ErrorClass::resolve:
    case ErrorClass::missing:
        return true;
    default:
        return false;
    }
}

} // namespace

// --invert: the round failed the way the run waits for. The target is done.
void Connector::end_closed() {
    Round& r = *m_current;
    Event e = make_event(EventType::closed);
    e.error = r.last_error;
    if (r.last) {
        e.code = r.last->code;
        e.message = std::move(r.last->message);
        e.address = std::move(r.last->peer);
    }
    e.resolve_time = r.resolve_time;
    e.waited = Clock::now() - *m_first_round_start;
    m_current.reset();
    m_state = State::closed;
    m_failed_streak = 0;
    emit(e);
}

void Connector::check_round_over() {
    const Round* r = m_current.get();
    if (!r || m_state != State::connecting || !r->attempts.empty() || !r->eyeballs.exhausted())
        return;
    if (r->eyeballs.tried() > 0)
        return fail_round(r->last_error);
    fail_resolution();
}

// Nothing to connect to: resolution failed. Prefers the more telling of the two reasons.
void Connector::fail_resolution() {
    Round& r = *m_current;
    const ResolveResult* why = nullptr;
    for (Family f : {Family::ipv4, Family::ipv6}) {
        const auto& failure = r.lookups[slot(f)].failure;
        if (failure && (!why || (why->no_data && !failure->no_data)))
            why = &*failure;
    }
    Event e = make_failure(Phase::resolve);
    e.error = ErrorClass::resolve;
    if (why) {
        e.code = why->code;
        e.message = why->message;
    } else {
        e.code = ErrorCode::resolver(EVUTIL_EAI_NONAME);
        e.message = "no address";
    }
    e.duration = Clock::now() - r.start;
    emit_failure(e);
    if (m_current)
        fail_round(ErrorClass::resolve);
}

void Connector::on_round_timeout() {
    if (m_state != State::connecting)
        return;
    std::string message = "timed out after " + seconds_text(m_options->connect_timeout);
    auto in_flight = std::move(m_current->attempts);
    m_current->attempts.clear();
    const unsigned tried = m_current->eyeballs.tried();
    for (auto& a : in_flight) {
        a->watch.cancel();
        a->fd.reset();
        report_failure(Phase::connect, a->peer, a->started, ErrorClass::timeout,
                       ErrorCode::sys(ETIMEDOUT), message, false);
        if (!m_current)
            return;
    }
    if (tried == 0) {
        Event e = make_failure(Phase::resolve);
        e.error = ErrorClass::resolve;
        e.code = ErrorCode::resolver(EVUTIL_EAI_AGAIN);
        e.message = "name resolution " + message;
        e.duration = Clock::now() - m_current->start;
        emit_failure(e);
        if (!m_current)
            return;
    } else if (!in_flight.empty()) {
        m_current->last_error = ErrorClass::timeout;
    }
    fail_round(m_current->last_error);
}

// A round that cannot go on for want of memory (a timer that cannot be armed): a local
// failure of the round, never an exception through libevent.
void Connector::fail_locally(int err) {
    // Before any address was known, the round was still looking the name up.
    const Round& r = *m_current;
    bool resolving =
        !m_target.numeric && !m_target.is_unix() && r.eyeballs.tried() == 0 && r.attempts.empty();
    Event e = make_failure(resolving ? Phase::resolve : Phase::connect);
    e.error = ErrorClass::local;
    e.code = ErrorCode::sys(err);
    e.message = errno_message(err);
    e.duration = Clock::now() - m_current->start;
    emit_failure(e);
    if (m_current)
        fail_round(ErrorClass::local);
}

void Connector::fail_round(ErrorClass last_error) {
    if (m_options->invert && says_closed(last_error))
        return end_closed();
    const unsigned tried = m_current->eyeballs.tried();
    const bool all_fatal = tried > 0 && m_current->fatal == tried;
    m_current.reset(); // queries, sockets, timers and the slot go with it
    ++m_failed_rounds;
    ++m_failed_streak;
    const unsigned max = m_options->max_rounds;
    if (all_fatal)
        return give_up(last_error, "every address failed with an error that retrying cannot fix");
    if (max != 0 && m_failed_streak >= max)
        return give_up(last_error, "no attempts left");
    schedule_retry();
}

void Connector::give_up(ErrorClass error, std::string message) {
    m_state = State::gave_up;
    Event e = make_event(EventType::gave_up);
    e.error = error;
    e.message = std::move(message);
    emit(e);
}

void Connector::restart() {
    if (m_state != State::connected)
        return;
    m_first_round_start.reset(); // waited_ms counts from this outage's first round
    schedule_retry();
}

void Connector::reconnect_after(Duration delay) {
    if (m_state != State::connected)
        return;
    m_first_round_start.reset();
    m_state = State::waiting;
    if (!m_retry_timer.start(delay))
        give_up(ErrorClass::local, "cannot arm the retry timer: " + errno_message(ENOMEM));
}

void Connector::schedule_retry() {
    Duration delay = m_backoff.next();
    m_state = State::waiting;
    if (!m_retry_timer.start(delay))
        return give_up(ErrorClass::local, "cannot arm the retry timer: " + errno_message(ENOMEM));
    Event e = make_event(EventType::retry);
    e.attempt = m_round + 1;
    e.delay = delay;
    emit(e);
}

} // namespace tcpretry::core
