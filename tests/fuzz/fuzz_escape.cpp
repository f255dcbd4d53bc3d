// --send escapes (core::parse_escapes) and their inverse for display (core::escape_bytes):
// escape_bytes(x) is printable ASCII and parses back to exactly x, for any bytes x.
#include "core/escape.hpp"
#include "fuzz_support.hpp"

#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

void check_round_trip(std::string_view bytes) {
    std::string shown = core::escape_bytes(bytes);
    require(fuzz::has_no_control(shown), "escape_bytes writes printable ASCII only");
    for (char c : shown)
        require(static_cast<unsigned char>(c) < 0x80, "escape_bytes writes ASCII only");
    auto back = core::parse_escapes(shown);
    require(std::holds_alternative<std::string>(back), "escape_bytes output parses");
    require(std::get<std::string>(back) == bytes, "parse_escapes(escape_bytes(x)) == x");

    // A limit shows a prefix of the input, escaped the same way.
    std::size_t limit = bytes.size() / 2;
    require(core::escape_bytes(bytes, limit) == core::escape_bytes(bytes.substr(0, limit)),
            "escape_bytes(x, n) == escape_bytes(first n bytes of x)");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);

    auto parsed = core::parse_escapes(text);
    if (auto* e = std::get_if<core::EscapeError>(&parsed)) {
        require(!e->message.empty(), "an escape error has a message");
    } else {
        const std::string& bytes = std::get<std::string>(parsed);
        require(bytes.size() <= text.size(), "escapes never lengthen the input");
        check_round_trip(bytes);
    }
    check_round_trip(text); // the raw input as if a server had sent it
    return 0;
}
