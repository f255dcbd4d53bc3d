#include "core/check.hpp"

#include <cerrno>
#include <cstdio>
#include <sys/socket.h>
#include <utility>

namespace tcpretry::core {

std::string seconds_text(Duration d) {
    double s = std::chrono::duration<double>(d).count();
    char buf[32];
    snprintf(buf, sizeof buf, "%g s", s);
    return buf;
}

namespace {

// --send, then --expect: the request goes out first (the reply counts only after it), then
// the first k_expect_limit bytes of the reply are matched as they arrive. Without --expect
// the check passes once the request is sent.
class SendExpectCheck final : public Check {
  public:
    SendExpectCheck(Loop& loop, const CheckOptions& options)
        : m_loop(loop), m_options(options), m_timer(loop, [this] { on_timeout(); }) {}

    void start(UniqueFd fd, Done done) override;

  private:
    enum class Io { more, failed }; // what a step of I/O left: go on, or the check ended

    static void on_event(evutil_socket_t, short what, void* arg) noexcept {
        static_cast<SendExpectCheck*>(arg)->on_io(what);
    }
    void on_io(short what);
    Io send_request();
    Io read_reply();
    void on_timeout();
    void pass();
    void fail(ErrorClass error, ErrorCode code, std::string message);
    void fail_errno(int err) { fail(classify_errno(err), ErrorCode::sys(err), errno_message(err)); }

    Loop& m_loop;
    const CheckOptions& m_options;
    UniqueFd m_fd;
    EventPtr m_read;  // persistent while the check runs
    EventPtr m_write; // added while the request is only partly sent
    Timer m_timer;
    Done m_done;
    std::size_t m_sent = 0;
    std::string m_received;
};

void SendExpectCheck::start(UniqueFd fd, Done done) {
    m_fd = std::move(fd);
    m_done = std::move(done);
    m_read.reset(event_new(m_loop.base(), m_fd.get(), EV_READ | EV_PERSIST, &on_event, this));
    m_write.reset(event_new(m_loop.base(), m_fd.get(), EV_WRITE | EV_PERSIST, &on_event, this));
    if (!m_read || !m_write || event_add(m_read.get(), nullptr) != 0 ||
        !m_timer.start(m_options.timeout))
        return fail_errno(ENOMEM);
    on_io(EV_WRITE);
}

void SendExpectCheck::on_io(short what) {
    if ((what & EV_WRITE) && send_request() == Io::failed)
        return;
    if ((what & EV_READ) && read_reply() == Io::failed)
        return;
    if (m_sent < m_options.send.size())
        return; // the reply counts only after the request went out
    if (!m_options.expect || m_options.expect->matches(m_received))
        return pass();
    if (m_received.size() >= k_expect_limit)
        return fail(ErrorClass::expect_mismatch, {},
                    "no match in the first " + std::to_string(k_expect_limit) + " bytes");
}

SendExpectCheck::Io SendExpectCheck::send_request() {
    const std::string& send = m_options.send;
    while (m_sent < send.size()) {
        ssize_t n = ::send(m_fd.get(), send.data() + m_sent, send.size() - m_sent, MSG_NOSIGNAL);
        if (n >= 0) {
            m_sent += static_cast<std::size_t>(n);
            continue;
        }
        int err = errno;
        if (err != EAGAIN && err != EINTR) {
            fail_errno(err);
            return Io::failed;
        }
        if (event_add(m_write.get(), nullptr) != 0) {
            fail_errno(ENOMEM);
            return Io::failed;
        }
        return Io::more;
    }
    event_del(m_write.get());
    return Io::more;
}

SendExpectCheck::Io SendExpectCheck::read_reply() {
    char buf[k_expect_limit];
    while (m_received.size() < k_expect_limit) {
        ssize_t n = ::recv(m_fd.get(), buf, k_expect_limit - m_received.size(), 0);
        if (n > 0) {
            m_received.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n == 0) {
            if (m_options.expect && m_options.expect->matches(m_received)) {
                event_del(m_read.get()); // EOF stays readable: no spinning until sent
                return Io::more;
            }
            fail(ErrorClass::expect_mismatch, {}, "connection closed before a reply matched");
            return Io::failed;
        }
        int err = errno;
        if (err == EAGAIN || err == EINTR)
            return Io::more;
        fail_errno(err);
        return Io::failed;
    }
    event_del(m_read.get()); // the reply is as long as it may get: stop watching (no spin)
    return Io::more;
}

void SendExpectCheck::on_timeout() {
    std::string within = " within " + seconds_text(m_options.timeout);
    if (m_received.empty())
        fail(ErrorClass::expect_timeout, {}, "no reply" + within);
    else
        fail(ErrorClass::expect_mismatch, {}, "reply did not match" + within);
}

void SendExpectCheck::pass() {
    m_timer.cancel();
    m_read.reset();
    m_write.reset();
    CheckOutcome out;
    out.passed = true;
    out.fd = std::move(m_fd);
    out.bytes_read = m_received.size();
    Done done = std::move(m_done); // the owner may destroy this Check from inside `done`
    done(std::move(out));
}

void SendExpectCheck::fail(ErrorClass error, ErrorCode code, std::string message) {
    m_timer.cancel();
    m_read.reset();
    m_write.reset();
    m_fd.reset();
    CheckOutcome out;
    out.error = error;
    out.code = code;
    out.message = std::move(message);
    out.bytes_read = m_received.size();
    out.received = std::move(m_received);
    Done done = std::move(m_done);
    done(std::move(out));
}

} // namespace

std::unique_ptr<Check> make_check(Loop& loop, const CheckOptions& options) {
    return std::make_unique<SendExpectCheck>(loop, options);
}

} // namespace tcpretry::core
