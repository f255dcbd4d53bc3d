// TLS over an already-connected socket, driven by the caller's own fd watches (plain libssl:
// no bufferevent, no thread, no printing, nothing thrown).
//
//   TlsContext::make(config)        once per run: trust store, client cert, versions, ALPN;
//                                   a bad CA file or a key that does not match is an error value
//   TlsSession::start(ctx, fd, host) per connection; then step() until done or failed:
//       want_read / want_write -> arm a read / write watch on fd() and call step() again
//       done   -> info(): version, cipher, ALPN, SNI, verified, the leaf's facts
//       failed -> failure(): its class, errno-like code, words, and the leaf's facts if seen
//   read() / write() then carry --send / --expect over the channel; a read tells an orderly
//   close (close_notify) from a truncation (EOF without it) and from a reset.
//
// Names: a host name is sent as SNI and checked against the certificate's DNS names; an IP
// literal is checked against its IP addresses and no SNI is sent; TlsConfig::sni replaces the
// host for both. Verification always runs: with `insecure` its result is only reported
// (TlsInfo::verified false, with the reason), and the handshake goes on.
//
// The failure classes (ErrorClass, names as in the error table):
//   tls_handshake  the handshake failed. errno is OpenSSL's reason macro name (ErrorCode::tls):
//                    SSL_R_TLSV1_ALERT_PROTOCOL_VERSION   the peer refused our versions (alert)
//                    SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE  the peer found nothing in common
//                    SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED  mTLS: we sent no certificate
//                    SSL_R_TLSV1_ALERT_UNKNOWN_CA / SSL_R_SSLV3_ALERT_BAD_CERTIFICATE  mTLS: the
//                                                         peer rejected our certificate
//                    SSL_R_UNSUPPORTED_PROTOCOL           the peer offered only versions we refuse
//                    SSL_R_WRONG_VERSION_NUMBER / SSL_R_PACKET_LENGTH_TOO_LONG  the peer speaks
//                                                         something other than TLS (plain text)
//                    SSL_R_UNEXPECTED_EOF_WHILE_READING   the peer closed during the handshake
//                  Alerts from the peer are SSL_R_{SSLV3,TLSV1,TLSV13}_ALERT_<alert name>;
//                  every SSL_R_* reason has its name (core/tls_names.cpp); an error of another
//                  OpenSSL library is named by its library, e.g. ERR_LIB_X509.
//   tls_verify     the certificate did not verify: errno is the X509 verify result name
//                  (ErrorCode::x509), e.g. X509_V_ERR_CERT_HAS_EXPIRED,
//                  X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH,
//                  X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT,
//                  X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY; the words say it plainly
//                  ("certificate expired 3 days ago", "certificate is for other.example, not
//                  db.example")
//   tls_alpn       ALPN was offered and none agreed (no protocol selected, or the peer's
//                  no_application_protocol alert)
//   cert_expiring  the leaf expires in fewer than cert_min_days whole days (also insecure)
//   (an I/O error of the socket during the handshake keeps its errno and errno's class:
//   ECONNRESET is `reset`)
#pragma once

#include "core/errors.hpp"
#include "core/loop.hpp"
#include "core/tls_info.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

struct ssl_st;
struct ssl_ctx_st;
struct x509_st;

namespace tcpretry::core {

enum class TlsVersion { tls1_2, tls1_3 };

// "1.2" or "1.3" (--tls-min-version); nullopt for anything else.
std::optional<TlsVersion> parse_tls_version(std::string_view text);

// "h2,http/1.1" (--alpn) as a list; an error value names the bad entry (empty, over 255 bytes).
std::variant<std::vector<std::string>, std::string> parse_alpn_list(std::string_view text);

// What a TLS client does; one per run, shared by every connection.
struct TlsConfig {
    std::string sni;       // sent and checked instead of the target's host; empty: the host
    bool insecure = false; // report verification, do not require it
    std::string ca_file;   // PEM bundle; with ca_path empty both: the system store
    std::string ca_path;   // a hashed directory (c_rehash)
    TlsVersion min_version = TlsVersion::tls1_2;
    std::vector<std::string> alpn; // offered in this order; empty: no ALPN
    std::string client_cert;       // PEM (a chain may follow the leaf); with client_key
    std::string client_key;
    std::optional<int> cert_min_days; // fail when the leaf has fewer whole days left
};

// The facts of `cert` at `now`.
CertFacts cert_facts(const x509_st* cert, std::chrono::system_clock::time_point now);

enum class TlsFailureKind {
    handshake,     // tls_handshake
    verify,        // tls_verify
    alpn,          // tls_alpn
    cert_expiring, // cert_expiring
    io,            // a socket error: code is the errno, the class is classify_errno's
};

struct TlsFailure {
    TlsFailureKind kind = TlsFailureKind::handshake;
    ErrorCode code; // tls: OpenSSL's reason; x509: the verify result; sys: errno; or none
    std::string message;
    std::optional<CertFacts> cert; // the leaf, when the peer showed one
};

// The error class of a failure: tls_handshake, tls_verify, tls_alpn, cert_expiring; for an
// I/O failure the errno's class (reset, ...). And its name.
ErrorClass tls_failure_class(const TlsFailure& failure);
std::string_view tls_failure_class_name(const TlsFailure& failure);

// Words for a verify result, with the leaf's facts when known: "certificate expired 3 days
// ago", "certificate is for other.example, not db.example", "certificate is self-signed".
std::string verify_error_words(long code, const CertFacts* cert, std::string_view checked_name,
                               std::chrono::system_clock::time_point now);

// A configured OpenSSL client context: cheap to copy (shared), immutable once made.
class TlsContext {
  public:
    // Loads the trust store and the client certificate. Errors are one line that names the
    // file: "cannot load CA file /x/ca.pem: no such file or directory".
    static std::variant<TlsContext, std::string> make(TlsConfig config);

    const TlsConfig& config() const { return *m_config; }
    ssl_ctx_st* native() const { return m_ctx.get(); }

  private:
    TlsContext() = default;
    std::shared_ptr<ssl_ctx_st> m_ctx;
    std::shared_ptr<const TlsConfig> m_config;
};

enum class TlsStep { want_read, want_write, done, failed };

// One TLS client connection over a connected socket it owns.
class TlsSession {
  public:
    // Takes the connected socket. `host` is the target's host (a name or an IP literal,
    // without brackets; a %zone is ignored). Fails only when OpenSSL cannot allocate.
    static std::variant<std::unique_ptr<TlsSession>, TlsFailure>
    start(const TlsContext& context, UniqueFd fd, std::string_view host);

    ~TlsSession();
    TlsSession(const TlsSession&) = delete;
    TlsSession& operator=(const TlsSession&) = delete;

    // Drives the handshake as far as the socket allows. After done or failed it returns the
    // same again. With TLS 1.3 and a server that asked for a client certificate, the
    // handshake is only known to be accepted once the server sent a session ticket, data or
    // close_notify (its rejection of our certificate comes after our side finished):
    // confirming() is true while step() waits for that.
    TlsStep step();
    bool confirming() const { return m_phase == Phase::confirming; }
    // While confirming: take the handshake as done without the server's word (a server that
    // sends no ticket and waits for the client to speak; the caller's grace time ran out).
    TlsStep finish_unconfirmed();

    const TlsInfo& info() const { return m_info; }          // after done
    const TlsFailure& failure() const { return m_failure; } // after failed (also read/write)
    int fd() const { return m_fd.get(); }
    // The name checked (and sent as SNI unless an IP literal).
    const std::string& checked_name() const { return m_name; }

    struct Io {
        enum class Status {
            ok,         // `bytes` moved (more may be buffered: see pending())
            want_read,  // wait for readable, then call again
            want_write, // wait for writable, then call again (same arguments for write)
            closed,     // read: the peer sent close_notify (an orderly close)
            truncated,  // read: EOF without close_notify
            failed,     // failure() says why (reset: io with ECONNRESET)
        };
        Status status = Status::failed;
        std::size_t bytes = 0;
    };
    // After done: application data. A read may leave decrypted bytes buffered that no fd
    // watch will announce: read until want_read (or check pending()).
    Io read(char* buffer, std::size_t size);
    Io write(const char* data, std::size_t size);
    bool pending() const;
    // Sends close_notify once (does not wait for the peer's); false when it could not be
    // sent (the connection is broken or the socket full): then just close.
    bool shutdown();

  private:
    enum class Phase { handshake, confirming, done, failed };

    TlsSession(const TlsContext& context, UniqueFd fd);
    TlsStep after_handshake();
    TlsStep confirm();
    TlsStep finish();
    TlsStep fail(TlsFailure failure);
    TlsFailure classify(int ssl_error, int saved_errno, bool handshake);
    TlsFailure verify_failure(long code);
    std::optional<CertFacts> leaf_facts() const;

    friend struct TlsCallbacks; // OpenSSL's callbacks (tls.cpp) record into the session

    TlsContext m_context; // shares the SSL_CTX and the config
    UniqueFd m_fd;
    std::unique_ptr<ssl_st, void (*)(ssl_st*)> m_ssl;
    std::unique_ptr<x509_st, void (*)(x509_st*)> m_leaf;
    std::string m_name;
    bool m_name_is_ip = false;
    long m_verify_error = 0; // the first verify error (X509_V_OK = 0)
    bool m_cert_requested = false;
    bool m_ticket_seen = false;
    bool m_broken = false; // a fatal error: no close_notify may be sent
    Phase m_phase = Phase::handshake;
    TlsInfo m_info;
    TlsFailure m_failure;
};

} // namespace tcpretry::core
