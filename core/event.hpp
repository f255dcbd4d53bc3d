// What the core reports: plain values handed to a sink it does not own. It never prints.
#pragma once

#include "core/address.hpp"
#include "core/clock.hpp"
#include "core/errors.hpp"
#include "core/http_info.hpp"
#include "core/tls_info.hpp"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tcpretry::core {

enum class EventType {
    attempt,      // a connect to one address started
    failed,       // one address's attempt failed, or the round's resolution failed
    retry,        // the round failed; the next one is scheduled
    connected,    // an address connected (and passed the check); the target is up
    disconnected, // watch mode: an established connection ended (reported once the
                  // immediate reconnect decided whether it was an outage)
    gave_up,      // no more rounds for this target
    warning,      // about the whole run, not one target (message only)
    probe,        // ping mode: one probe's outcome
    removed,      // SIGHUP: the target left the --targets-file; nothing follows for it
    closed,       // --invert: a round found nothing accepting (error: the class seen); the
                  // target is done, as `connected` ends a normal wait
};

// Why an established connection ended.
enum class DisconnectReason {
    closed,    // the peer closed it (EOF)
    reset,     // the peer reset it (RST)
    timeout,   // keepalive or TCP_USER_TIMEOUT found the peer or path dead
    error,     // any other error
    recheck,   // --recheck: a fresh connect failed while the held one lived; we closed it
    tls_close, // TLS: the peer sent close_notify (an orderly close)
    tls_error, // TLS: a TLS error, or EOF without close_notify (a truncation)
};

std::string_view disconnect_reason_name(DisconnectReason r);

// The phases of a round, in order; a failed attempt names the one it failed in.
enum class Phase {
    resolve,  // looking the name up (/etc/hosts, DNS)
    connect,  // the TCP connect
    starttls, // --starttls: the plain-text opening
    tls,      // the TLS handshake
    check,    // --send / --expect (over TLS when there is TLS)
    http,     // an HTTP(S) TARGET's request and response
};

constexpr std::string_view phase_name(Phase p) {
    switch (p) {
    case Phase::resolve:
        return "resolve";
    case Phase::connect:
        return "connect";
    case Phase::starttls:
        return "starttls";
    case Phase::tls:
        return "tls";
    case Phase::check:
        return "check";
    case Phase::http:
        return "http";
    }
    return "check";
}

struct Event {
    EventType type = EventType::attempt;
    std::size_t target = 0; // index of the target in the order given
    // The round's number, from 1 (retry: the next round; gave_up: rounds). Named `attempt`
    // for the JSON key it becomes; it is not one address's attempt (EventType::attempt).
    unsigned attempt = 0;
    std::optional<Endpoint> address; // peer (absent for resolution failures and retry)
    std::optional<Endpoint> local;   // connected: our end

    // failed and gave_up
    ErrorClass error = ErrorClass::fatal;
    ErrorCode code;      // the errno or resolver code, when there was one
    std::string message; // human words

    std::string received; // failed with expect_* or starttls: the first bytes the server sent

    // connected, probe (ok): the TLS handshake's facts (--tls / --starttls)
    std::optional<TlsInfo> tls;
    // failed (tls_verify, cert_expiring, ...), probe (not ok): the server's certificate
    std::optional<CertFacts> cert;

    Duration duration{};           // failed: this address's attempt; connected: its connect time
    Duration waited{};             // connected: since the target's first round began
    std::optional<Duration> check; // connected: the whole check's time (STARTTLS, TLS, exchange)
    // Phase times. connected, probe (ok), failed: how long this round's name lookup took, when a
    // name was looked up (not for an IP literal); connected, probe (ok): the TLS handshake's
    // time (after STARTTLS; part of `check`).
    std::optional<Duration> resolve_time;
    std::optional<Duration> tls_time;
    // connected, probe (ok): an HTTP TARGET's response and the exchange's time (part of
    // `check`); failed with http_status: the status and reason (ttfb and bytes too).
    std::optional<HttpInfo> http;
    std::optional<Duration> http_time;
    // failed (check phase): the --send/--expect step that failed, from 1; 0: none
    unsigned step = 0;
    // failed, probe (not ok): the phase it failed in
    std::optional<Phase> phase;
    Duration delay{}; // retry: until the next round

    unsigned connection = 0; // connected, disconnected: 1-based count for this target
    // probe: its sequence number (from 1) and outcome; duration is the connect time when ok,
    // and error, code and message say why when not.
    unsigned seq = 0;
    bool ok = false;
    // disconnected
    DisconnectReason reason = DisconnectReason::closed;
    Duration uptime{};
    uint64_t bytes_received = 0;
    // Whether the target became unavailable: false when the immediate reconnect (and check)
    // succeeded, i.e. the server only recycled the connection.
    bool outage = false;
};

class EventSink {
  public:
    virtual ~EventSink() = default;
    virtual void on_event(const Event& event) = 0;
};

} // namespace tcpretry::core
