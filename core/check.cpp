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

Channel& Channel::operator=(Channel&& other) noexcept {
    if (this != &other) {
        close();
        m_fd = std::move(other.m_fd);
        m_tls = std::move(other.m_tls);
    }
    return *this;
}

void Channel::close() {
    if (m_tls)
        m_tls->shutdown();
    m_tls.reset();
    m_fd.reset();
}

namespace {

// The layers in order, each only when asked for: the STARTTLS opening (plain text), the TLS
// handshake, then --send / --expect over the channel (TLS or plain): the request goes out
// first (the reply counts only after it), then the first k_expect_limit bytes of the reply
// are matched as they arrive. Without --expect the exchange passes once the request is sent.
// One read and one write watch on the socket serve every phase (the fd keeps its number when
// the TLS session takes it); one timer bounds the whole check.
class LayeredCheck final : public Check {
  public:
    LayeredCheck(Loop& loop, const CheckOptions& options, std::string host)
        : m_loop(loop), m_options(options), m_host(std::move(host)),
          m_timer(loop, [this] { on_timeout(); }), m_grace(loop, [this] { on_grace(); }) {}

    void start(UniqueFd fd, Done done) override;

  private:
    enum class Phase { starttls, handshake, exchange, http };
    enum class Io { more, failed }; // what a step of I/O left: go on, or the check ended

    static void on_event(evutil_socket_t, short what, void* arg) noexcept {
        static_cast<LayeredCheck*>(arg)->on_io(what);
    }
    int fd() const { return m_tls ? m_tls->fd() : m_fd.get(); }
    bool watch(bool read, bool write);
    void on_io(short what);
    // STARTTLS
    void begin_starttls();
    void on_starttls_io(short what);
    Io flush_plain();
    // TLS
    void begin_tls();
    void on_handshake_step(TlsStep step);
    void on_grace();
    // --send / --expect, step by step
    void begin_exchange();
    void on_exchange_io(short what);
    void run_steps();
    bool next_step(); // false: the timer could not be restarted (the check failed)
    void fail_step(ErrorClass error, std::string message);
    Io send_bytes(const std::string& bytes);
    // One read from the connection, through the TLS session when there is one.
    struct Read {
        Io io = Io::more;      // failed: the round failed and was reported
        std::size_t bytes = 0; // bytes read into the buffer
        bool eof = false;      // the peer ended the stream (a TLS close or a truncation too)
        bool again = false;    // nothing to read yet: the watch it needs is set
    };
    Read read_some(char* buf, std::size_t room);
    Io read_reply();
    // HTTP
    void begin_http();
    void on_http_io(short what);
    Io read_http();
    void judge_http();
    HttpInfo http_info() const;

    void on_timeout();
    core::Phase failed_phase() const;
    void pass();
    void fail(ErrorClass error, ErrorCode code, std::string message,
              std::optional<CertFacts> cert = std::nullopt);
    void fail_errno(int err) { fail(classify_errno(err), ErrorCode::sys(err), errno_message(err)); }
    void fail_tls(const TlsFailure& f) { fail(tls_failure_class(f), f.code, f.message, f.cert); }

    Loop& m_loop;
    const CheckOptions& m_options;
    std::string m_host;
    Phase m_phase = Phase::exchange;
    UniqueFd m_fd;                     // until TLS takes it
    std::unique_ptr<TlsSession> m_tls; // after begin_tls
    EventPtr m_read;
    EventPtr m_write;
    Timer m_timer;
    Timer m_grace; // TLS 1.3 with a client certificate: see k_tls_confirm_grace
    Done m_done;
    std::optional<StartTls> m_starttls;
    std::string m_out; // STARTTLS: plain text still to send
    std::size_t m_sent = 0;
    std::string m_received;
    TimePoint m_tls_start{};
    std::optional<Duration> m_tls_time; // once the handshake is done
    // the dialogue
    std::vector<CheckStep> m_own_steps; // when the options give no steps list
    const std::vector<CheckStep>* m_steps = nullptr;
    std::size_t m_step = 0;     // the step under way
    std::size_t m_consumed = 0; // m_received up to the previous match
    bool m_eof = false;
    // HTTP
    std::optional<HttpResponseParser> m_response;
    TimePoint m_http_start{};
    TimePoint m_request_sent{};
    std::optional<Duration> m_ttfb;
};

void LayeredCheck::start(UniqueFd fd, Done done) {
    m_fd = std::move(fd);
    m_done = std::move(done);
    m_read.reset(event_new(m_loop.base(), m_fd.get(), EV_READ | EV_PERSIST, &on_event, this));
    m_write.reset(event_new(m_loop.base(), m_fd.get(), EV_WRITE | EV_PERSIST, &on_event, this));
    if (!m_read || !m_write || !m_timer.start(m_options.timeout))
        return fail_errno(ENOMEM);
    if (m_options.tls && m_options.starttls)
        return begin_starttls();
    if (m_options.tls)
        return begin_tls();
    m_options.http ? begin_http() : begin_exchange();
}

bool LayeredCheck::watch(bool read, bool write) {
    bool ok = (read ? event_add(m_read.get(), nullptr) : event_del(m_read.get())) == 0;
    ok = (write ? event_add(m_write.get(), nullptr) : event_del(m_write.get())) == 0 && ok;
    if (!ok)
        fail_errno(ENOMEM);
    return ok;
}

void LayeredCheck::on_io(short what) {
    switch (m_phase) {
    case Phase::starttls:
        return on_starttls_io(what);
    case Phase::handshake:
        return on_handshake_step(m_tls->step());
    case Phase::exchange:
        return on_exchange_io(what);
    case Phase::http:
        return on_http_io(what);
    }
}

// --- STARTTLS ---------------------------------------------------------------------------

void LayeredCheck::begin_starttls() {
    m_phase = Phase::starttls;
    m_starttls.emplace(*m_options.starttls);
    m_out = m_starttls->take_output(); // postgres speaks first; the others wait for a greeting
    if (flush_plain() == Io::failed)
        return;
    watch(true, m_sent < m_out.size());
}

LayeredCheck::Io LayeredCheck::flush_plain() {
    while (m_sent < m_out.size()) {
        ssize_t n = ::send(m_fd.get(), m_out.data() + m_sent, m_out.size() - m_sent, MSG_NOSIGNAL);
        if (n >= 0) {
            m_sent += static_cast<std::size_t>(n);
            continue;
        }
        if (errno == EAGAIN || errno == EINTR)
            return Io::more;
        fail_errno(errno);
        return Io::failed;
    }
    m_out.clear();
    m_sent = 0;
    return Io::more;
}

void LayeredCheck::on_starttls_io(short what) {
    if ((what & EV_WRITE) && flush_plain() == Io::failed)
        return;
    if (what & EV_READ) {
        // One read at a time: once the server said go, no byte more is read as plain text.
        char buf[k_starttls_line_limit];
        ssize_t n = ::recv(m_fd.get(), buf, sizeof buf, 0);
        if (n == 0)
            return fail(ErrorClass::starttls, {},
                        "connection closed during the STARTTLS opening (" +
                            std::string(starttls_protocol_name(*m_options.starttls)) + ")",
                        std::nullopt);
        if (n < 0) {
            if (errno != EAGAIN && errno != EINTR)
                fail_errno(errno);
            return;
        }
        switch (m_starttls->feed(std::string_view(buf, static_cast<std::size_t>(n)))) {
        case StartTls::Status::failed:
            m_received = m_starttls->received();
            return fail(ErrorClass::starttls, {}, m_starttls->message());
        case StartTls::Status::done:
            if (m_sent < m_out.size())
                break; // cannot happen: the go-ahead answers our last command
            return begin_tls();
        case StartTls::Status::more:
            break;
        }
        m_out += m_starttls->take_output();
        if (flush_plain() == Io::failed)
            return;
    }
    watch(true, m_sent < m_out.size());
}

// --- TLS --------------------------------------------------------------------------------

void LayeredCheck::begin_tls() {
    m_phase = Phase::handshake;
    m_tls_start = Clock::now();
    m_starttls.reset();
    auto started = TlsSession::start(*m_options.tls, std::move(m_fd), m_host);
    if (auto* f = std::get_if<TlsFailure>(&started))
        return fail_tls(*f);
    m_tls = std::move(std::get<std::unique_ptr<TlsSession>>(started));
    on_handshake_step(m_tls->step());
}

void LayeredCheck::on_handshake_step(TlsStep step) {
    switch (step) {
    case TlsStep::want_read:
        if (m_tls->confirming() && !m_grace.pending() && !m_grace.start(k_tls_confirm_grace))
            return fail_errno(ENOMEM);
        watch(true, false);
        return;
    case TlsStep::want_write:
        watch(false, true);
        return;
    case TlsStep::done:
        m_grace.cancel();
        m_tls_time = Clock::now() - m_tls_start;
        return m_options.http ? begin_http() : begin_exchange();
    case TlsStep::failed:
        return fail_tls(m_tls->failure());
    }
}

void LayeredCheck::on_grace() {
    on_handshake_step(m_tls->finish_unconfirmed());
}

// --- --send / --expect, step by step -----------------------------------------------------

void LayeredCheck::begin_exchange() {
    m_phase = Phase::exchange;
    m_sent = 0;
    if (m_options.steps.empty()) {
        m_own_steps = dialogue_steps(m_options);
        m_steps = &m_own_steps;
    } else {
        m_steps = &m_options.steps;
    }
    if (m_steps->empty())
        return pass();
    if (!watch(true, false))
        return;
    run_steps();
}

void LayeredCheck::on_exchange_io(short what) {
    // With TLS a write may wait for readability (and a read for writability): try both.
    if ((what & EV_READ || m_tls) && read_reply() == Io::failed)
        return;
    run_steps();
}

// Runs the steps as far as the bytes sent and received allow; each send goes out whole
// before the next step, and a reply counts only from the previous match on.
void LayeredCheck::run_steps() {
    while (m_step < m_steps->size()) {
        const CheckStep& step = (*m_steps)[m_step];
        if (!step.expect) {
            if (send_bytes(step.send) == Io::failed || m_sent < step.send.size())
                return;
            if (!next_step())
                return;
            continue;
        }
        std::string_view window = std::string_view(m_received).substr(m_consumed);
        bool line_start = m_consumed == 0 || m_received[m_consumed - 1] == '\n';
        if (auto end = step.expect->match_end(window.substr(0, k_expect_limit), line_start)) {
            m_consumed += *end;
            if (!next_step())
                return;
            continue;
        }
        if (window.size() >= k_expect_limit)
            return fail_step(ErrorClass::expect_mismatch,
                             "no match in the first " + std::to_string(k_expect_limit) + " bytes");
        if (m_eof)
            return fail_step(ErrorClass::expect_mismatch,
                             "connection closed before a reply matched");
        if (event_add(m_read.get(), nullptr) != 0)
            return fail_errno(ENOMEM);
        return;
    }
    pass();
}

bool LayeredCheck::next_step() {
    bool matched = (*m_steps)[m_step].expect.has_value();
    ++m_step;
    m_sent = 0;
    if (matched && m_step < m_steps->size() && !m_timer.start(m_options.timeout)) {
        fail_errno(ENOMEM);
        return false;
    }
    return true;
}

// A dialogue of more than one send or expect names the step in its message too.
void LayeredCheck::fail_step(ErrorClass error, std::string message) {
    if (m_steps->size() > 2 || (m_steps->size() == 2 && !(*m_steps)[1].expect))
        message = "step " + std::to_string(m_step + 1) + ": " + message;
    fail(error, {}, std::move(message));
}

LayeredCheck::Io LayeredCheck::send_bytes(const std::string& bytes) {
    while (m_sent < bytes.size()) {
        if (m_tls) {
            TlsSession::Io io = m_tls->write(bytes.data() + m_sent, bytes.size() - m_sent);
            if (io.status == TlsSession::Io::Status::ok) {
                m_sent += io.bytes;
                continue;
            }
            if (io.status == TlsSession::Io::Status::want_read)
                return Io::more; // the read watch is on
            if (io.status != TlsSession::Io::Status::want_write) {
                fail_tls(m_tls->failure());
                return Io::failed;
            }
        } else {
            ssize_t n =
                ::send(m_fd.get(), bytes.data() + m_sent, bytes.size() - m_sent, MSG_NOSIGNAL);
            if (n >= 0) {
                m_sent += static_cast<std::size_t>(n);
                continue;
            }
            int err = errno;
            if (err != EAGAIN && err != EINTR) {
                fail_errno(err);
                return Io::failed;
            }
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

LayeredCheck::Read LayeredCheck::read_some(char* buf, std::size_t room) {
    Read r;
    if (m_tls) {
        TlsSession::Io io = m_tls->read(buf, room);
        switch (io.status) {
        case TlsSession::Io::Status::ok:
            r.bytes = io.bytes;
            return r;
        case TlsSession::Io::Status::want_read:
            r.again = true;
            return r;
        case TlsSession::Io::Status::want_write:
            r.again = true;
            if (event_add(m_write.get(), nullptr) != 0) {
                fail_errno(ENOMEM);
                r.io = Io::failed;
            }
            return r;
        case TlsSession::Io::Status::closed:
        case TlsSession::Io::Status::truncated:
            r.eof = true;
            return r;
        case TlsSession::Io::Status::failed:
            fail_tls(m_tls->failure());
            r.io = Io::failed;
            return r;
        }
    }
    ssize_t n = ::recv(m_fd.get(), buf, room, 0);
    if (n >= 0) {
        r.bytes = static_cast<std::size_t>(n);
        r.eof = n == 0;
        return r;
    }
    int err = errno;
    if (err == EAGAIN || err == EINTR) {
        r.again = true;
        return r;
    }
    fail_errno(err);
    r.io = Io::failed;
    return r;
}

// Reads what arrived, up to k_expect_limit bytes past the previous match; EOF is noted for
// run_steps to judge.
LayeredCheck::Io LayeredCheck::read_reply() {
    char buf[k_expect_limit];
    while (!m_eof && m_received.size() < m_consumed + k_expect_limit) {
        Read r = read_some(buf, m_consumed + k_expect_limit - m_received.size());
        if (r.io == Io::failed || r.again)
            return r.io;
        m_received.append(buf, r.bytes);
        m_eof = r.eof;
    }
    event_del(m_read.get()); // EOF, or the window is full: stop watching (no spin)
    return Io::more;
}

// --- HTTP -------------------------------------------------------------------------------

void LayeredCheck::begin_http() {
    m_phase = Phase::http;
    m_sent = 0;
    m_http_start = Clock::now();
    m_response.emplace(m_options.http->head);
    if (!watch(true, false))
        return;
    on_http_io(EV_WRITE);
}

void LayeredCheck::on_http_io(short what) {
    const std::string& request = m_options.http->request;
    if (m_sent < request.size() && (what & EV_WRITE || m_tls)) {
        if (send_bytes(request) == Io::failed)
            return;
        if (m_sent == request.size())
            m_request_sent = Clock::now();
    }
    if ((what & EV_READ || m_tls) && read_http() == Io::failed)
        return;
    if (m_response->status() != HttpResponseParser::Status::more)
        judge_http();
}

LayeredCheck::Io LayeredCheck::read_http() {
    char buf[16384];
    while (m_response->status() == HttpResponseParser::Status::more) {
        Read r = read_some(buf, sizeof buf);
        if (r.io == Io::failed || r.again)
            return r.io;
        if (r.eof) {
            m_response->finish();
            break;
        }
        if (!m_ttfb)
            m_ttfb = Clock::now() -
                     (m_sent == m_options.http->request.size() ? m_request_sent : m_http_start);
        m_response->feed(std::string_view(buf, r.bytes));
    }
    return Io::more;
}

HttpInfo LayeredCheck::http_info() const {
    HttpInfo info;
    info.status = m_response->code();
    info.reason = m_response->reason();
    info.ttfb = m_ttfb.value_or(Duration::zero());
    info.bytes = m_response->bytes_received();
    return info;
}

void LayeredCheck::judge_http() {
    const Matcher* expect = m_options.expect ? &*m_options.expect : nullptr;
    HttpVerdict verdict = judge_http_response(*m_response, m_options.http->accepted, expect);
    switch (verdict.kind) {
    case HttpVerdictKind::ready:
        return pass();
    case HttpVerdictKind::status:
        return fail(ErrorClass::http_status, {}, verdict.message);
    case HttpVerdictKind::protocol:
        return fail(ErrorClass::http_protocol, {}, verdict.message);
    case HttpVerdictKind::expect_mismatch:
        return fail(ErrorClass::expect_mismatch, {}, verdict.message);
    }
}

void LayeredCheck::on_timeout() {
    std::string after = " timed out after " + seconds_text(m_options.timeout);
    switch (m_phase) {
    case Phase::starttls: {
        std::string name(starttls_protocol_name(*m_options.starttls));
        m_received = m_starttls->received();
        return fail(ErrorClass::timeout, ErrorCode::sys(ETIMEDOUT),
                    "STARTTLS (" + name + ")" + after);
    }
    case Phase::handshake:
        return fail(ErrorClass::timeout, ErrorCode::sys(ETIMEDOUT), "TLS handshake" + after);
    case Phase::http:
        m_received = m_response->received();
        return fail(ErrorClass::timeout, ErrorCode::sys(ETIMEDOUT),
                    std::string(m_response->code() ? "HTTP response body" : "HTTP response") +
                        after);
    case Phase::exchange:
        break;
    }
    std::string within = " within " + seconds_text(m_options.timeout);
    if (m_received.size() == m_consumed)
        fail_step(ErrorClass::expect_timeout, "no reply" + within);
    else
        fail_step(ErrorClass::expect_mismatch, "reply did not match" + within);
}

core::Phase LayeredCheck::failed_phase() const {
    switch (m_phase) {
    case Phase::starttls:
        return core::Phase::starttls;
    case Phase::handshake:
        return core::Phase::tls;
    case Phase::http:
        return core::Phase::http;
    case Phase::exchange:
        break;
    }
    return core::Phase::check;
}

void LayeredCheck::pass() {
    m_timer.cancel();
    m_grace.cancel();
    m_read.reset();
    m_write.reset();
    CheckOutcome out;
    out.passed = true;
    if (m_tls) {
        out.tls = m_tls->info();
        out.tls_time = m_tls_time;
        out.channel = Channel(std::move(m_tls));
    } else {
        out.channel = Channel(std::move(m_fd));
    }
    out.bytes_read = m_received.size();
    if (m_response) {
        out.http = http_info();
        out.http_time = Clock::now() - m_http_start;
        out.bytes_read = m_response->bytes_received();
    }
    Done done = std::move(m_done); // the owner may destroy this Check from inside `done`
    done(std::move(out));
}

void LayeredCheck::fail(ErrorClass error, ErrorCode code, std::string message,
                        std::optional<CertFacts> cert) {
    m_timer.cancel();
    m_grace.cancel();
    m_read.reset();
    m_write.reset();
    m_tls.reset(); // a failed check sends no close_notify: the socket just closes
    m_fd.reset();
    CheckOutcome out;
    out.phase = failed_phase();
    out.error = error;
    out.code = code;
    out.message = std::move(message);
    out.bytes_read = m_received.size();
    out.received = std::move(m_received);
    out.cert = std::move(cert);
    if (m_phase == Phase::exchange && m_steps)
        out.step = static_cast<unsigned>(m_step + 1);
    if (m_phase == Phase::http) {
        out.bytes_read = m_response->bytes_received();
        if (m_response->code() != 0)
            out.http = http_info();
        if (out.received.empty())
            out.received = m_response->received();
    }
    Done done = std::move(m_done);
    done(std::move(out));
}

} // namespace

std::vector<CheckStep> dialogue_steps(const CheckOptions& options) {
    if (!options.steps.empty())
        return options.steps;
    std::vector<CheckStep> steps;
    if (!options.send.empty())
        steps.push_back(CheckStep{options.send, std::nullopt});
    if (options.expect)
        steps.push_back(CheckStep{{}, options.expect});
    return steps;
}

std::unique_ptr<Check> make_check(Loop& loop, const CheckOptions& options, std::string host) {
    return std::make_unique<LayeredCheck>(loop, options, std::move(host));
}

} // namespace tcpretry::core
