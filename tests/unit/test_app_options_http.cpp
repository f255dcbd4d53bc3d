// HTTP(S) TARGETs and their flags, and --send/--expect dialogues, on the command line.
#include "app/options.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using tcpretry::test::Argv;

namespace {

using Args = std::vector<std::string>;

ParseResult parse(const Args& args) {
    Argv argv(args);
    return parse_options(argv.argc(), argv.argv(), Environment{});
}

Options parse_ok(const Args& args) {
    auto r = parse(args);
    if (auto* e = std::get_if<UsageError>(&r))
        FAIL("unexpected usage error: " << e->message);
    REQUIRE(std::holds_alternative<Options>(r));
    return std::get<Options>(r);
}

std::string usage_error(const Args& args) {
    auto r = parse(args);
    REQUIRE(std::holds_alternative<UsageError>(r));
    return std::get<UsageError>(r).message;
}

const core::CheckOptions& own_check(const Options& o, std::size_t index) {
    for (const auto& [i, c] : o.target_checks)
        if (i == index)
            return c;
    FAIL("target " << index << " has no check of its own");
    return o.target_checks.front().second;
}

} // namespace

TEST_CASE("parse_options: an http:// TARGET gets its own request") {
    Options o = parse_ok({"db:5432", "http://127.0.0.1:8080/health?x=1"});
    REQUIRE(o.targets.size() == 2);
    CHECK(o.targets[1].host == "127.0.0.1");
    CHECK(o.targets[1].port == 8080);
    CHECK(o.targets[1].text == "http://127.0.0.1:8080/health?x=1");
    CHECK_FALSE(o.check); // the plain target has no check
    REQUIRE(o.target_checks.size() == 1);
    const core::CheckOptions& c = own_check(o, 1);
    REQUIRE(c.http);
    CHECK(c.http->request.rfind("GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n", 0) == 0);
    CHECK(c.http->accepted.contains(200));
    CHECK(c.http->accepted.contains(399));
    CHECK_FALSE(c.http->accepted.contains(404));
    CHECK_FALSE(c.tls);
}

TEST_CASE("parse_options: https:// brings TLS for that TARGET only") {
    Options o = parse_ok({"https://localhost/", "db:5432"});
    CHECK(o.targets[0].port == 443);
    CHECK(own_check(o, 0).tls);
    CHECK_FALSE(o.check);
}

TEST_CASE("parse_options: --http-method, --http-header, --http-status, --expect") {
    Options o =
        parse_ok({"--http-method", "head", "--http-header", "X-A: 1", "--http-header",
                  "User-Agent: me", "--http-status", "200,204", "--expect", "ok", "http://h/"});
    const core::CheckOptions& c = own_check(o, 0);
    CHECK(c.http->head);
    CHECK(c.http->request.rfind("HEAD / HTTP/1.1\r\n", 0) == 0);
    CHECK(c.http->request.find("X-A: 1\r\n") != std::string::npos);
    CHECK(c.http->request.find("User-Agent: me\r\n") != std::string::npos);
    CHECK(c.http->request.find("tcpretry/") == std::string::npos);
    CHECK(c.http->accepted.contains(204));
    CHECK_FALSE(c.http->accepted.contains(201));
    REQUIRE(c.expect);
    CHECK(c.expect->matches("all ok"));
}

TEST_CASE("parse_options: HTTP usage errors name the flag and the value") {
    CHECK(usage_error({"--watch", "http://h/"}).find("--count") != std::string::npos);
    CHECK(usage_error({"http://u@h/"}).find("userinfo") != std::string::npos);
    CHECK(usage_error({"--http-status", "600", "http://h/"}).find("--http-status") !=
          std::string::npos);
    CHECK(usage_error({"--http-header", "No colon", "http://h/"}).find("'No colon'") !=
          std::string::npos);
    CHECK(usage_error({"--http-method", "POST", "http://h/"}).find("--http-method") !=
          std::string::npos);
    CHECK(usage_error({"--http-status", "200", "h:80"}).find("needs an http://") !=
          std::string::npos);
    CHECK(usage_error({"--send", "x", "http://h/"}).find("--send") != std::string::npos);
}

TEST_CASE("parse_options: --send and --expect repeated keep command-line order") {
    SUBCASE("send, expect, send, expect") {
        Options o =
            parse_ok({"--send", "a", "--expect", "b", "--send", "c", "--expect", "d", "h:1"});
        REQUIRE(o.check);
        const auto& s = o.check->steps;
        REQUIRE(s.size() == 4);
        CHECK(s[0].send == "a");
        CHECK(s[1].expect->pattern() == "b");
        CHECK(s[2].send == "c");
        CHECK(s[3].expect->pattern() == "d");
    }
    SUBCASE("expect first: the banner") {
        Options o = parse_ok({"--expect", "X", "--send", "Y", "h:1"});
        const auto& s = o.check->steps;
        REQUIRE(s.size() == 2);
        CHECK(s[0].expect->pattern() == "X");
        CHECK(s[1].send == "Y");
    }
    SUBCASE("a bad step names its value") {
        CHECK(usage_error({"--expect", "a", "--expect", "\\d", "h:1"}).find("'\\d'") !=
              std::string::npos);
    }
}
