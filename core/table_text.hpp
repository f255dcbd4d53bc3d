// The line format of /etc/hosts and /etc/services: whitespace-separated fields, '#' starts
// a comment that runs to the end of the line. One scanner for both readers; it allocates
// nothing (a targets file may look a service up on each of 100,000 lines).
#pragma once

#include <algorithm>
#include <optional>
#include <string_view>

namespace tcpretry::core {

// ASCII case-insensitive equality (host and service names).
inline bool iequal_ascii(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

class TableText {
  public:
    explicit TableText(std::string_view text) : m_rest(text) {}

    // Moves to the next line, its comment cut off; false when the text is done.
    bool next_line() {
        if (m_rest.empty())
            return false;
        auto eol = m_rest.find('\n');
        m_line = m_rest.substr(0, eol);
        m_rest = eol == std::string_view::npos ? std::string_view{} : m_rest.substr(eol + 1);
        if (auto hash = m_line.find('#'); hash != std::string_view::npos)
            m_line = m_line.substr(0, hash);
        return true;
    }

    // The line's next field, or nullopt at its end.
    std::optional<std::string_view> next_field() {
        std::size_t i = 0;
        while (i < m_line.size() && is_space(m_line[i]))
            ++i;
        std::size_t start = i;
        while (i < m_line.size() && !is_space(m_line[i]))
            ++i;
        std::string_view field = m_line.substr(start, i - start);
        m_line = m_line.substr(i);
        if (field.empty())
            return std::nullopt;
        return field;
    }

  private:
    static bool is_space(char c) {
        return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
    }

    std::string_view m_rest;
    std::string_view m_line;
};

} // namespace tcpretry::core
