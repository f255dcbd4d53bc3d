#include "core/errors.hpp"

#include "core/event.hpp"
#include "core/tls_names.hpp"

#include <cerrno>
#include <cstring>
#include <event2/util.h>

namespace tcpretry::core {

ConnectStep connect_step(int err) {
    switch (err) {
    case 0:
    case EINPROGRESS:
    case EINTR:
    case EISCONN:
        return ConnectStep::connecting;
    case EACCES:
    case EPERM:
    case EAFNOSUPPORT:
    case EALREADY:
    case EBADF:
    case EFAULT:
    case ENOTSOCK:
        return ConnectStep::fatal;
    default:
        return ConnectStep::failed;
    }
}

ErrorClass classify_errno(int err) {
    switch (err) {
    case ECONNREFUSED:
        return ErrorClass::refused;
    case ETIMEDOUT:
        return ErrorClass::timeout;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case ENETDOWN:
    case EHOSTDOWN:
    case ENONET:
        return ErrorClass::unreachable;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
        return ErrorClass::reset;
    case EADDRNOTAVAIL:
    case EADDRINUSE:
    case EAGAIN:
    case ENOBUFS:
    case EMFILE:
    case ENFILE:
    case ENOMEM:
        return ErrorClass::local;
    default:
        return ErrorClass::fatal;
    }
}

ErrorClass classify_unix_errno(int err) {
    switch (err) {
    case ENOENT:
        return ErrorClass::missing;
    case EACCES:
    case EPERM:
        return ErrorClass::denied;
    default:
        return classify_errno(err);
    }
}

std::string_view error_class_name(ErrorClass c) {
    switch (c) {
    case ErrorClass::refused:
        return "refused";
    case ErrorClass::timeout:
        return "timeout";
    case ErrorClass::unreachable:
        return "unreachable";
    case ErrorClass::reset:
        return "reset";
    case ErrorClass::local:
        return "local";
    case ErrorClass::fatal:
        return "fatal";
    case ErrorClass::resolve:
        return "resolve";
    case ErrorClass::self_connect:
        return "self_connect";
    case ErrorClass::expect_mismatch:
        return "expect_mismatch";
    case ErrorClass::expect_timeout:
        return "expect_timeout";
    case ErrorClass::tls_handshake:
        return "tls_handshake";
    case ErrorClass::tls_verify:
        return "tls_verify";
    case ErrorClass::tls_alpn:
        return "tls_alpn";
    case ErrorClass::cert_expiring:
        return "cert_expiring";
    case ErrorClass::starttls:
        return "starttls";
    case ErrorClass::missing:
        return "missing";
    case ErrorClass::denied:
        return "denied";
    case ErrorClass::still_open:
        return "still_open";
    case ErrorClass::http_status:
        return "http_status";
    case ErrorClass::http_protocol:
        return "http_protocol";
    }
    return "fatal";
}

namespace {

std::string_view resolver_code_name(int eai) {
    switch (eai) {
    case EVUTIL_EAI_ADDRFAMILY:
        return "EAI_ADDRFAMILY";
    case EVUTIL_EAI_AGAIN:
        return "EAI_AGAIN";
    case EVUTIL_EAI_BADFLAGS:
        return "EAI_BADFLAGS";
    case EVUTIL_EAI_FAIL:
        return "EAI_FAIL";
    case EVUTIL_EAI_FAMILY:
        return "EAI_FAMILY";
    case EVUTIL_EAI_MEMORY:
        return "EAI_MEMORY";
    case EVUTIL_EAI_NODATA:
        return "EAI_NODATA";
    case EVUTIL_EAI_NONAME:
        return "EAI_NONAME";
    case EVUTIL_EAI_SERVICE:
        return "EAI_SERVICE";
    case EVUTIL_EAI_SOCKTYPE:
        return "EAI_SOCKTYPE";
    case EVUTIL_EAI_SYSTEM:
        return "EAI_SYSTEM";
    case EVUTIL_EAI_CANCEL:
        return "EAI_CANCEL";
    default:
        return "EAI_FAIL";
    }
}

} // namespace

std::string_view error_code_name(ErrorCode code) {
    switch (code.domain) {
    case ErrorCode::Domain::none:
        return {};
    case ErrorCode::Domain::resolver:
        return resolver_code_name(code.value);
    case ErrorCode::Domain::tls:
        return tls_error_code_name(code.value);
    case ErrorCode::Domain::x509:
        return x509_verify_error_name(code.value);
    case ErrorCode::Domain::sys:
        break;
    }
    if (const char* name = strerrorname_np(code.value))
        return name;
    return "EUNKNOWN";
}

std::string errno_message(int err) {
    switch (err) {
    case ECONNREFUSED:
        return "connection refused";
    case ETIMEDOUT:
        return "timed out";
    case ECONNRESET:
        return "connection reset by peer";
    default:
        break;
    }
    std::string s = strerror(err);
    if (!s.empty() && s[0] >= 'A' && s[0] <= 'Z' && (s.size() < 2 || !(s[1] >= 'A' && s[1] <= 'Z')))
        s[0] = static_cast<char>(s[0] - 'A' + 'a');
    return s;
}

std::string_view disconnect_reason_name(DisconnectReason r) {
    switch (r) {
    case DisconnectReason::closed:
        return "closed";
    case DisconnectReason::reset:
        return "reset";
    case DisconnectReason::timeout:
        return "timeout";
    case DisconnectReason::error:
        return "error";
    case DisconnectReason::recheck:
        return "recheck";
    case DisconnectReason::tls_close:
        return "tls_close";
    case DisconnectReason::tls_error:
        return "tls_error";
    }
    return "error";
}

} // namespace tcpretry::core
