// The check of a connected socket: what must happen after the TCP connect before the target
// counts as up. It is layered, each layer optional, all of it under the Check's one timer:
//   STARTTLS opening (--starttls) -> TLS handshake (--tls) -> --send / --expect (over TLS
//   when there is TLS).
// An HTTP(S) TARGET replaces the --send/--expect layer with one HTTP/1.1 request and the
// judgement of its response (status, then --expect over the decoded body).
// --send and --expect may form a dialogue: steps in command-line order, each expect matched
// against what arrived after the previous match, each within the timeout (it restarts after
// every match); a failure names its step (from 1).
//
// A Check takes the connected socket, does its own I/O with its own timer, and reports once
// through its callback: passed (the Channel handed back: the socket, or the TLS session that
// owns it, with how many application bytes it read) or failed (why, the bytes received, and
// the server's certificate when a TLS failure saw one). The timer's expiry names the phase:
// "TLS handshake timed out after 3 s".
#pragma once

#include "core/defaults.hpp"
#include "core/errors.hpp"
#include "core/event.hpp"
#include "core/expect.hpp"
#include "core/http.hpp"
#include "core/http_info.hpp"
#include "core/loop.hpp"
#include "core/starttls.hpp"
#include "core/tls.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace tcpretry::core {

// One step of a dialogue: send these bytes, or (expect set) wait for a reply that matches.
struct CheckStep {
    std::string send;
    std::optional<Matcher> expect;
};

// An HTTP(S) TARGET's exchange: the request (build_http_request) and the accepted statuses.
struct HttpCheck {
    std::string request;
    bool head = false; // a HEAD request: the response has no body
    StatusSet accepted;
};

// An application-level check after the TCP connect: STARTTLS, TLS, send bytes, expect a reply.
struct CheckOptions {
    std::string send;              // sent right after connecting (may be empty)
    std::optional<Matcher> expect; // matched against the first k_expect_limit bytes received
    // A dialogue of several steps, in order; when set, it replaces `send` and `expect`.
    std::vector<CheckStep> steps;
    // An HTTP TARGET: the request replaces the dialogue, and `expect` matches the body.
    std::optional<HttpCheck> http;
    Duration timeout = k_connect_timeout;
    std::optional<TlsContext> tls;            // TLS handshake (shared by every connection)
    std::optional<StartTlsProtocol> starttls; // plain-text opening first (needs tls)
};

// TLS 1.3 with a client certificate: how long a handshake that is complete on our side waits
// for the server's verdict on our certificate (a ticket, data, or its alert) before it is
// taken as accepted. OpenSSL servers send their tickets at once, so this is rarely waited out;
// a server that sends none and waits for us to speak would otherwise stall every check.
inline constexpr Duration k_tls_confirm_grace = std::chrono::milliseconds(300);

// A connection that passed its check: the plain socket, or the TLS session that owns it.
// Destroying (or reassigning) a TLS channel sends close_notify first (best effort, never
// waits), so wait and ping mode close TLS connections in an orderly way.
class Channel {
  public:
    Channel() = default;
    explicit Channel(UniqueFd fd) : m_fd(std::move(fd)) {}
    explicit Channel(std::unique_ptr<TlsSession> tls) : m_tls(std::move(tls)) {}
    Channel(Channel&&) noexcept = default;
    Channel& operator=(Channel&& other) noexcept;
    ~Channel() { close(); }

    explicit operator bool() const { return m_fd || m_tls; }
    int fd() const { return m_tls ? m_tls->fd() : m_fd.get(); }
    TlsSession* tls() const { return m_tls.get(); }
    // The plain socket (empty for TLS); the channel keeps nothing.
    UniqueFd release_fd() { return std::move(m_fd); }
    std::unique_ptr<TlsSession> release_tls() { return std::move(m_tls); }
    void close(); // close_notify (TLS), then the socket closes

  private:
    UniqueFd m_fd;
    std::unique_ptr<TlsSession> m_tls;
};

struct CheckOutcome {
    bool passed = false;
    Channel channel;                  // passed: the connection, handed back
    std::optional<TlsInfo> tls;       // passed with TLS: the handshake's facts
    std::optional<Duration> tls_time; // passed with TLS: the handshake's time (after STARTTLS)
    uint64_t bytes_read = 0;          // what the check read (application bytes, after TLS)
    // An HTTP TARGET: the response (passed, or failed with http_status) and the exchange's time
    std::optional<HttpInfo> http;
    std::optional<Duration> http_time;
    // failed
    Phase phase = Phase::check; // starttls, tls, check (--send / --expect) or http
    unsigned step = 0;          // check: the dialogue's step that failed, from 1
    ErrorClass error = ErrorClass::fatal;
    ErrorCode code;
    std::string message;
    std::string received;          // the bytes received (raw; reporters shorten and escape them)
    std::optional<CertFacts> cert; // a TLS failure: the server's certificate, when it showed one
};

class Check {
  public:
    // Runs exactly once, maybe before start() returns. The owner may destroy the Check from
    // inside it: a Check touches nothing of itself after calling it.
    using Done = std::function<void(CheckOutcome)>;

    virtual ~Check() = default;
    // Takes the connected socket and begins. Destroying the Check before `done` ran cancels
    // it silently (the socket is closed).
    virtual void start(UniqueFd fd, Done done) = 0;
};

// The check `options` describe (they must outlive it). `host` is the target's host: TLS sends
// it as SNI and checks the certificate against it (unless TlsConfig::sni replaces it).
std::unique_ptr<Check> make_check(Loop& loop, const CheckOptions& options, std::string host = {});

// The dialogue `options` describe: its steps, or the one --send and --expect.
std::vector<CheckStep> dialogue_steps(const CheckOptions& options);

// A timeout as messages say it: "3 s", "0.25 s".
std::string seconds_text(Duration d);

} // namespace tcpretry::core
