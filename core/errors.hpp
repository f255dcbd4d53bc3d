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
};

ErrorClass classify_errno(int err);
std::string_view error_class_name(ErrorClass c);

// An error code and where it came from: the kernel (errno) or the resolver (EAI_*).
struct ErrorCode {
    enum class Domain { none, sys, resolver };
    Domain domain = Domain::none;
    int value = 0;

    static ErrorCode sys(int err) { return {Domain::sys, err}; }
    static ErrorCode resolver(int eai) { return {Domain::resolver, eai}; }
    explicit operator bool() const { return domain != Domain::none; }
};

// Symbolic name: "ECONNREFUSED", "EAI_NONAME"; empty when there is none.
std::string_view error_code_name(ErrorCode code);

// Short human words for an errno, lower case: "connection refused".
std::string errno_message(int err);

} // namespace tcpretry::core
