// --expect's Matcher (POSIX EREs over a bounded reply).
#include "core/expect.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;
using namespace std::string_literals;

namespace {

Matcher compiled(const std::string& pattern) {
    auto r = Matcher::compile(pattern);
    const Matcher* m = std::get_if<Matcher>(&r);
    REQUIRE_MESSAGE(m != nullptr, "cannot compile '" << pattern << "'");
    return *m;
}

} // namespace

TEST_CASE("Matcher: extended syntax") {
    CHECK(compiled("^SSH-").matches("SSH-2.0-OpenSSH_9.2\r\n"));
    CHECK_FALSE(compiled("^HTTP").matches("SSH-2.0-OpenSSH_9.2\r\n"));
    CHECK(compiled("^[+]PONG").matches("+PONG\r\n"));
    CHECK(compiled("(PONG|OK)+").matches("+OK\r\n"));
    CHECK(compiled("a{3}").matches("xaaay"));
    CHECK_FALSE(compiled("a{3}").matches("xaay"));
    CHECK(compiled("HTTP/1\\.[01] 200").matches("HTTP/1.1 200 OK\r\n"));
    CHECK(compiled("").matches(""));
    CHECK(compiled("x").pattern() == "x");
}

TEST_CASE("Matcher: REG_NEWLINE, ^ and $ match at line starts and ends") {
    Matcher start = compiled("^SSH-");
    CHECK(start.matches("220 hello\r\nSSH-2.0\r\n"));
    CHECK(start.matches("a\nSSH-"));
    CHECK_FALSE(start.matches("a SSH-"));
    Matcher end = compiled("^READY$");
    CHECK(end.matches("booting\nREADY\nmore"));
    CHECK_FALSE(end.matches("booting\nREADY now\n"));
    // . does not cross a newline.
    CHECK_FALSE(compiled("a.b").matches("a\nb"));
    CHECK(compiled("a.b").matches("a-b"));
}

TEST_CASE("Matcher: CRLF line ends: $ matches before \\r\\n, ^ after it") {
    // Real redis answers "+PONG\r\n"; line-based protocols end lines with CRLF.
    CHECK(compiled("^\\+PONG$").matches("+PONG\r\n"));
    CHECK(compiled("^220 .*ready$").matches("220 mail ESMTP ready\r\n"));
    CHECK(compiled("^OK$").matches("+HELLO\r\nOK\r\nmore\r\n"));
    CHECK(compiled("^a$").matches("x\r\na\r\n"));
    CHECK(compiled("^READY$").matches("booting\nREADY\r\n")); // mixed line ends
    // A pattern that names the CR still matches the reply as received.
    CHECK(compiled("PONG\r$").matches("+PONG\r\n"));
    CHECK(compiled("PONG[[:space:]]{2}").matches("+PONG\r\n"));
    CHECK(compiled("PONG.$").matches("+PONG\r\n"));
    // Only a CR before LF ends a line: a lone CR is data.
    CHECK_FALSE(compiled("^PONG$").matches("PONG\r"));
    CHECK_FALSE(compiled("^a$").matches("a\rb\n"));
    CHECK_FALSE(compiled("^\\+PONG$").matches("+PONG \r\n"));
    // Nothing beyond the data: a CR at its end is not yet a line end.
    std::string buffer = "+PONG\r\n";
    CHECK_FALSE(compiled("^\\+PONG$").matches(std::string_view(buffer).substr(0, 6)));
}

TEST_CASE("Matcher: escapes POSIX ERE does not know are errors that name the POSIX form") {
    struct Row {
        std::string pattern;
        std::string advice; // a piece of the message
    };
    const std::vector<Row> rows{
        {"^\\d+$", "[0-9]"},      {"\\D", "[^0-9]"},        {"\\w+", "[[:alnum:]_]"},
        {"\\W", "[^[:alnum:]_]"}, {"a\\sb", "[[:space:]]"}, {"\\S", "[^[:space:]]"},
        {"\\bword\\b", "\\b"},    {"\\B", "\\B"},           {"PONG\\r\\n", "$"},
        {"a\\tb", "[[:blank:]]"}, {"\\q", "\\q"},           {"[\\d.]+", "[:digit:]"},
        {"[^\\s]", "[:space:]"},  {"[a\\w]", "[:alnum:]_"}, {"ok|\\d", "[0-9]"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.pattern);
        auto r = Matcher::compile(row.pattern);
        const std::string* message = std::get_if<std::string>(&r);
        REQUIRE(message != nullptr);
        CAPTURE(*message);
        CHECK(message->find(row.advice) != std::string::npos);
        CHECK(message->find('\n') == std::string::npos);
    }
    SUBCASE("escapes POSIX ERE knows, and backslashes that are literal, stay fine") {
        CHECK(compiled("HTTP/1\\.1").matches("HTTP/1.1 200"));
        CHECK(compiled("^\\+OK").matches("+OK\r\n"));
        CHECK(compiled("\\$5").matches("costs $5"));
        CHECK(compiled("a\\\\d").matches("a\\d")); // an escaped backslash, then 'd'
        CHECK(compiled("\\(x\\)").matches("(x)"));
        CHECK(compiled("\\[\\]\\{\\}\\*\\?\\|\\^").matches("[]{}*?|^"));
        CHECK(compiled("(a)\\1").matches("aa")); // glibc's back-reference
        CHECK(compiled("[[:digit:]]+").matches("42"));
        CHECK(compiled("[\\]").matches("\\"));  // a backslash inside brackets is literal
        CHECK(compiled("[]\\a]").matches("a")); // ']' first, then '\', 'a'
        CHECK(compiled("[[.-.]x]").matches("-"));
        CHECK(compiled("[\\.]").matches("."));
    }
}

TEST_CASE("Matcher: NUL bytes do not cut the data (REG_STARTEND)") {
    CHECK(compiled("HELLO").matches("\0\0HELLO"s));
    CHECK(compiled("B").matches("A\0B"s));
    CHECK(compiled("^B").matches("A\n\0\nB"s));
    CHECK_FALSE(compiled("C").matches("A\0B"s));
}

TEST_CASE("Matcher: only the data given is matched, not what follows it in memory") {
    std::string buffer = "abcMATCH";
    Matcher m = compiled("MATCH");
    CHECK_FALSE(m.matches(std::string_view(buffer).substr(0, 3)));
    CHECK(m.matches(buffer));
    CHECK_FALSE(compiled("c$").matches(std::string_view("abcd").substr(0, 2)));
}

TEST_CASE("Matcher: a bad pattern is an error message") {
    for (const char* bad : {"(", ")(", "[", "a{1", "[z-a]", "*{"}) {
        CAPTURE(bad);
        auto r = Matcher::compile(bad);
        const std::string* message = std::get_if<std::string>(&r);
        REQUIRE(message != nullptr);
        CHECK_FALSE(message->empty());
    }
}

TEST_CASE("Matcher: (a|b)*c over 4 KiB of 'a' is false and quick") {
    Matcher m = compiled("(a|b)*c");
    std::string data(k_expect_limit, 'a');
    auto start = std::chrono::steady_clock::now();
    CHECK_FALSE(m.matches(data));
    auto took = std::chrono::steady_clock::now() - start;
    CHECK(took < 2s);
    data.back() = 'c';
    CHECK(m.matches(data));
}

TEST_CASE("Matcher: copies share the compiled pattern") {
    Matcher a = compiled("^x");
    Matcher b = a;
    CHECK(b.matches("x"));
    CHECK(a.matches("x"));
    CHECK(b.pattern() == "^x");
}

TEST_CASE("k_expect_limit and k_received_shown") {
    CHECK(k_expect_limit == 4096);
    CHECK(k_received_shown == 200);
}
