#include "core/hosts.hpp"

#include <algorithm>
#include <cctype>

namespace tcpretry::core {

namespace {

bool iequal(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) ==
                      std::tolower(static_cast<unsigned char>(y));
           });
}

bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\r';
}

} // namespace

std::vector<SockAddr> hosts_lookup(std::string_view text, std::string_view name, Family family) {
    std::vector<SockAddr> found;
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    while (!text.empty()) {
        auto eol = text.find('\n');
        std::string_view line = text.substr(0, eol);
        text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
        if (auto hash = line.find('#'); hash != std::string_view::npos)
            line = line.substr(0, hash);

        std::vector<std::string_view> fields;
        size_t i = 0;
        while (i < line.size()) {
            while (i < line.size() && is_space(line[i]))
                ++i;
            size_t start = i;
            while (i < line.size() && !is_space(line[i]))
                ++i;
            if (i > start)
                fields.push_back(line.substr(start, i - start));
        }
        if (fields.size() < 2)
            continue;
        bool match = std::any_of(fields.begin() + 1, fields.end(),
                                 [&](std::string_view alias) { return iequal(alias, name); });
        if (!match)
            continue;
        auto addr = parse_numeric_address(std::string(fields[0]), 0);
        if (addr && addr->family() == family &&
            std::find(found.begin(), found.end(), *addr) == found.end())
            found.push_back(*addr);
    }
    return found;
}

} // namespace tcpretry::core
