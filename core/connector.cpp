#include "core/connector.hpp"

#include <algorithm>
#include <utility>
#include <cerrno>
#include <cstdio>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace tcpretry::core {

struct Connector::Attempt {
    Connector* owner;
    SockAddr address;
    TimePoint started;
    UniqueFd fd;
    EventPtr watch;
    EventPtr write_watch; // while a --send is only partly written

    static void on_event(evutil_socket_t, short, void* arg) {
        auto* self = static_cast<Attempt*>(arg);
        self->owner->on_writable(self);
    }
    static void on_check_event(evutil_socket_t, short what, void* arg) {
        auto* self = static_cast<Attempt*>(arg);
        self->owner->on_check_io(what);
    }
};

namespace {

std::string seconds_text(Duration d) {
    double s = std::chrono::duration<double>(d).count();
    char buf[32];
    snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

std::optional<SockAddr> local_address(int fd, bool peer) {
    SockAddr a;
    a.length = sizeof a.storage;
    int rc = peer ? getpeername(fd, a.get(), &a.length) : getsockname(fd, a.get(), &a.length);
    if (rc != 0)
        return std::nullopt;
    return a;
}

} // namespace

Connector::Connector(Loop& loop, Resolver& resolver, Target target, std::size_t index,
                     ConnectorOptions options, EventSink& sink)
    : m_loop(loop), m_resolver(resolver), m_target(std::move(target)), m_index(index),
      m_options(std::move(options)), m_sink(sink), m_backoff(m_options.backoff, m_options.seed),
      m_round_timer(loop, [this] { on_round_timeout(); }),
      m_stagger_timer(loop, [this] { start_addresses(); }),
      m_retry_timer(loop, [this] { begin_round(); }),
      m_check_timer(loop, [this] { on_check_timeout(); }) {}

Connector::~Connector() {
    stop();
}

void Connector::start() {
    if (m_state == State::idle)
        begin_round();
}

void Connector::stop() {
    cancel_round();
    m_retry_timer.cancel();
    if (m_options.gate)
        m_options.gate->withdraw(this);
    if (m_state == State::connecting || m_state == State::waiting || m_state == State::idle ||
        m_state == State::queued)
        m_state = State::stopped;
}

void Connector::release_slot() {
    if (m_holds_slot) {
        m_holds_slot = false;
        m_options.gate->leave();
    }
}

Event Connector::make_event(EventType type) const {
    Event e;
    e.type = type;
    e.target = m_index;
    e.attempt = m_round;
    return e;
}

void Connector::begin_round() {
    if (m_options.gate && !m_options.gate->enter(this, [this] { enter_round(); })) {
        m_state = State::queued;
        return;
    }
    enter_round();
}

void Connector::enter_round() {
    m_holds_slot = m_options.gate != nullptr;
    if (m_suspended) {
        // Back from waiting for a descriptor: the round goes on with a fresh deadline.
        m_suspended = false;
        m_state = State::connecting;
        m_round_timer.start(m_options.connect_timeout);
        start_addresses();
        return;
    }
    m_state = State::connecting;
    ++m_round;
    m_round_start = Clock::now();
    if (!m_first_round_start)
        m_first_round_start = m_round_start;
    m_lookups = {};
    m_last_family.reset();
    m_started = 0;
    m_fatal = 0;
    m_round_timer.start(m_options.connect_timeout);

    if (m_target.numeric) {
        m_queue[slot(m_target.numeric->family())].push_back(*m_target.numeric);
        start_addresses();
        return;
    }

    // /etc/hosts and localhost names first: a name they answer for is not asked of DNS, in
    // any family; a family they have no address for has none (-6 with an IPv4-only entry).
    if (auto local = m_resolver.local_lookup(m_target.host)) {
        for (SockAddr a : *local) {
            if (m_options.family && *m_options.family != a.family())
                continue;
            a.set_port(m_target.port);
            m_queue[slot(a.family())].push_back(a);
        }
        if (m_options.family && m_queue[slot(*m_options.family)].empty()) {
            ResolveResult none;
            none.code = ErrorCode::resolver(EVUTIL_EAI_NODATA);
            none.message = *m_options.family == Family::ipv6
                               ? "name has no IPv6 address in /etc/hosts"
                               : "name has no IPv4 address in /etc/hosts";
            none.no_data = true;
            FamilyLookup& l = m_lookups[slot(*m_options.family)];
            l.wanted = l.done = true;
            l.failure = std::move(none);
        }
        start_addresses();
        return;
    }
    for (Family f : {Family::ipv6, Family::ipv4})
        if (!m_options.family || *m_options.family == f)
            m_lookups[slot(f)].wanted = true;
    for (Family f : {Family::ipv6, Family::ipv4})
        if (m_lookups[slot(f)].wanted)
            lookup(f);
    check_round_over();
}

void Connector::lookup(Family family) {
    FamilyLookup& l = m_lookups[slot(family)];
    l.request = m_resolver.resolve(m_target.host, family, m_target.port,
                                   [this, family](ResolveResult r) { on_resolved(family, std::move(r)); });
    if (l.request == 0) {
        l.done = true;
        ResolveResult r;
        r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
        r.message = "cannot start a DNS query";
        l.failure = std::move(r);
    }
}

void Connector::on_resolved(Family family, ResolveResult result) {
    FamilyLookup& l = m_lookups[slot(family)];
    l.done = true;
    l.request = 0;
    if (result.addresses.empty()) {
        l.failure = std::move(result);
    } else {
        for (const SockAddr& a : result.addresses)
            m_queue[slot(family)].push_back(a);
    }
    // AAAA arriving during the resolution delay ends the delay.
    if (m_started == 0)
        m_stagger_timer.cancel();
    start_addresses();
}

void Connector::start_addresses() {
    if (m_state != State::connecting)
        return;
    if (m_stagger_timer.pending())
        return;
    // A answered first: give AAAA the resolution delay before starting with IPv4.
    const FamilyLookup& v6 = m_lookups[slot(Family::ipv6)];
    if (m_started == 0 && !m_delay_done && m_queue[slot(Family::ipv6)].empty() &&
        !m_queue[slot(Family::ipv4)].empty() && v6.wanted && !v6.done) {
        m_delay_done = true;
        m_stagger_timer.start(k_resolution_delay);
        return;
    }
    while (m_state == State::connecting && !m_stagger_timer.pending() && start_next()) {
    }
    check_round_over();
}

bool Connector::start_next() {
    std::size_t pick;
    std::size_t v6 = slot(Family::ipv6);
    std::size_t v4 = slot(Family::ipv4);
    if (!m_last_family)
        pick = !m_queue[v6].empty() ? v6 : v4;
    else {
        std::size_t other = slot(*m_last_family) == v6 ? v4 : v6;
        pick = !m_queue[other].empty() ? other : slot(*m_last_family);
    }
    if (m_queue[pick].empty())
        return false;
    SockAddr addr = m_queue[pick].front(); // a copy: the queue may grow while we connect
    m_queue[pick].pop_front();
    m_last_family = addr.family();
    connect_to(addr);
    return true;
}

void Connector::AddressQueue::push_front(const SockAddr& a) {
    if (head > 0)
        items[--head] = a;
    else
        items.insert(items.begin(), a);
}

void Connector::report_failure(const SockAddr& addr, TimePoint started, ErrorClass error,
                               ErrorCode code, std::string message, bool fatal,
                               std::string received) {
    if (fatal)
        ++m_fatal;
    m_last_error = error;
    Event e = make_event(EventType::failed);
    e.address = to_endpoint(addr);
    e.error = error;
    e.code = code;
    e.message = std::move(message);
    e.received = std::move(received);
    e.duration = Clock::now() - started;
    emit(e);
}

void Connector::connect_to(const SockAddr& addr) {
    TimePoint started = Clock::now();
    int domain = addr.family() == Family::ipv6 ? AF_INET6 : AF_INET;
    UniqueFd fd(::socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int socket_err = fd ? 0 : errno;
    // Out of descriptors while other rounds are in flight: back-pressure, not a failure; one
    // of them will free a descriptor. With nothing else in flight, nothing will: a failure.
    if ((socket_err == EMFILE || socket_err == ENFILE) && m_options.gate &&
        m_options.gate->in_flight() > (m_holds_slot ? 1U : 0U))
        return suspend_round(addr, socket_err);

    ++m_started;
    Event e = make_event(EventType::attempt);
    e.address = to_endpoint(addr);
    emit(e);

    auto sys_failure = [&](int err) {
        report_failure(addr, started, classify_errno(err), ErrorCode::sys(err), errno_message(err),
                       connect_step(err) == ConnectStep::fatal);
    };
    if (!fd)
        return sys_failure(socket_err);
    if (m_options.source) {
        int one = 1;
        // Take the port at connect() time, so a bound source does not pin ephemeral ports.
        setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (::bind(fd.get(), m_options.source->get(), m_options.source->length) != 0)
            return sys_failure(errno);
    }
    int err = ::connect(fd.get(), addr.get(), addr.length) == 0 ? 0 : errno;
    if (connect_step(err) != ConnectStep::connecting)
        return sys_failure(err);

    auto attempt = std::make_unique<Attempt>(Attempt{this, addr, started, std::move(fd), nullptr, nullptr});
    // Never EV_PERSIST: a connected socket stays writable and the callback would spin.
    attempt->watch.reset(event_new(m_loop.base(), attempt->fd.get(), EV_WRITE, &Attempt::on_event,
                                   attempt.get()));
    if (!attempt->watch || event_add(attempt->watch.get(), nullptr) != 0)
        return sys_failure(ENOMEM);
    m_attempts.push_back(std::move(attempt));
    m_stagger_timer.start(k_attempt_stagger);
}

void Connector::suspend_round(const SockAddr& addr, int err) {
    m_queue[slot(addr.family())].push_front(addr);
    if (!m_attempts.empty()) {
        // Our own attempts in flight will free descriptors: try again after the stagger.
        m_stagger_timer.start(k_attempt_stagger);
        return;
    }
    m_round_timer.cancel();
    m_stagger_timer.cancel();
    m_suspended = true;
    m_holds_slot = false;
    m_state = State::queued;
    if (m_options.gate->out_of_descriptors(this, [this] { enter_round(); })) {
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
    if (err != 0) {
        finish_attempt(attempt, classify_errno(err), ErrorCode::sys(err), errno_message(err),
                       connect_step(err) == ConnectStep::fatal);
        return start_addresses();
    }
    auto local = local_address(fd, false);
    auto peer = local_address(fd, true);
    if (!local || !peer) {
        int e = errno;
        finish_attempt(attempt, classify_errno(e), ErrorCode::sys(e), errno_message(e), false);
        return start_addresses();
    }
    if (*local == *peer) {
        // Closing with an RST leaves no TIME_WAIT on the port the next attempt needs.
        linger lg{1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        finish_attempt(attempt, ErrorClass::self_connect, {},
                       "connected to itself (local address equals the target)", false);
        return start_addresses();
    }
    succeed(attempt);
}

void Connector::finish_attempt(Attempt* attempt, ErrorClass error, ErrorCode code,
                               std::string message, bool fatal) {
    auto it = std::find_if(m_attempts.begin(), m_attempts.end(),
                           [&](const auto& a) { return a.get() == attempt; });
    std::unique_ptr<Attempt> owned = std::move(*it);
    m_attempts.erase(it);
    owned->watch.reset();
    owned->fd.reset();
    // The previous address failed: the next one starts at once, not after the stagger.
    m_stagger_timer.cancel();
    report_failure(owned->address, owned->started, error, code, std::move(message), fatal);
}

void Connector::succeed(Attempt* attempt) {
    auto it = std::find_if(m_attempts.begin(), m_attempts.end(),
                           [&](const auto& a) { return a.get() == attempt; });
    std::unique_ptr<Attempt> winner = std::move(*it);
    m_attempts.erase(it);
    winner->watch.reset();
    m_connect_duration = Clock::now() - winner->started;
    cancel_round(); // the other addresses and queries end silently
    if (m_options.check)
        begin_check(std::move(winner));
    else
        hand_on(std::move(winner));
}

void Connector::hand_on(std::unique_ptr<Attempt> winner) {
    TimePoint now = Clock::now();
    m_state = State::connected;
    m_failed_streak = 0;
    Event e = make_event(EventType::connected);
    e.address = to_endpoint(winner->address);
    if (auto local = local_address(winner->fd.get(), false))
        e.local = to_endpoint(*local);
    e.duration = m_connect_duration;
    if (m_options.check)
        e.check = now - m_check_start;
    e.waited = now - *m_first_round_start;
    emit(e);
    if (m_on_connected)
        m_on_connected(std::move(winner->fd), std::exchange(m_received, {}).size());
}

void Connector::begin_check(std::unique_ptr<Attempt> winner) {
    m_check_start = Clock::now();
    m_sent = 0;
    m_received.clear();
    m_checking = std::move(winner);
    Attempt* a = m_checking.get();
    a->watch.reset(event_new(m_loop.base(), a->fd.get(), EV_READ | EV_PERSIST,
                             &Attempt::on_check_event, a));
    a->write_watch.reset(event_new(m_loop.base(), a->fd.get(), EV_WRITE | EV_PERSIST,
                                   &Attempt::on_check_event, a));
    if (!a->watch || !a->write_watch || event_add(a->watch.get(), nullptr) != 0)
        return check_failed(ErrorClass::local, ErrorCode::sys(ENOMEM), errno_message(ENOMEM));
    m_check_timer.start(m_options.check->timeout);
    on_check_io(EV_WRITE);
}

void Connector::on_check_io(short what) {
    const CheckOptions& check = *m_options.check;
    int fd = m_checking->fd.get();
    if ((what & EV_WRITE) && m_sent < check.send.size()) {
        while (m_sent < check.send.size()) {
            ssize_t n = ::send(fd, check.send.data() + m_sent, check.send.size() - m_sent,
                               MSG_NOSIGNAL);
            if (n >= 0) {
                m_sent += static_cast<std::size_t>(n);
                continue;
            }
            int err = errno;
            if (err == EAGAIN || err == EINTR) {
                event_add(m_checking->write_watch.get(), nullptr);
                return;
            }
            return check_failed(classify_errno(err), ErrorCode::sys(err), errno_message(err));
        }
        event_del(m_checking->write_watch.get());
    }
    if (what & EV_READ) {
        char buf[k_expect_limit];
        while (m_received.size() < k_expect_limit) {
            ssize_t n = ::recv(fd, buf, k_expect_limit - m_received.size(), 0);
            if (n > 0) {
                m_received.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) {
                if (check.expect && check.expect->matches(m_received))
                    break;
                return check_failed(ErrorClass::expect_mismatch, {},
                                    "connection closed before a reply matched");
            }
            int err = errno;
            if (err == EAGAIN || err == EINTR)
                break;
            return check_failed(classify_errno(err), ErrorCode::sys(err), errno_message(err));
        }
    }
    if (m_sent < check.send.size())
        return; // the reply counts only after the request went out
    if (!check.expect)
        return hand_on(take_checked());
    if (check.expect->matches(m_received))
        return hand_on(take_checked());
    if (m_received.size() >= k_expect_limit)
        return check_failed(ErrorClass::expect_mismatch, {},
                            "no match in the first " + std::to_string(k_expect_limit) + " bytes");
}

std::unique_ptr<Connector::Attempt> Connector::take_checked() {
    m_check_timer.cancel();
    std::unique_ptr<Attempt> a = std::move(m_checking);
    a->watch.reset();
    a->write_watch.reset();
    return a;
}

void Connector::on_check_timeout() {
    std::string within = " within " + seconds_text(m_options.check->timeout);
    if (m_received.empty())
        check_failed(ErrorClass::expect_timeout, {}, "no reply" + within);
    else
        check_failed(ErrorClass::expect_mismatch, {}, "reply did not match" + within);
}

void Connector::check_failed(ErrorClass error, ErrorCode code, std::string message) {
    std::unique_ptr<Attempt> a = take_checked();
    a->fd.reset();
    report_failure(a->address, a->started, error, code, std::move(message), false,
                   std::exchange(m_received, {}));
    fail_round(error);
}

void Connector::check_round_over() {
    if (m_state != State::connecting || !m_attempts.empty() || m_stagger_timer.pending())
        return;
    for (const auto& q : m_queue)
        if (!q.empty())
            return;
    for (const auto& l : m_lookups)
        if (l.wanted && !l.done)
            return;
    if (m_started > 0)
        return fail_round(m_last_error);

    // Nothing to connect to: resolution failed. Prefer the more telling of the two reasons.
    const FamilyLookup& v6 = m_lookups[slot(Family::ipv6)];
    const FamilyLookup& v4 = m_lookups[slot(Family::ipv4)];
    const ResolveResult* why = nullptr;
    for (const FamilyLookup* l : {&v4, &v6})
        if (l->wanted && l->failure && (!why || (why->no_data && !l->failure->no_data)))
            why = &*l->failure;
    Event e = make_event(EventType::failed);
    e.error = ErrorClass::resolve;
    if (why) {
        e.code = why->code;
        e.message = why->message;
    } else {
        e.code = ErrorCode::resolver(EVUTIL_EAI_NONAME);
        e.message = "no address";
    }
    e.duration = Clock::now() - m_round_start;
    m_last_error = ErrorClass::resolve;
    emit(e);
    fail_round(ErrorClass::resolve);
}

void Connector::on_round_timeout() {
    if (m_state != State::connecting)
        return;
    std::string message = "timed out after " + seconds_text(m_options.connect_timeout);
    auto in_flight = std::move(m_attempts);
    m_attempts.clear();
    for (auto& a : in_flight) {
        a->watch.reset();
        a->fd.reset();
        report_failure(a->address, a->started, ErrorClass::timeout, ErrorCode::sys(ETIMEDOUT),
                       message, false);
    }
    if (m_started == 0) {
        Event e = make_event(EventType::failed);
        e.error = ErrorClass::resolve;
        e.code = ErrorCode::resolver(EVUTIL_EAI_AGAIN);
        e.message = "name resolution " + message;
        e.duration = Clock::now() - m_round_start;
        m_last_error = ErrorClass::resolve;
        emit(e);
    } else if (!in_flight.empty()) {
        m_last_error = ErrorClass::timeout;
    }
    fail_round(m_last_error);
}

void Connector::fail_round(ErrorClass last_error) {
    cancel_round();
    ++m_failed_rounds;
    ++m_failed_streak;
    bool exhausted = m_options.max_rounds != 0 && m_failed_streak >= m_options.max_rounds;
    bool all_fatal = m_started > 0 && m_fatal == m_started;
    if (exhausted || all_fatal) {
        m_state = State::gave_up;
        Event e = make_event(EventType::gave_up);
        e.error = last_error;
        e.message = all_fatal ? "every address failed with an error that retrying cannot fix"
                              : "no attempts left";
        emit(e);
        return;
    }
    schedule_retry();
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
    m_retry_timer.start(delay);
}

void Connector::schedule_retry() {
    Duration delay = m_backoff.next();
    m_state = State::waiting;
    m_retry_timer.start(delay);
    Event e = make_event(EventType::retry);
    e.attempt = m_round + 1;
    e.delay = delay;
    emit(e);
}

void Connector::cancel_round() {
    release_slot();
    m_suspended = false;
    m_round_timer.cancel();
    m_stagger_timer.cancel();
    for (auto& l : m_lookups) {
        if (l.wanted && !l.done && l.request != 0)
            m_resolver.cancel(l.request);
        l.request = 0;
        l.done = true;
    }
    m_attempts.clear();
    for (auto& q : m_queue)
        q.clear();
    m_delay_done = false;
    m_check_timer.cancel();
    m_checking.reset();
}

} // namespace tcpretry::core
