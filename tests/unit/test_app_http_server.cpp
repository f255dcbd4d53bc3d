// The hardened HTTP server's pure parts: parsing a request head (limits, garbage, early
// rejection, keep-alive, bodies) and encoding a response (HEAD, close).
#include "app/http_server.hpp"

#include <doctest/doctest.h>
#include <string>

using namespace tcpretry::app;
using Status = HeadParse::Status;

TEST_CASE("parse_request_head: a complete GET") {
    std::string wire = "GET /metrics?a=1 HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\nGET /next";
    HeadParse r = parse_request_head(wire);
    REQUIRE(r.status == Status::complete);
    CHECK(r.consumed == wire.find("GET /next"));
    CHECK(r.request.method == "GET");
    CHECK(r.request.target == "/metrics?a=1");
    CHECK(r.request.path == "/metrics");
    CHECK(r.request.query == "a=1");
    CHECK(r.request.keep_alive);
    CHECK_FALSE(r.request.has_body);
    CHECK_FALSE(r.request.head());
    CHECK(r.request.header("host") == "x");
    CHECK(r.request.header("ACCEPT") == "*/*");
    CHECK_FALSE(r.request.header("X-Prometheus-Scrape-Timeout-Seconds"));
}

TEST_CASE("parse_request_head: what is accepted") {
    SUBCASE("bare LF line ends, empty lines before the request line") {
        HeadParse r = parse_request_head("\r\n\nHEAD / HTTP/1.1\nHost: x\n\n");
        REQUIRE(r.status == Status::complete);
        CHECK(r.request.head());
        CHECK(r.request.path == "/");
    }
    SUBCASE("absolute form") {
        HeadParse r = parse_request_head("GET http://127.0.0.1:9/-/healthy HTTP/1.1\r\n\r\n");
        REQUIRE(r.status == Status::complete);
        CHECK(r.request.path == "/-/healthy");
    }
    SUBCASE("keep-alive: HTTP/1.1 unless close; HTTP/1.0 never") {
        CHECK_FALSE(
            parse_request_head("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").request.keep_alive);
        CHECK_FALSE(parse_request_head("GET / HTTP/1.1\r\nconnection: TE, close\r\n\r\n")
                        .request.keep_alive);
        CHECK_FALSE(parse_request_head("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                        .request.keep_alive);
    }
    SUBCASE("a body is noted, a zero Content-Length is none") {
        CHECK(parse_request_head("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n").request.has_body);
        CHECK(parse_request_head("GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")
                  .request.has_body);
        HeadParse zero = parse_request_head("GET / HTTP/1.1\r\nContent-Length: 00\r\n\r\n");
        CHECK(zero.status == Status::complete);
        CHECK_FALSE(zero.request.has_body);
    }
    SUBCASE("other methods parse (the server answers 405)") {
        CHECK(parse_request_head("DELETE /x HTTP/1.1\r\n\r\n").request.method == "DELETE");
    }
}

TEST_CASE("parse_request_head: incomplete until the blank line") {
    for (const char* partial :
         {"", "\r\n", "G", "GET", "GET ", "GET /met", "GET /metrics HTTP/1.", "GET / HTTP/1.1\r\n",
          "GET / HTTP/1.1\r\nHost: x\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r"}) {
        CAPTURE(partial);
        CHECK(parse_request_head(partial).status == Status::incomplete);
    }
}

TEST_CASE("parse_request_head: bad at once, with the status to answer") {
    struct Case {
        std::string wire;
        int status;
    };
    const Case cases[] = {
        {"\x16\x03\x01\x02", 400}, // a TLS ClientHello: rejected before any line ends
        {"GE\x01", 400},
        {" GET / HTTP/1.1\r\n\r\n", 400},
        {"GET metrics HTTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/1.1 extra\r\n\r\n", 400},
        {"GET /\r\n\r\n", 400}, // HTTP/0.9
        {"GET / FTP/1.1\r\n\r\n", 400},
        {"GET / HTTP/2.0\r\n\r\n", 505},
        {"GET / HTTP/1.1\r\nno colon\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\n folded: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nX: a\x01z\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400},
        {"GET / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 400},
    };
    for (const Case& c : cases) {
        CAPTURE(c.wire);
        HeadParse r = parse_request_head(c.wire);
        CHECK(r.status == Status::bad);
        CHECK(r.error == c.status);
    }
}

TEST_CASE("parse_request_head: the 8 KiB limit") {
    std::string line = "GET /" + std::string(k_http_max_head, 'a');
    SUBCASE("a request line past it: 414, before it ends") {
        HeadParse r = parse_request_head(line.substr(0, k_http_max_head + 1));
        CHECK(r.status == Status::bad);
        CHECK(r.error == 414);
        CHECK(parse_request_head(line.substr(0, k_http_max_head)).status == Status::incomplete);
    }
    SUBCASE("headers past it: 431") {
        std::string wire = "GET / HTTP/1.1\r\nX: " + std::string(k_http_max_head, 'b');
        HeadParse r = parse_request_head(wire.substr(0, k_http_max_head + 1));
        CHECK(r.status == Status::bad);
        CHECK(r.error == 431);
        wire = "GET / HTTP/1.1\r\nX: " + std::string(k_http_max_head, 'b') + "\r\n\r\n";
        CHECK(parse_request_head(wire).error == 431);
    }
    SUBCASE("exactly 8 KiB is fine") {
        std::string head = "GET / HTTP/1.1\r\nX: ";
        head += std::string(k_http_max_head - head.size() - 4, 'c') + "\r\n\r\n";
        REQUIRE(head.size() == k_http_max_head);
        CHECK(parse_request_head(head).status == Status::complete);
    }
}

TEST_CASE("encode_response: length, close, HEAD without a body, 405's Allow") {
    HttpResponse r;
    r.body = "OK\n";
    CHECK(encode_response(r, false, false) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
          "3\r\n\r\nOK\n");
    CHECK(encode_response(r, true, true) ==
          "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: "
          "3\r\nConnection: close\r\n\r\n");
    std::string not_allowed = encode_response(http_error(405), false, false);
    CHECK(not_allowed.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"));
    CHECK(not_allowed.find("\r\nAllow: GET, HEAD\r\n") != std::string::npos);
    CHECK(http_reason(431) == "Request Header Fields Too Large");
}
