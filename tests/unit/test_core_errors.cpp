// connect()'s errno -> next step, errno -> error class, and the names of both.
#include "core/errors.hpp"

#include <cerrno>
#include <doctest/doctest.h>
#include <event2/util.h>
#include <string>
#include <vector>

using namespace tcpretry::core;

namespace {

struct Errno {
    int value;
    const char* name;
};
// clang-format off
#define ERRNO(e) Errno{e, #e}
// clang-format on

} // namespace

TEST_CASE("connect_step: what connect()'s errno means for the attempt") {
    struct Row {
        Errno err;
        ConnectStep step;
    };
    const std::vector<Row> rows{
        // In progress: watch the fd.
        {Errno{0, "0"}, ConnectStep::connecting},
        {ERRNO(EINPROGRESS), ConnectStep::connecting},
        {ERRNO(EINTR), ConnectStep::connecting},
        {ERRNO(EISCONN), ConnectStep::connecting},
        // Fatal: retrying cannot help.
        {ERRNO(EACCES), ConnectStep::fatal},
        {ERRNO(EPERM), ConnectStep::fatal},
        {ERRNO(EAFNOSUPPORT), ConnectStep::fatal},
        {ERRNO(EALREADY), ConnectStep::fatal},
        {ERRNO(EBADF), ConnectStep::fatal},
        {ERRNO(EFAULT), ConnectStep::fatal},
        {ERRNO(ENOTSOCK), ConnectStep::fatal},
        // Every other errno ends this address's attempt; it is retried next round.
        {ERRNO(ECONNREFUSED), ConnectStep::failed},
        {ERRNO(ETIMEDOUT), ConnectStep::failed},
        {ERRNO(ENETUNREACH), ConnectStep::failed},
        {ERRNO(EHOSTUNREACH), ConnectStep::failed},
        {ERRNO(ENETDOWN), ConnectStep::failed},
        {ERRNO(EHOSTDOWN), ConnectStep::failed},
        {ERRNO(ENONET), ConnectStep::failed},
        {ERRNO(ECONNRESET), ConnectStep::failed},
        {ERRNO(ECONNABORTED), ConnectStep::failed},
        {ERRNO(EPIPE), ConnectStep::failed},
        {ERRNO(EADDRNOTAVAIL), ConnectStep::failed},
        {ERRNO(EADDRINUSE), ConnectStep::failed},
        {ERRNO(EAGAIN), ConnectStep::failed},
        {ERRNO(ENOBUFS), ConnectStep::failed},
        {ERRNO(EMFILE), ConnectStep::failed},
        {ERRNO(ENFILE), ConnectStep::failed},
        {ERRNO(ENOMEM), ConnectStep::failed},
        {ERRNO(EINVAL), ConnectStep::failed},
        {ERRNO(EIO), ConnectStep::failed},
        {Errno{9999, "9999"}, ConnectStep::failed},
    };
    for (const auto& row : rows) {
        CAPTURE(row.err.name);
        CHECK(connect_step(row.err.value) == row.step);
    }
}

TEST_CASE("classify_errno: the error class of every errno the issue names") {
    struct Row {
        Errno err;
        ErrorClass cls;
        const char* name;
    };
    const std::vector<Row> rows{
        {ERRNO(ECONNREFUSED), ErrorClass::refused, "refused"},
        {ERRNO(ETIMEDOUT), ErrorClass::timeout, "timeout"},
        {ERRNO(ENETUNREACH), ErrorClass::unreachable, "unreachable"},
        {ERRNO(EHOSTUNREACH), ErrorClass::unreachable, "unreachable"},
        {ERRNO(ENETDOWN), ErrorClass::unreachable, "unreachable"},
        {ERRNO(EHOSTDOWN), ErrorClass::unreachable, "unreachable"},
        {ERRNO(ENONET), ErrorClass::unreachable, "unreachable"},
        {ERRNO(ECONNRESET), ErrorClass::reset, "reset"},
        {ERRNO(ECONNABORTED), ErrorClass::reset, "reset"},
        {ERRNO(EPIPE), ErrorClass::reset, "reset"},
        {ERRNO(EADDRNOTAVAIL), ErrorClass::local, "local"},
        {ERRNO(EADDRINUSE), ErrorClass::local, "local"},
        {ERRNO(EAGAIN), ErrorClass::local, "local"},
        {ERRNO(EWOULDBLOCK), ErrorClass::local, "local"},
        {ERRNO(ENOBUFS), ErrorClass::local, "local"},
        {ERRNO(EMFILE), ErrorClass::local, "local"},
        {ERRNO(ENFILE), ErrorClass::local, "local"},
        {ERRNO(ENOMEM), ErrorClass::local, "local"},
        // The fatal errnos, and any errno not listed.
        {ERRNO(EACCES), ErrorClass::fatal, "fatal"},
        {ERRNO(EPERM), ErrorClass::fatal, "fatal"},
        {ERRNO(EAFNOSUPPORT), ErrorClass::fatal, "fatal"},
        {ERRNO(EALREADY), ErrorClass::fatal, "fatal"},
        {ERRNO(EBADF), ErrorClass::fatal, "fatal"},
        {ERRNO(EFAULT), ErrorClass::fatal, "fatal"},
        {ERRNO(ENOTSOCK), ErrorClass::fatal, "fatal"},
        {ERRNO(EINVAL), ErrorClass::fatal, "fatal"},
        {ERRNO(EIO), ErrorClass::fatal, "fatal"},
        {ERRNO(EPROTO), ErrorClass::fatal, "fatal"},
        {Errno{9999, "9999"}, ErrorClass::fatal, "fatal"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.err.name);
        CHECK(classify_errno(row.err.value) == row.cls);
        CHECK(error_class_name(classify_errno(row.err.value)) == row.name);
    }
}

TEST_CASE("every fatal connect_step errno is classified fatal") {
    for (int err = 1; err < 200; ++err) {
        CAPTURE(err);
        if (connect_step(err) == ConnectStep::fatal)
            CHECK(classify_errno(err) == ErrorClass::fatal);
    }
}

TEST_CASE("error_class_name") {
    struct Row {
        ErrorClass cls;
        const char* name;
    };
    const std::vector<Row> rows{
        {ErrorClass::refused, "refused"},
        {ErrorClass::timeout, "timeout"},
        {ErrorClass::unreachable, "unreachable"},
        {ErrorClass::reset, "reset"},
        {ErrorClass::local, "local"},
        {ErrorClass::fatal, "fatal"},
        {ErrorClass::resolve, "resolve"},
        {ErrorClass::self_connect, "self_connect"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(error_class_name(row.cls) == row.name);
    }
}

TEST_CASE("error_code_name gives the symbolic name") {
    struct Row {
        ErrorCode code;
        std::string name;
    };
    const std::vector<Row> rows{
        {ErrorCode::sys(ECONNREFUSED), "ECONNREFUSED"},
        {ErrorCode::sys(ETIMEDOUT), "ETIMEDOUT"},
        {ErrorCode::sys(ENETUNREACH), "ENETUNREACH"},
        {ErrorCode::sys(EHOSTUNREACH), "EHOSTUNREACH"},
        {ErrorCode::sys(ECONNRESET), "ECONNRESET"},
        {ErrorCode::sys(EADDRNOTAVAIL), "EADDRNOTAVAIL"},
        {ErrorCode::sys(EMFILE), "EMFILE"},
        {ErrorCode::sys(EACCES), "EACCES"},
        {ErrorCode::sys(EAGAIN), "EAGAIN"},
        {ErrorCode::sys(99999), "EUNKNOWN"},
        {ErrorCode::resolver(EVUTIL_EAI_NONAME), "EAI_NONAME"},
        {ErrorCode::resolver(EVUTIL_EAI_NODATA), "EAI_NODATA"},
        {ErrorCode::resolver(EVUTIL_EAI_AGAIN), "EAI_AGAIN"},
        {ErrorCode::resolver(EVUTIL_EAI_FAIL), "EAI_FAIL"},
        {ErrorCode::resolver(EVUTIL_EAI_MEMORY), "EAI_MEMORY"},
        {ErrorCode::resolver(EVUTIL_EAI_FAMILY), "EAI_FAMILY"},
        {ErrorCode::resolver(EVUTIL_EAI_SERVICE), "EAI_SERVICE"},
        {ErrorCode::resolver(EVUTIL_EAI_SYSTEM), "EAI_SYSTEM"},
        {ErrorCode::resolver(EVUTIL_EAI_CANCEL), "EAI_CANCEL"},
        {ErrorCode{}, ""},
    };
    for (const auto& row : rows) {
        CAPTURE(row.name);
        CHECK(error_code_name(row.code) == row.name);
    }
}

TEST_CASE("ErrorCode") {
    CHECK_FALSE(ErrorCode{});
    CHECK(ErrorCode::sys(ECONNREFUSED));
    CHECK(ErrorCode::resolver(EVUTIL_EAI_NONAME));
    CHECK(ErrorCode::sys(ECONNREFUSED).domain == ErrorCode::Domain::sys);
    CHECK(ErrorCode::resolver(EVUTIL_EAI_NONAME).domain == ErrorCode::Domain::resolver);
    CHECK(ErrorCode::sys(ECONNREFUSED).value == ECONNREFUSED);
}

TEST_CASE("errno_message: short lower-case words") {
    struct Row {
        Errno err;
        std::string message;
    };
    const std::vector<Row> rows{
        {ERRNO(ECONNREFUSED), "connection refused"},
        {ERRNO(ETIMEDOUT), "timed out"},
        {ERRNO(ECONNRESET), "connection reset by peer"},
        {ERRNO(ENETUNREACH), "network is unreachable"},
        {ERRNO(EHOSTUNREACH), "no route to host"},
        {ERRNO(EADDRNOTAVAIL), "cannot assign requested address"},
        {ERRNO(EMFILE), "too many open files"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.err.name);
        CHECK(errno_message(row.err.value) == row.message);
    }
    SUBCASE("every errno gives a non-empty line starting in lower case") {
        for (int err = 1; err < 134; ++err) {
            CAPTURE(err);
            std::string m = errno_message(err);
            REQUIRE_FALSE(m.empty());
            CHECK(m.find('\n') == std::string::npos);
            // An acronym at the start ("RFS specific error") keeps its capitals.
            bool acronym = m.size() > 1 && m[1] >= 'A' && m[1] <= 'Z';
            if (!acronym)
                CHECK_FALSE((m[0] >= 'A' && m[0] <= 'Z'));
        }
    }
}
