// /etc/hosts text (core::hosts_lookup): the first line of the input is the name to look up,
// the rest the file. Never crash; results have the asked family and no duplicates.
#include "core/hosts.hpp"
#include "fuzz_support.hpp"

#include <algorithm>

using namespace tcpretry;
using tcpretry::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    auto eol = text.find('\n');
    std::string_view name = text.substr(0, eol);
    std::string_view hosts =
        eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    for (auto family : {core::Family::ipv4, core::Family::ipv6}) {
        auto found = core::hosts_lookup(hosts, name, family);
        for (std::size_t i = 0; i < found.size(); ++i) {
            require(found[i].family() == family, "hosts_lookup returns the asked family");
            require(std::find(found.begin() + static_cast<std::ptrdiff_t>(i) + 1, found.end(),
                              found[i]) == found.end(),
                    "hosts_lookup returns no duplicates");
        }
    }
    return 0;
}
