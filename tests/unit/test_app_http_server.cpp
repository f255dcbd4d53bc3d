// The hardened HTTP server: parsing a request head (limits, garbage, early rejection,
// keep-alive, bodies), encoding a response (HEAD, close), and on a real loop the answers a
// route gives later (pipelined, in order; a dropped Responder; a client that left).
#include "app/http_server.hpp"

#include "support.hpp"

#include <doctest/doctest.h>
#include <string>
#include <sys/socket.h>
#include <vector>

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

namespace {

// A blocking client of the server on 127.0.0.1.
tcpretry::core::UniqueFd client_of(const HttpServer& server) {
    tcpretry::core::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    auto a = tcpretry::test::loopback_v4(server.port());
    REQUIRE(::connect(fd.get(), a.get(), a.length) == 0);
    return fd;
}

void send_all(int fd, std::string_view bytes) {
    REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(bytes.size()));
}

// Turns the loop until the server closes the client's connection; what it sent.
std::string read_to_close(tcpretry::core::Loop& loop, int fd) {
    std::string got;
    bool closed = false;
    REQUIRE(tcpretry::test::run_until(loop, [&] {
        char buf[4096];
        ssize_t n;
        while ((n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            got.append(buf, static_cast<std::size_t>(n));
        closed = n == 0 || (n < 0 && errno != EAGAIN);
        return closed;
    }));
    return got;
}

} // namespace

TEST_CASE("HttpServer: a route answers later; pipelined answers keep their order") {
    tcpretry::test::Watchdog dog(20);
    tcpretry::core::Loop loop;
    HttpServer server(loop, tcpretry::test::loopback_v4(0), "--test");
    std::vector<HttpServer::Responder> held;
    server.route("/later", [&](const HttpRequest& req, HttpServer::Responder answer) {
        CHECK(req.query == "n=1");
        held.push_back(std::move(answer));
    });
    server.route("/now", [](const HttpRequest&, HttpServer::Responder answer) {
        HttpResponse r;
        r.body = "now\n";
        answer.respond(std::move(r));
    });
    server.route("/drop", [](const HttpRequest&, HttpServer::Responder) {});
    auto fd = client_of(server);
    send_all(fd.get(), "GET /later?n=1 HTTP/1.1\r\n\r\nGET /now HTTP/1.1\r\n\r\n"
                       "GET /drop HTTP/1.1\r\nConnection: close\r\n\r\n");
    REQUIRE(tcpretry::test::run_until(loop, [&] { return held.size() == 1; }));
    tcpretry::test::run_for(loop, std::chrono::milliseconds(50));
    CHECK(server.connections() == 1);
    REQUIRE(held[0].open());
    HttpResponse later;
    later.body = "later\n";
    held[0].respond(std::move(later));
    CHECK_FALSE(held[0].open());
    std::string got = read_to_close(loop, fd.get());
    std::size_t first = got.find("later\n"), second = got.find("now\n");
    std::size_t third = got.find("HTTP/1.1 500 Internal Server Error");
    CHECK(first != std::string::npos);
    CHECK(second != std::string::npos);
    CHECK(third != std::string::npos);
    CHECK(first < second);
    CHECK(second < third);
}

TEST_CASE("HttpServer: answering after the client left does nothing") {
    tcpretry::test::Watchdog dog(20);
    tcpretry::core::Loop loop;
    HttpServer server(loop, tcpretry::test::loopback_v4(0), "--test");
    std::vector<HttpServer::Responder> held;
    server.route("/later", [&](const HttpRequest&, HttpServer::Responder answer) {
        held.push_back(std::move(answer));
    });
    {
        auto fd = client_of(server);
        send_all(fd.get(), "GET /later HTTP/1.1\r\n\r\n");
        REQUIRE(tcpretry::test::run_until(loop, [&] { return held.size() == 1; }));
        tcpretry::test::reset_close(fd);
    }
    held[0].respond(HttpResponse{}); // written into a reset connection: closed, no crash
    REQUIRE(tcpretry::test::run_until(loop, [&] { return server.connections() == 0; }));
    CHECK_FALSE(held[0].open());
    held[0].respond(HttpResponse{}); // once more: nothing
}
