// Symbolic names for OpenSSL's error codes, as a failure's `errno` (core/tls.hpp).
#pragma once

#include <string>
#include <string_view>

namespace tcpretry::core {

// "X509_V_ERR_CERT_HAS_EXPIRED" for an X509 verify result; "X509_V_OK" for 0;
// "X509_V_ERR_UNKNOWN" for a code OpenSSL 3.0 does not have.
std::string_view x509_verify_error_name(long code);

// "SSL_R_WRONG_VERSION_NUMBER" for a libssl reason code; empty when unknown.
std::string_view ssl_reason_name(int reason);

// A libssl reason's words, made from its name as OpenSSL makes its error strings:
// SSL_R_WRONG_VERSION_NUMBER -> "wrong version number"; empty when the reason is unknown.
std::string ssl_reason_words(int reason);

// The name of a packed OpenSSL error (ERR_PACK(lib, 0, reason), as ErrorCode::tls keeps it):
// libssl's reason name; for another library its name, "ERR_LIB_X509"; "SSL_R_UNKNOWN" else.
std::string_view tls_error_code_name(int packed);

} // namespace tcpretry::core
