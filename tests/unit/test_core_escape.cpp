// C escapes for --send (parse_escapes) and for showing received bytes (escape_bytes).
#include "core/escape.hpp"

#include <doctest/doctest.h>
#include <string>
#include <string_view>
#include <vector>

using namespace tcpretry::core;
using namespace std::string_literals;

namespace {

std::string parsed(std::string_view text) {
    auto r = parse_escapes(text);
    const std::string* s = std::get_if<std::string>(&r);
    REQUIRE_MESSAGE(s != nullptr, "parse_escapes failed on '" << std::string(text) << "'");
    return *s;
}

std::string error_of(std::string_view text) {
    auto r = parse_escapes(text);
    const EscapeError* e = std::get_if<EscapeError>(&r);
    REQUIRE_MESSAGE(e != nullptr, "parse_escapes accepted '" << std::string(text) << "'");
    return e->message;
}

} // namespace

TEST_CASE("parse_escapes: plain text is unchanged") {
    CHECK(parsed("") == "");
    CHECK(parsed("PING") == "PING");
    CHECK(parsed("GET / HTTP/1.0") == "GET / HTTP/1.0");
    CHECK(parsed("x/y?z=1&a=%20") == "x/y?z=1&a=%20");
}

TEST_CASE("parse_escapes: every escape") {
    struct Row {
        const char* text;
        std::string bytes;
    };
    const std::vector<Row> rows{
        {"\\r", "\r"},
        {"\\n", "\n"},
        {"\\t", "\t"},
        {"\\0", "\0"s},
        {"\\\\", "\\"},
        {"\\x41", "A"},
        {"\\x7e", "~"},
        {"\\x7E", "~"},
        {"\\xff", "\xff"},
        {"\\xFF", "\xff"},
        {"\\xaB", "\xab"},
        {"\\x00", "\0"s},
        {"\\x0a", "\n"},
        {"PING\\r\\n", "PING\r\n"},
        {"a\\tb\\0c", "a\tb\0c"s},
        {"\\\\n", "\\n"},     // an escaped backslash, then a plain n
        {"\\\\\\\\", "\\\\"}, // two escaped backslashes
        {"\\x414", "A4"},     // exactly two hex digits are taken
        {"\\0"
         "1",
         "\0"
         "1"s}, // \0 is NUL, not the start of an octal number
        {"\\r\\n\\r\\n", "\r\n\r\n"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(parsed(row.text) == row.bytes);
    }
}

TEST_CASE("parse_escapes: bytes above 0x7f pass through unchanged") {
    CHECK(parsed("caf\xc3\xa9") == "caf\xc3\xa9");
}

TEST_CASE("parse_escapes: every malformed sequence is an error naming it") {
    struct Row {
        const char* text;
        const char* mentions;
    };
    const std::vector<Row> rows{
        {"\\", "\\"},                                      // a lone backslash
        {"abc\\", "\\"},                                   // a lone trailing backslash
        {"\\x", "\\x"},                                    // no hex digits
        {"\\x4", "\\x"},                                   // one hex digit at the end
        {"\\x4g", "\\x"},                                  // one hex digit, then not hex
        {"\\xg4", "\\x"},                                  // not hex at all
        {"\\x 4", "\\x"}, {"a\\q", "\\q"}, {"\\8", "\\8"}, // no octal
        {"\\1", "\\1"},   {"\\a", "\\a"},  {"\\e", "\\e"},
        {"\\\"", "\\\""}, {"\\'", "\\'"},  {"\\X41", "\\X"},       // \X is not \x
        {"\\R", "\\R"},   {"\\ ", "\\ "},  {"ok\\r\\n\\q", "\\q"}, // an error after good escapes
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        std::string message = error_of(row.text);
        CHECK_FALSE(message.empty());
        CHECK(message.find(row.mentions) != std::string::npos);
    }
}

TEST_CASE("parse_escapes: every other character after a backslash is an error") {
    const std::string allowed = "rnt0\\x";
    for (int c = 1; c < 256; ++c) {
        auto ch = static_cast<char>(c);
        if (allowed.find(ch) != std::string::npos)
            continue;
        CAPTURE(c);
        std::string text = "\\";
        text += ch;
        CHECK(std::holds_alternative<EscapeError>(parse_escapes(text)));
    }
}

TEST_CASE("escape_bytes: printable ASCII as is, the rest escaped") {
    CHECK(escape_bytes("") == "");
    CHECK(escape_bytes("SSH-2.0-OpenSSH_9.2\r\n") == "SSH-2.0-OpenSSH_9.2\\r\\n");
    CHECK(escape_bytes("a\tb") == "a\\tb");
    CHECK(escape_bytes("\0"s) == "\\0");
    CHECK(escape_bytes("\\") == "\\\\");
    CHECK(escape_bytes("\x01\x7f\x80\xff") == "\\x01\\x7f\\x80\\xff");
    CHECK(escape_bytes(" ~") == " ~");
    CHECK(escape_bytes("\"quoted\"") == "\"quoted\"");
}

TEST_CASE("escape_bytes: limit counts input bytes") {
    std::string data(300, 'a');
    CHECK(escape_bytes(data, 200) == std::string(200, 'a'));
    CHECK(escape_bytes("\r\n\r\n", 2) == "\\r\\n");
    CHECK(escape_bytes("abc", 0) == "");
    CHECK(escape_bytes("abc", 10) == "abc");
}

TEST_CASE("escape_bytes of every byte value round-trips through parse_escapes") {
    std::string all;
    for (int b = 0; b < 256; ++b)
        all += static_cast<char>(b);
    std::string shown = escape_bytes(all);
    for (char c : shown) {
        auto u = static_cast<unsigned char>(c);
        CHECK((u >= 0x20 && u < 0x7f)); // the escaped form is printable ASCII only
    }
    CHECK(parsed(shown) == all);
    for (int b = 0; b < 256; ++b) {
        CAPTURE(b);
        std::string one(1, static_cast<char>(b));
        CHECK(parsed(escape_bytes(one)) == one);
    }
}
