// What a TLS handshake found out: plain values (no OpenSSL, no libevent), so that events can
// carry them (core/event.hpp). Made by core/tls.
#pragma once

#include "core/errors.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace tcpretry::core {

// Facts of a certificate (the peer's leaf).
struct CertFacts {
    std::string subject; // RFC 2253: "CN=db.example,O=Example"
    std::string issuer;
    std::string serial;     // lower-case hex, no separators
    std::string not_before; // RFC 3339 UTC: "2026-12-01T05:30:00Z"
    std::string not_after;
    int64_t not_before_unix = 0; // the same as seconds since 1970 (for metrics)
    int64_t not_after_unix = 0;
    int64_t days_left = 0; // whole days until not_after, rounded down; negative once expired
    std::vector<std::string> dns_names;    // subjectAltName DNS entries
    std::vector<std::string> ip_addresses; // subjectAltName IP entries, as text
    std::string sha256;                    // of the DER, lower-case hex
};

// A completed handshake.
struct TlsInfo {
    std::string version; // "TLSv1.3"
    std::string cipher;  // "TLS_AES_256_GCM_SHA384"
    std::string alpn;    // the agreed protocol; empty: none
    std::string sni;     // what was sent; empty for an IP literal
    bool verified = false;
    ErrorCode verify_error;     // insecure and not verified: why (ErrorCode::x509)
    std::string verify_message; // ... in words
    std::optional<CertFacts> cert;
};

} // namespace tcpretry::core
