// TARGET strings (core::parse_target, also as tcp://TARGET): never crash; a parsed target is
// consistent; an error is one clean line.
#include "core/target.hpp"
#include "fuzz_support.hpp"

using namespace tcpretry;
using tcpretry::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    auto parsed = core::parse_target(text);
    if (auto* e = std::get_if<core::TargetError>(&parsed)) {
        require(!e->message.empty(), "a target error has a message");
        require(fuzz::has_no_control(e->message), "a target error is one clean line");
        return 0;
    }
    const auto& t = std::get<core::Target>(parsed);
    require(core::is_clean_text(text), "only clean text parses as a target");
    require(t.text == text, "Target::text is the input");
    require(t.port != 0, "a parsed port is 1-65535");
    require(!t.host.empty(), "a parsed host is not empty");
    // "tcp://HOST:PORT[/]" is HOST:PORT.
    std::string_view address = text;
    if (address.size() >= 6 && (address[0] | 0x20) == 't' && (address[1] | 0x20) == 'c' &&
        (address[2] | 0x20) == 'p' && address.substr(3, 3) == "://") {
        address.remove_prefix(6);
        if (!address.empty() && address.back() == '/')
            address.remove_suffix(1);
        require(address.find_first_of("/?#") == std::string_view::npos,
                "nothing follows HOST:PORT in a tcp:// target");
    } else {
        require(text.find("://") == std::string_view::npos, "no URL but tcp:// is a target");
    }
    require(!address.empty(), "a tcp:// target has HOST:PORT");
    require(t.host.find(':') == std::string::npos || address.front() == '[',
            "a host with ':' came in brackets");
    if (t.numeric)
        require(t.numeric->port() == t.port, "the numeric address carries the port");
    if (address.front() == '[')
        require(t.numeric && t.numeric->family() == core::Family::ipv6,
                "a bracketed host is an IPv6 literal");
    // Parsing is a function of the text alone.
    auto again = core::parse_target(t.text);
    require(std::holds_alternative<core::Target>(again) &&
                std::get<core::Target>(again).port == t.port &&
                std::get<core::Target>(again).host == t.host,
            "parse_target is deterministic");
    return 0;
}
