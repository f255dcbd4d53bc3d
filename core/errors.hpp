// What connect()'s errno means for the attempt, and which class of failure it is.
#pragma once

#include <string>
#include <string_view>

namespace tcpretry::core {

// What to do after connect() returned -1 with this errno (or 0 for success).
enum class ConnectStep {
    connecting, // in progress: watch the fd for writability
    failed,     // this address's attempt ended; retry it next round
    fatal,      // this address's attempt ended and retrying cannot help
};

ConnectStep connect_step(int err);

// The class of a failure, as reported in every `failed` event.
enum class ErrorClass {
    refused,
    timeout,
    unreachable,
    reset,
    local,
    fatal,
    resolve,
    self_connect,
    expect_mismatch, // connected, but the reply did not match --expect
    expect_timeout,  // connected, but nothing arrived before --expect-timeout
    tls_handshake,   // the TLS handshake failed (errno: OpenSSL's reason)
    tls_verify,      // the server's certificate did not verify (errno: X509_V_ERR_*)
    tls_alpn,        // --alpn offered and no protocol agreed
    cert_expiring,   // the certificate expires within --cert-min-days
    starttls,        // the server refused or did not offer STARTTLS
    missing,         // a Unix socket's path does not exist (ENOENT): retried
    denied,          // a Unix socket's path may not be opened (EACCES, EPERM): fatal
    still_open,      // --invert: the round connected, so the target still accepts
    http_status,     // an HTTP TARGET answered with a status not in --http-status
    http_protocol,   // an HTTP TARGET's answer was not HTTP, or broken (head too long, chunks)
};

ErrorClass classify_errno(int err);
// A Unix socket's connect: ENOENT is `missing`, EACCES and EPERM `denied`; else as TCP's.
ErrorClass classify_unix_errno(int err);
std::string_view error_class_name(ErrorClass c);

// An error code and where it came from: the kernel (errno), the resolver (EAI_*), OpenSSL's
// TLS layer (a packed ERR_PACK(lib, 0, reason)) or its certificate verification (X509_V_ERR_*).
struct ErrorCode {
    enum class Domain { none, sys, resolver, tls, x509 };
    Domain domain = Domain::none;
    int value = 0;

    static ErrorCode sys(int err) { return {Domain::sys, err}; }
    static ErrorCode resolver(int eai) { return {Domain::resolver, eai}; }
    static ErrorCode tls(int packed) { return {Domain::tls, packed}; }
    static ErrorCode x509(int verify_result) { return {Domain::x509, verify_result}; }
    explicit operator bool() const { return domain != Domain::none; }
};

// Symbolic name: "ECONNREFUSED", "EAI_NONAME", "SSL_R_WRONG_VERSION_NUMBER",
// "X509_V_ERR_CERT_HAS_EXPIRED"; empty when there is none.
std::string_view error_code_name(ErrorCode code);

// Short human words for an errno, lower case: "connection refused".
std::string errno_message(int err);

} // namespace tcpretry::core
