// The STARTTLS openings (core/starttls): each protocol's happy path, refusals, replies split
// at every byte boundary, over-long lines and replies, bytes after the go-ahead.
#include "core/starttls.hpp"

#include <doctest/doctest.h>
#include <random>
#include <string>
#include <utility>
#include <vector>

using namespace tcpretry::core;
using namespace std::string_literals;

namespace {

// One exchange: what the client must send now, then what the server replies.
struct Exchange {
    std::string client;
    std::string server;
};

struct Result {
    StartTls::Status status = StartTls::Status::more;
    std::string message;
    std::string received;
    std::size_t exchanges = 0; // how many exchanges ran
};

// Plays the server's side: each reply fed in pieces cut by `cut` (sizes of the pieces, in
// turn; the last repeats). Checks that the client sends exactly what each exchange names.
Result converse(StartTlsProtocol protocol, const std::vector<Exchange>& script,
                const std::vector<std::size_t>& cut = {1 << 20}) {
    StartTls s(protocol);
    Result r;
    std::size_t piece = 0;
    for (const Exchange& e : script) {
        CHECK(s.take_output() == e.client);
        ++r.exchanges;
        std::string_view reply = e.server;
        while (!reply.empty() && s.status() == StartTls::Status::more) {
            std::size_t n = std::min(reply.size(), cut[std::min(piece++, cut.size() - 1)]);
            s.feed(reply.substr(0, n));
            reply.remove_prefix(n);
        }
        if (s.status() != StartTls::Status::more)
            break;
    }
    CHECK(s.take_output().empty()); // nothing more to send once it is over (or stuck)
    r.status = s.status();
    r.message = s.message();
    r.received = s.received();
    return r;
}

// The same script, with every reply cut at every single position, and byte by byte.
void every_cut(StartTlsProtocol protocol, const std::vector<Exchange>& script,
               StartTls::Status expected) {
    std::size_t longest = 0;
    for (const Exchange& e : script)
        longest = std::max(longest, e.server.size());
    for (std::size_t at = 1; at <= longest; ++at) {
        CAPTURE(at);
        CHECK(converse(protocol, script, {at, 1 << 20}).status == expected);
    }
    CHECK(converse(protocol, script, {1}).status == expected);
    std::mt19937 rng(7);
    for (int i = 0; i < 50; ++i) {
        std::vector<std::size_t> cut;
        for (int j = 0; j < 64; ++j)
            cut.push_back(1 + rng() % 9);
        CHECK(converse(protocol, script, cut).status == expected);
    }
}

const std::string k_ssl_request("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);

} // namespace

TEST_CASE("STARTTLS protocol names") {
    for (auto p : {StartTlsProtocol::smtp, StartTlsProtocol::imap, StartTlsProtocol::pop3,
                   StartTlsProtocol::ftp, StartTlsProtocol::postgres})
        CHECK(parse_starttls_protocol(starttls_protocol_name(p)) == p);
    CHECK_FALSE(parse_starttls_protocol("SMTP"));
    CHECK_FALSE(parse_starttls_protocol("xmpp"));
    CHECK_FALSE(parse_starttls_protocol(""));
}

TEST_CASE("STARTTLS smtp") {
    const std::vector<Exchange> happy = {
        {"", "220-mail.example ESMTP\r\n220 ready\r\n"},
        {"EHLO localhost\r\n",
         "250-mail.example greets you\r\n250-PIPELINING\r\n250-starttls\r\n250 8BITMIME\r\n"},
        {"STARTTLS\r\n", "220 2.0.0 Ready to start TLS\r\n"},
    };
    SUBCASE("happy path, at every byte boundary") {
        every_cut(StartTlsProtocol::smtp, happy, StartTls::Status::done);
        Result r = converse(StartTlsProtocol::smtp, happy);
        CHECK(r.status == StartTls::Status::done);
        CHECK(r.exchanges == 3);
    }
    SUBCASE("bare LF line ends and a one-line EHLO reply") {
        Result r = converse(StartTlsProtocol::smtp, {{"", "220 hi\n"},
                                                     {"EHLO localhost\r\n", "250 STARTTLS\n"},
                                                     {"STARTTLS\r\n", "220 go\n"}});
        CHECK(r.status == StartTls::Status::done);
    }
    SUBCASE("no STARTTLS offered: fails with the EHLO reply") {
        const std::string ehlo = "250-mail.example\r\n250-AUTH PLAIN STARTTLS\r\n250 SIZE 100\r\n";
        std::vector<Exchange> script = {{"", "220 mail.example ESMTP\r\n"},
                                        {"EHLO localhost\r\n", ehlo}};
        every_cut(StartTlsProtocol::smtp, script, StartTls::Status::failed);
        Result r = converse(StartTlsProtocol::smtp, script);
        CHECK(r.message == "server does not offer STARTTLS");
        CHECK(r.received == ehlo);
    }
    SUBCASE("refusals") {
        Result greeting = converse(StartTlsProtocol::smtp, {{"", "554 5.7.1 go away\r\n"}});
        CHECK(greeting.status == StartTls::Status::failed);
        CHECK(greeting.message == "server refused the session: 554 5.7.1 go away");
        CHECK(greeting.received == "554 5.7.1 go away\r\n");
        Result ehlo = converse(StartTlsProtocol::smtp,
                               {{"", "220 hi\r\n"}, {"EHLO localhost\r\n", "502 no EHLO\r\n"}});
        CHECK(ehlo.message == "EHLO refused: 502 no EHLO");
        Result starttls =
            converse(StartTlsProtocol::smtp, {{"", "220 hi\r\n"},
                                              {"EHLO localhost\r\n", "250-hi\r\n250 STARTTLS\r\n"},
                                              {"STARTTLS\r\n", "454 4.7.0 TLS not available\r\n"}});
        CHECK(starttls.status == StartTls::Status::failed);
        CHECK(starttls.message == "STARTTLS refused: 454 4.7.0 TLS not available");
        CHECK(starttls.received == "454 4.7.0 TLS not available\r\n");
    }
    SUBCASE("not SMTP at all") {
        Result r = converse(StartTlsProtocol::smtp, {{"", "SSH-2.0-OpenSSH_9.2\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "not an SMTP reply: SSH-2.0-OpenSSH_9.2");
    }
    SUBCASE("bytes after the go-ahead are an injection") {
        Result r =
            converse(StartTlsProtocol::smtp, {{"", "220 hi\r\n"},
                                              {"EHLO localhost\r\n", "250 STARTTLS\r\n"},
                                              {"STARTTLS\r\n", "220 go\r\n250 injected\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message ==
              "server sent 14 more bytes after its go-ahead (before the TLS handshake)");
    }
}

TEST_CASE("STARTTLS bounds: a line over 4 KiB, a reply over 16 KiB") {
    SUBCASE("a line without its end") {
        StartTls s(StartTlsProtocol::smtp);
        std::string line = "220-" + std::string(k_starttls_line_limit - 4, 'a'); // no end yet
        CHECK(s.feed(line) == StartTls::Status::more);
        CHECK(s.feed("x") == StartTls::Status::failed);
        CHECK(s.message() == "server sent a line over 4096 bytes");
        CHECK(s.received().size() == k_starttls_line_limit);
        CHECK(s.feed("\r\n") == StartTls::Status::failed); // over is over
    }
    SUBCASE("a line of exactly the limit, with its CR LF, is fine") {
        StartTls s(StartTlsProtocol::smtp);
        std::string line = "220 " + std::string(k_starttls_line_limit - 6, 'b') + "\r\n";
        CHECK(line.size() == k_starttls_line_limit);
        CHECK(s.feed(line) == StartTls::Status::more);
        CHECK(s.take_output() == "EHLO localhost\r\n");
    }
    SUBCASE("a multi-line reply that never ends") {
        StartTls s(StartTlsProtocol::smtp);
        std::string line = "220-" + std::string(96, 'c') + "\r\n"; // 102 bytes
        StartTls::Status st = StartTls::Status::more;
        std::size_t fed = 0;
        while (st == StartTls::Status::more && fed < 2 * k_starttls_reply_limit) {
            st = s.feed(line);
            fed += line.size();
        }
        CHECK(st == StartTls::Status::failed);
        CHECK(s.message() == "server sent a reply over 16384 bytes");
        CHECK(s.received().size() <= k_starttls_reply_limit);
        CHECK(fed > k_starttls_reply_limit);
    }
    SUBCASE("IMAP untagged lines without end") {
        StartTls s(StartTlsProtocol::imap);
        CHECK(s.feed("* OK hi\r\n") == StartTls::Status::more);
        StartTls::Status st = StartTls::Status::more;
        for (int i = 0; i < 1000 && st == StartTls::Status::more; ++i)
            st = s.feed("* 1 EXISTS and some more words\r\n");
        CHECK(st == StartTls::Status::failed);
    }
}

TEST_CASE("STARTTLS imap") {
    const std::vector<Exchange> happy = {
        {"", "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"},
        {"A1 CAPABILITY\r\n",
         "* CAPABILITY IMAP4rev1 SASL-IR starttls LOGINDISABLED\r\nA1 OK CAPABILITY completed\r\n"},
        {"A2 STARTTLS\r\n", "A2 OK Begin TLS negotiation now\r\n"},
    };
    SUBCASE("happy path, at every byte boundary") {
        every_cut(StartTlsProtocol::imap, happy, StartTls::Status::done);
    }
    SUBCASE("untagged lines in between are passed over") {
        Result r = converse(
            StartTlsProtocol::imap,
            {{"", "* OK hi\r\n"},
             {"A1 CAPABILITY\r\n", "* 3 EXISTS\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\nA1 OK\r\n"},
             {"A2 STARTTLS\r\n", "* NOTE hello\r\nA2 OK go\r\n"}});
        CHECK(r.status == StartTls::Status::done);
    }
    SUBCASE("no STARTTLS among the capabilities") {
        const std::string caps = "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\nA1 OK done\r\n";
        Result r =
            converse(StartTlsProtocol::imap, {{"", "* OK hi\r\n"}, {"A1 CAPABILITY\r\n", caps}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "server does not offer STARTTLS");
        CHECK(r.received == caps);
    }
    SUBCASE("refusals") {
        CHECK(converse(StartTlsProtocol::imap, {{"", "* PREAUTH logged in\r\n"}}).message ==
              "server pre-authenticated the session (STARTTLS is not allowed): * PREAUTH "
              "logged in");
        CHECK(converse(StartTlsProtocol::imap, {{"", "* BYE busy\r\n"}}).message ==
              "server refused the session: * BYE busy");
        CHECK(converse(StartTlsProtocol::imap, {{"", "+OK pop3\r\n"}}).message ==
              "not an IMAP greeting: +OK pop3");
        Result r = converse(StartTlsProtocol::imap,
                            {{"", "* OK hi\r\n"},
                             {"A1 CAPABILITY\r\n", "* CAPABILITY STARTTLS\r\nA1 OK\r\n"},
                             {"A2 STARTTLS\r\n", "A2 NO [UNAVAILABLE] not now\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "STARTTLS refused: A2 NO [UNAVAILABLE] not now");
        CHECK(converse(StartTlsProtocol::imap,
                       {{"", "* OK hi\r\n"}, {"A1 CAPABILITY\r\n", "A1 BAD what\r\n"}})
                  .message == "CAPABILITY refused: A1 BAD what");
    }
}

TEST_CASE("STARTTLS pop3") {
    const std::vector<Exchange> happy = {
        {"", "+OK POP3 ready\r\n"},
        {"CAPA\r\n", "+OK Capability list follows\r\nUSER\r\nSTLS\r\nSASL PLAIN\r\n.\r\n"},
        {"STLS\r\n", "+OK Begin TLS negotiation\r\n"},
    };
    SUBCASE("happy path, at every byte boundary") {
        every_cut(StartTlsProtocol::pop3, happy, StartTls::Status::done);
    }
    SUBCASE("a server without CAPA: STLS is tried anyway") {
        Result r = converse(StartTlsProtocol::pop3, {{"", "+OK hi\r\n"},
                                                     {"CAPA\r\n", "-ERR unknown command\r\n"},
                                                     {"STLS\r\n", "+OK go\r\n"}});
        CHECK(r.status == StartTls::Status::done);
    }
    SUBCASE("no STLS in the list") {
        Result r = converse(StartTlsProtocol::pop3,
                            {{"", "+OK hi\r\n"}, {"CAPA\r\n", "+OK\r\nUSER\r\nTOP\r\n.\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "server does not offer STLS");
        CHECK(r.received == "+OK\r\nUSER\r\nTOP\r\n.\r\n");
    }
    SUBCASE("refusals") {
        CHECK(converse(StartTlsProtocol::pop3, {{"", "-ERR busy\r\n"}}).message ==
              "server refused the session: -ERR busy");
        Result r = converse(
            StartTlsProtocol::pop3,
            {{"", "+OK hi\r\n"}, {"CAPA\r\n", "-ERR no\r\n"}, {"STLS\r\n", "-ERR not here\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "STLS refused: -ERR not here");
    }
}

TEST_CASE("STARTTLS ftp") {
    const std::vector<Exchange> happy = {
        {"", "120 ready in a moment\r\n220-Welcome\r\n  be nice\r\n220 ready\r\n"},
        {"AUTH TLS\r\n", "234 AUTH TLS successful\r\n"},
    };
    SUBCASE("happy path, at every byte boundary") {
        every_cut(StartTlsProtocol::ftp, happy, StartTls::Status::done);
    }
    SUBCASE("refusals") {
        Result r = converse(StartTlsProtocol::ftp,
                            {{"", "220 hi\r\n"}, {"AUTH TLS\r\n", "500 AUTH not understood\r\n"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "AUTH TLS refused: 500 AUTH not understood");
        CHECK(r.received == "500 AUTH not understood\r\n");
        CHECK(converse(StartTlsProtocol::ftp, {{"", "421 too many users\r\n"}}).message ==
              "server refused the session: 421 too many users");
        CHECK(converse(StartTlsProtocol::ftp, {{"", "hello\r\n"}}).message ==
              "not an FTP reply: hello");
    }
}

TEST_CASE("STARTTLS postgres") {
    SUBCASE("SSLRequest, then S") {
        Result r = converse(StartTlsProtocol::postgres, {{k_ssl_request, "S"}});
        CHECK(r.status == StartTls::Status::done);
    }
    SUBCASE("N: no SSL") {
        Result r = converse(StartTlsProtocol::postgres, {{k_ssl_request, "N"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message == "server does not support SSL (answered 'N' to SSLRequest)");
        CHECK(r.received == "N");
    }
    SUBCASE("S with more bytes: an injection") {
        Result r = converse(StartTlsProtocol::postgres, {{k_ssl_request, "SZ"}});
        CHECK(r.status == StartTls::Status::failed);
        CHECK(r.message.starts_with("server sent 1 more bytes after its go-ahead"));
    }
    SUBCASE("an error message, or anything else") {
        CHECK(
            converse(StartTlsProtocol::postgres, {{k_ssl_request, "E\0\0\0\x10SFATAL"s}}).message ==
            "server answered SSLRequest with an error");
        CHECK(converse(StartTlsProtocol::postgres, {{k_ssl_request, "HTTP/1.1 400"}}).message ==
              "not a PostgreSQL reply to SSLRequest");
    }
    SUBCASE("nothing yet") {
        StartTls s(StartTlsProtocol::postgres);
        CHECK(s.take_output() == k_ssl_request);
        CHECK(s.take_output().empty());
        CHECK(s.feed("") == StartTls::Status::more);
        CHECK(s.feed("S") == StartTls::Status::done);
        CHECK(s.feed("S") == StartTls::Status::done); // after the end nothing changes
    }
}
