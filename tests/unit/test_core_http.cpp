// HTTP readiness, the pure parts (core/http): the --http-status list, the request bytes,
// --http-header checks, and the response parser fed whole, byte by byte and split at every
// position: status lines, the 16 KiB head limit, Content-Length, chunked (extensions,
// trailers, bad sizes), bodies to EOF, HEAD, interim 1xx, and the kept body's limit.
#include "core/http.hpp"

#include <doctest/doctest.h>
#include <string>
#include <vector>

using namespace tcpretry::core;
using namespace std::string_literals;
using Status = HttpResponseParser::Status;

namespace {

struct Parsed {
    Status status = Status::more;
    int code = 0;
    std::string reason;
    int minor = -1;
    std::string body;
    bool body_complete = false;
    uint64_t body_bytes = 0;
    uint64_t bytes = 0;
    std::string message;
    std::string received;
    std::size_t headers = 0;

    bool operator==(const Parsed&) const = default;
};

// Feeds `response` in the pieces `cuts` makes (positions where a piece ends), then EOF when
// `eof` and the parser still wants more.
Parsed parse(std::string_view response, const std::vector<std::size_t>& cuts, bool eof = true,
             bool head = false) {
    HttpResponseParser p(head);
    std::size_t at = 0;
    for (std::size_t cut : cuts) {
        if (cut > at && cut <= response.size()) {
            p.feed(response.substr(at, cut - at));
            at = cut;
        }
    }
    p.feed(response.substr(at));
    if (eof)
        p.finish();
    return Parsed{p.status(),  p.code(),          p.reason(),        p.minor_version(),
                  p.body(),    p.body_complete(), p.body_bytes(),    p.bytes_received(),
                  p.message(), p.received(),      p.headers().size()};
}

Parsed whole(std::string_view response, bool eof = true, bool head = false) {
    return parse(response, {}, eof, head);
}

// The same outcome however the bytes are cut: at every single position, and byte by byte.
Parsed every_cut(std::string_view response, bool eof = true, bool head = false) {
    Parsed expected = whole(response, eof, head);
    for (std::size_t cut = 1; cut < response.size(); ++cut) {
        CAPTURE(cut);
        CHECK(parse(response, {cut}, eof, head) == expected);
    }
    std::vector<std::size_t> bytes;
    for (std::size_t i = 1; i <= response.size(); ++i)
        bytes.push_back(i);
    CHECK(parse(response, bytes, eof, head) == expected);
    return expected;
}

std::string head_of_size(std::size_t size, const std::string& status = "HTTP/1.1 200 OK\r\n") {
    // status line + "X-Pad: ...\r\n" + "\r\n" == size bytes
    std::size_t pad = size - status.size() - "X-Pad: \r\n"s.size() - 2;
    return status + "X-Pad: " + std::string(pad, 'p') + "\r\n\r\n";
}

} // namespace

TEST_CASE("--http-status lists") {
    auto set = [](std::string_view text) {
        auto parsed = parse_status_list(text);
        REQUIRE(std::holds_alternative<StatusSet>(parsed));
        return std::get<StatusSet>(parsed);
    };
    StatusSet def = set(k_http_status_default);
    CHECK(def.text() == "200-399");
    CHECK_FALSE(def.contains(199));
    CHECK(def.contains(200));
    CHECK(def.contains(301));
    CHECK(def.contains(399));
    CHECK_FALSE(def.contains(400));
    CHECK_FALSE(def.contains(503));

    StatusSet two = set("200,204");
    CHECK(two.contains(200));
    CHECK(two.contains(204));
    CHECK_FALSE(two.contains(201));

    StatusSet mixed = set("200-299,401");
    CHECK(mixed.contains(250));
    CHECK(mixed.contains(401));
    CHECK_FALSE(mixed.contains(400));
    CHECK_FALSE(mixed.contains(300));

    StatusSet all = set("100-599");
    for (int code = 100; code <= 599; ++code)
        CHECK(all.contains(code));
    CHECK_FALSE(all.contains(99));
    CHECK_FALSE(all.contains(600));
    CHECK_FALSE(all.contains(0));
    CHECK_FALSE(all.contains(-1));
    CHECK(set("503-503").contains(503));
    CHECK(set("599,100").contains(100));
    CHECK_FALSE(StatusSet().contains(200));
}

TEST_CASE("--http-status: a bad list names the bad part") {
    struct Case {
        const char* text;
        const char* words;
    };
    for (const Case& c : std::vector<Case>{
             {"", "the status list is empty"},
             {"200,", "empty entry in the status list '200,'"},
             {",200", "empty entry"},
             {"200,,204", "empty entry"},
             {"600", "'600' is not a status code or range of them (100-599)"},
             {"99", "'99' is not a status code"},
             {"099", "'099' is not a status code"},
             {"2xx", "'2xx' is not a status code"},
             {"200-", "'200-' is not a status code"},
             {"-200", "'-200' is not a status code"},
             {"200-299-399", "'200-299-399' is not a status code"},
             {"200, 204", "' 204' is not a status code"},
             {"399-200", "the range '399-200' ends before it starts"},
             {"200-600", "'200-600' is not a status code"},
         }) {
        CAPTURE(c.text);
        auto parsed = parse_status_list(c.text);
        REQUIRE(std::holds_alternative<std::string>(parsed));
        CHECK_MESSAGE(std::get<std::string>(parsed).find(c.words) != std::string::npos,
                      std::get<std::string>(parsed));
    }
}

TEST_CASE("the request, byte for byte") {
    HttpRequest get;
    get.path = "/health?full=1";
    get.host = "example.com:8080";
    CHECK(build_http_request(get, "1.2.3") == "GET /health?full=1 HTTP/1.1\r\n"
                                              "Host: example.com:8080\r\n"
                                              "User-Agent: tcpretry/1.2.3\r\n"
                                              "Connection: close\r\n"
                                              "\r\n");
    HttpRequest head;
    head.method = HttpMethod::head;
    head.host = "[::1]";
    head.headers = {{"Accept", "text/plain"}, {"X-Probe", ""}};
    CHECK(build_http_request(head, "0.9") == "HEAD / HTTP/1.1\r\n"
                                             "Host: [::1]\r\n"
                                             "User-Agent: tcpretry/0.9\r\n"
                                             "Connection: close\r\n"
                                             "Accept: text/plain\r\n"
                                             "X-Probe: \r\n"
                                             "\r\n");
    // Host and User-Agent given by the user replace the defaults in place.
    HttpRequest vhost;
    vhost.host = "127.0.0.1";
    vhost.headers = {{"host", "app.internal"}, {"User-Agent", "probe"}, {"X-A", "1"}};
    CHECK(build_http_request(vhost, "1") == "GET / HTTP/1.1\r\n"
                                            "host: app.internal\r\n"
                                            "User-Agent: probe\r\n"
                                            "Connection: close\r\n"
                                            "X-A: 1\r\n"
                                            "\r\n");
}

TEST_CASE("methods") {
    CHECK(parse_http_method("GET") == HttpMethod::get);
    CHECK(parse_http_method("head") == HttpMethod::head);
    CHECK_FALSE(parse_http_method("POST").has_value());
    CHECK_FALSE(parse_http_method("").has_value());
    CHECK(http_method_name(HttpMethod::head) == "HEAD");
}

TEST_CASE("--http-header: accepted and refused") {
    auto ok = [](std::string_view line) {
        auto parsed = parse_http_header(line);
        if (auto* why = std::get_if<std::string>(&parsed))
            FAIL_CHECK(*why);
        REQUIRE(std::holds_alternative<HttpHeader>(parsed));
        return std::get<HttpHeader>(parsed);
    };
    HttpHeader h = ok("Authorization: Bearer abc");
    CHECK(h.name == "Authorization");
    CHECK(h.value == "Bearer abc");
    CHECK(ok("X-Empty:").value.empty());
    CHECK(ok("X-Spaces: \t a b \t").value == "a b");
    CHECK(ok("x!#$%&'*+-.^_`|~9:v").name == "x!#$%&'*+-.^_`|~9");
    CHECK(ok("X-Tab: a\tb").value == "a\tb");
    CHECK(ok("Host: app.internal").name == "Host");

    struct Case {
        std::string line;
        const char* words;
    };
    for (const Case& c : std::vector<Case>{
             {"X-A: 1\r\nX-B: 2", "contains CR or LF"},
             {"X-A: 1\n", "contains CR or LF"},
             {"X-A: 1\r", "contains CR or LF"},
             {"X-A", "is not 'Name: value'"},
             {": value", "has an empty name"},
             {"X A: 1", "'X A' is not a token"},
             {"X-A : 1", "'X-A ' is not a token"},
             {"X(A): 1", "'X(A)' is not a token"},
             {"X-A: a\0b"s, "contains a control character"},
             {"X-A: a\x7f", "contains a control character"},
             {"Content-Length: 5", "Content-Length cannot be set"},
             {"transfer-encoding: chunked", "Transfer-Encoding cannot be set"},
             {"Connection: keep-alive", "Connection cannot be set"},
         }) {
        CAPTURE(c.line);
        auto parsed = parse_http_header(c.line);
        REQUIRE(std::holds_alternative<std::string>(parsed));
        const std::string& why = std::get<std::string>(parsed);
        CHECK_MESSAGE(why.find(c.words) != std::string::npos, why);
        CHECK(why.find_first_of("\r\n"s + '\0') == std::string::npos);
    }
}

TEST_CASE("a response with Content-Length, however it is cut") {
    const std::string response = "HTTP/1.1 200 OK\r\n"
                                 "Content-Type: text/plain\r\n"
                                 "Content-Length: 5\r\n"
                                 "\r\n"
                                 "ready";
    Parsed p = every_cut(response, false);
    CHECK(p.status == Status::done);
    CHECK(p.code == 200);
    CHECK(p.reason == "OK");
    CHECK(p.minor == 1);
    CHECK(p.body == "ready");
    CHECK(p.body_complete);
    CHECK(p.body_bytes == 5);
    CHECK(p.bytes == response.size());
    CHECK(p.headers == 2);
    CHECK(p.received == "ready");
    CHECK(p.message.empty());

    // Bytes after the body change nothing but the count; so does EOF after done.
    HttpResponseParser parser;
    CHECK(parser.feed(response + "HTTP/1.1 500 x\r\n\r\n") == Status::done);
    CHECK(parser.finish() == Status::done);
    CHECK(parser.code() == 200);
    CHECK(parser.body() == "ready");
}

TEST_CASE("status lines: versions, reasons, LF-only lines") {
    CHECK(every_cut("HTTP/1.0 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n").reason ==
          "Service Unavailable");
    CHECK(whole("HTTP/1.0 200 OK\r\n\r\n").minor == 0);
    CHECK(whole("HTTP/1.1 204\r\n\r\n", false).reason.empty());
    CHECK(whole("HTTP/1.1 204 \r\n\r\n", false).status == Status::done);
    CHECK(whole("HTTP/1.1 404 Not  Found \t\r\n\r\n").reason == "Not  Found \t");
    CHECK(whole("HTTP/1.1 200 caf\xc3\xa9\r\n\r\n").reason == "caf\xc3\xa9");
    Parsed lf = every_cut("HTTP/1.1 200 OK\nContent-Length: 2\n\nok", false);
    CHECK(lf.status == Status::done);
    CHECK(lf.body == "ok");
    CHECK(whole("HTTP/1.2 200 OK\r\n\r\n").minor == 2);
}

TEST_CASE("not HTTP: a banner fails at once, keeping the bytes as received") {
    for (std::string banner : {"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n", "220 mail ESMTP\r\n",
                               "+PONG\r\n", "\r\nHTTP/1.1 200 OK\r\n\r\n", "http/1.1 200 OK\r\n",
                               "HTTP/2 200\r\n", "HTTP/2.0 200 OK\r\n", "\x16\x03\x01\x02"}) {
        CAPTURE(banner);
        Parsed p = every_cut(banner, false);
        CHECK(p.status == Status::failed);
        CHECK(p.message == "not an HTTP/1.x response");
        CHECK(p.code == 0);
        CHECK(banner.starts_with(p.received));
    }
    HttpResponseParser p;
    CHECK(p.feed("SSH-2.0-x\r\n") == Status::failed);
    CHECK(p.received() == "SSH-2.0-x\r\n");
    // Before the mismatch shows, the parser waits.
    HttpResponseParser waiting;
    CHECK(waiting.feed("HTTP/1") == Status::more);
}

TEST_CASE("malformed status lines and headers") {
    struct Case {
        std::string response;
        const char* words;
    };
    for (const Case& c : std::vector<Case>{
             {"HTTP/1.1 200OK\r\n\r\n", "malformed status line 'HTTP/1.1 200OK'"},
             {"HTTP/1.1 20 OK\r\n\r\n", "malformed status line"},
             {"HTTP/1.1 2000 OK\r\n\r\n", "malformed status line"},
             {"HTTP/1.1 600 Odd\r\n\r\n", "malformed status line"},
             {"HTTP/1.1 099 Odd\r\n\r\n", "malformed status line"},
             {"HTTP/1.x 200 OK\r\n\r\n", "malformed status line"},
             {"HTTP/1.1  200 OK\r\n\r\n", "malformed status line"},
             {"HTTP/1.1\r\n\r\n", "malformed status line 'HTTP/1.1'"},
             {"HTTP/1.1 200 O\x01K\r\n\r\n", "malformed status line 'HTTP/1.1 200 O\\x01K'"},
             {"HTTP/1.1 200 OK\r\nNo colon\r\n\r\n", "malformed header line 'No colon'"},
             {"HTTP/1.1 200 OK\r\nBad name: x\r\n\r\n", "malformed header line"},
             {"HTTP/1.1 200 OK\r\nName : x\r\n\r\n", "malformed header line"},
             {"HTTP/1.1 200 OK\r\n: x\r\n\r\n", "malformed header line"},
             {"HTTP/1.1 200 OK\r\nA: b\rc\r\n\r\n", "malformed header line"},
             {"HTTP/1.1 200 OK\r\nA: b\0c\r\n\r\n"s, "malformed header line"},
             {"HTTP/1.1 200 OK\r\nA: b\r\n  folded\r\n\r\n", "obsolete header line folding"},
             {"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", "bad Content-Length 'x'"},
             {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n", "bad Content-Length"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "bad Content-Length '3, 4'"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
              "bad Content-Length '4'"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 1234567890123456789\r\n\r\n",
              "bad Content-Length"},
         }) {
        CAPTURE(c.response);
        Parsed p = every_cut(c.response, false);
        CHECK(p.status == Status::failed);
        CHECK_MESSAGE(p.message.find(c.words) != std::string::npos, p.message);
        CHECK(p.message.find_first_of("\r\n"s + '\0') == std::string::npos);
    }
    // A repeated, identical length is one length.
    Parsed same =
        whole("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\ncontent-length: 2\r\n\r\nok", false);
    CHECK(same.status == Status::done);
    CHECK(same.body == "ok");
}

TEST_CASE("the head limit: exactly 16 KiB passes, one byte more fails") {
    std::string exact = head_of_size(k_http_head_limit);
    REQUIRE(exact.size() == 16384);
    Parsed ok = whole(exact + "body");
    CHECK(ok.status == Status::done);
    CHECK(ok.body == "body");
    std::string over = head_of_size(k_http_head_limit + 1);
    Parsed too_long = whole(over + "body");
    CHECK(too_long.status == Status::failed);
    CHECK(too_long.message == "headers longer than 16384 bytes");
    // Fed byte by byte, it fails as the 16385th byte arrives, without waiting for a line end.
    HttpResponseParser p;
    std::string endless = "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'x');
    std::size_t fed = 0;
    while (p.status() == Status::more && fed < endless.size())
        p.feed(endless.substr(fed++, 1));
    CHECK(p.status() == Status::failed);
    CHECK(fed == k_http_head_limit + 1);
    // An interim response's head counts toward the limit too.
    std::string interim = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n";
    CHECK(whole(interim + head_of_size(k_http_head_limit - interim.size())).status == Status::done);
    CHECK(whole(interim + head_of_size(k_http_head_limit - interim.size() + 1)).status ==
          Status::failed);
}

TEST_CASE("chunked bodies: extensions, trailers, however cut") {
    const std::string response = "HTTP/1.1 200 OK\r\n"
                                 "Transfer-Encoding: chunked\r\n"
                                 "\r\n"
                                 "5;name=value\r\n"
                                 "hello\r\n"
                                 "1 ; a=\"quoted;\"\r\n"
                                 " \r\n"
                                 "A\r\n"
                                 "0123456789\r\n"
                                 "0;last\r\n"
                                 "Checksum: abc\r\n"
                                 "X-Other: 1\r\n"
                                 "\r\n";
    Parsed p = every_cut(response, false);
    CHECK(p.status == Status::done);
    CHECK(p.body == "hello 0123456789");
    CHECK(p.body_complete);
    CHECK(p.body_bytes == 16);
    CHECK(p.bytes == response.size());

    // Without trailers; LF-only lines; upper- and lower-case hex; leading zeros.
    Parsed plain = every_cut("HTTP/1.1 200 OK\r\ntransfer-encoding: gzip, Chunked\r\n\r\n"
                             "0000b\nhello world\n1a\r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\n\r\n",
                             false);
    CHECK(plain.status == Status::done);
    CHECK(plain.body == "hello worldabcdefghijklmnopqrstuvwxyz");
    // Transfer-Encoding wins over Content-Length.
    Parsed both = whole("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: "
                        "chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
                        false);
    CHECK(both.status == Status::done);
    CHECK(both.body == "ok");
    // A coding other than chunked last: the body runs to EOF.
    Parsed gzip = whole("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n2\r\nok", true);
    CHECK(gzip.status == Status::done);
    CHECK(gzip.body == "2\r\nok");
}

TEST_CASE("bad chunking fails, naming it") {
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    struct Case {
        std::string body;
        const char* words;
    };
    for (const Case& c : std::vector<Case>{
             {"x\r\n", "bad chunked body: bad chunk-size line 'x'"},
             {"\r\n", "bad chunk-size line ''"},
             {"-5\r\n", "bad chunk-size line"},
             {"5 x\r\n", "bad chunk-size line '5 x'"},
             {"0x5\r\n", "bad chunk-size line '0x5'"},
             {"5;a\x01\r\n", "bad chunk-size line"},
             {"fffffffffffffffff\r\n", "chunk size 'fffffffffffffffff' is too large"},
             {"3\r\nabcd\r\n", "chunk data longer than its size"},
             {"3\r\nabc d\r\n", "chunk data longer than its size"},
             {"0\r\nbad trailer\r\n\r\n", "malformed trailer line 'bad trailer'"},
             {std::string(k_http_chunk_line_limit + 1, '1'), "chunk-size line longer than 4096"},
             {"0\r\nX: " + std::string(k_http_trailer_limit, 't'), "trailers longer than 16384"},
         }) {
        CAPTURE(c.body);
        Parsed p = parse(head + c.body, {head.size()}, false);
        CHECK(p.status == Status::failed);
        CHECK_MESSAGE(p.message.find(c.words) != std::string::npos, p.message);
        CHECK(p.code == 200); // the status line was read
    }
    // Sizes up to the limit are fine (a chunk-size line of exactly 4096 bytes with its CRLF).
    std::string long_ext = "1;" + std::string(k_http_chunk_line_limit - 4, 'e') + "\r\n";
    REQUIRE(long_ext.size() == k_http_chunk_line_limit);
    CHECK(whole(head + long_ext + "x\r\n0\r\n\r\n", false).status == Status::done);
}

TEST_CASE("EOF: a body to EOF ends there, a response cut short is an error") {
    Parsed http10 = every_cut("HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of it\nuntil EOF");
    CHECK(http10.status == Status::done);
    CHECK(http10.minor == 0);
    CHECK(http10.body == "all of it\nuntil EOF");
    CHECK(http10.body_complete);
    // Until EOF the parser wants more.
    CHECK(whole("HTTP/1.0 200 OK\r\n\r\nbody", false).status == Status::more);

    struct Case {
        std::string response;
        const char* message;
    };
    for (const Case& c : std::vector<Case>{
             {"", "connection closed before any response"},
             {"HTTP/1.1 2", "connection closed inside the status line"},
             {"HTTP/1.1 200 OK\r\nA: b", "connection closed inside the response headers"},
             {"HTTP/1.1 200 OK\r\n", "connection closed inside the response headers"},
             {"HTTP/1.1 100 Continue\r\n\r\n", "connection closed after an interim 100 response"},
             {"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
              "connection closed after 3 of 10 body bytes"},
             {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
              "connection closed inside the chunked body"},
             {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",
              "connection closed inside the chunked body"},
             {"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n",
              "connection closed inside the chunked body"},
         }) {
        CAPTURE(c.response);
        Parsed p = every_cut(c.response);
        CHECK(p.status == Status::failed);
        CHECK(p.message == c.message);
    }
    // The status is known even when the body was cut short.
    CHECK(whole("HTTP/1.1 503 Busy\r\nContent-Length: 10\r\n\r\nab").code == 503);
}

TEST_CASE("no body: HEAD, 204, 304, 101; interim 1xx responses are skipped") {
    std::string with_length = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    Parsed head = every_cut(with_length, false, true);
    CHECK(head.status == Status::done);
    CHECK(head.body.empty());
    CHECK(head.body_complete);
    CHECK(every_cut("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", false, true).status ==
          Status::done);
    for (const char* code : {"204", "304", "101"}) {
        CAPTURE(code);
        Parsed p = whole("HTTP/1.1 "s + code + " X\r\nContent-Length: 9\r\n\r\n", false);
        CHECK(p.status == Status::done);
        CHECK(p.code == std::stoi(code));
    }
    Parsed early = every_cut("HTTP/1.1 100 Continue\r\n\r\n"
                             "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
                             "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
                             false);
    CHECK(early.status == Status::done);
    CHECK(early.code == 201);
    CHECK(early.reason == "Created");
    CHECK(early.headers == 1); // the final response's
    CHECK(early.body == "ok");
}

TEST_CASE("the kept body stops at 4096 bytes, and so does the reading") {
    std::string big(10000, 'b');
    big[0] = 'S';
    const std::string head = "HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n";
    for (std::size_t cut : {std::size_t{0}, head.size() + 1, head.size() + 4095, head.size() + 4096,
                            head.size() + 5000}) {
        CAPTURE(cut);
        Parsed p = parse(head + big, {cut}, false);
        CHECK(p.status == Status::done);
        CHECK_FALSE(p.body_complete);
        CHECK(p.body.size() == k_http_body_limit);
        CHECK(p.received.size() == k_received_shown);
        CHECK(p.received == big.substr(0, k_received_shown));
        CHECK(p.body_bytes == k_http_body_limit);
    }
    // To EOF: the same.
    Parsed eof = whole("HTTP/1.0 200 OK\r\n\r\n" + big, false);
    CHECK(eof.status == Status::done);
    CHECK(eof.body.size() == k_http_body_limit);

    // Exactly 4096 bytes with Content-Length: complete.
    Parsed exact =
        whole("HTTP/1.1 200 OK\r\nContent-Length: 4096\r\n\r\n" + std::string(4096, 'x'), false);
    CHECK(exact.status == Status::done);
    CHECK(exact.body_complete);

    // Chunked: the same stop, byte by byte too.
    std::string chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 10; ++i)
        chunked += "3e8\r\n" + std::string(1000, 'c') + "\r\n";
    Parsed c = every_cut(chunked, false);
    CHECK(c.status == Status::done);
    CHECK(c.body == std::string(4096, 'c'));
    CHECK(c.body_bytes == 4096);
}

TEST_CASE("received: the raw start before the body, the body's start after") {
    HttpResponseParser p;
    p.feed("HTTP/1.1 200 OK\r\nA: ");
    CHECK(p.received() == "HTTP/1.1 200 OK\r\nA: ");
    p.feed("b\r\n\r\nbody");
    CHECK(p.received() == "body");
    HttpResponseParser long_head;
    long_head.feed(head_of_size(1000));
    CHECK(long_head.received() == "");
    HttpResponseParser cut;
    cut.feed(std::string(300, 'H'));
    CHECK(cut.received().size() == k_received_shown);
}

TEST_CASE("the verdict: status, protocol, --expect on the body") {
    auto accepted = std::get<StatusSet>(parse_status_list("200-299,401"));
    auto judge = [&](std::string_view response, bool eof, const char* pattern = nullptr) {
        HttpResponseParser p;
        p.feed(response);
        if (eof)
            p.finish();
        if (!pattern)
            return judge_http_response(p, accepted);
        auto matcher = std::get<Matcher>(Matcher::compile(pattern));
        return judge_http_response(p, accepted, &matcher);
    };
    using Kind = HttpVerdictKind;
    HttpVerdict ok = judge("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nready", false);
    CHECK(ok.kind == Kind::ready);
    CHECK(ok.message.empty());
    CHECK(judge("HTTP/1.1 401 Unauthorized\r\n\r\n", true).kind == Kind::ready);
    HttpVerdict down =
        judge("HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n", false);
    CHECK(down.kind == Kind::status);
    CHECK(down.message == "HTTP status '503 Service Unavailable' is not accepted (200-299,401)");
    CHECK(judge("HTTP/1.1 302\r\nContent-Length: 0\r\n\r\n", false).message ==
          "HTTP status '302' is not accepted (200-299,401)");
    // A rejected status wins over a body cut short; an accepted one with a broken body fails.
    CHECK(judge("HTTP/1.1 500 Oops\r\nContent-Length: 9\r\n\r\nab", true).kind == Kind::status);
    HttpVerdict cut = judge("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab", true);
    CHECK(cut.kind == Kind::protocol);
    CHECK(cut.message == "connection closed after 2 of 9 body bytes");
    CHECK(judge("SSH-2.0-x\r\n", false).kind == Kind::protocol);
    CHECK(judge("HTTP/1.1 200 OK\r\n", false).kind == Kind::protocol);
    // --expect matches the decoded body, not the head.
    const char* chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-State: up\r\n\r\n"
                          "3\r\n{\"s\r\n9\r\n\":\"ok\"}\n\r\n0\r\n\r\n";
    CHECK(judge(chunked, false, "\"s\":\"ok\"").kind == Kind::ready);
    HttpVerdict mismatch = judge(chunked, false, "X-State");
    CHECK(mismatch.kind == Kind::expect_mismatch);
    CHECK(mismatch.message == "body did not match");
    HttpVerdict big = judge(
        "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'x'), false, "y");
    CHECK(big.message == "no match in the first 4096 bytes of the body");
}
