// --expect: a POSIX extended regular expression over the first bytes a server sends.
// Not std::regex: libstdc++'s matcher recurses per character and crashed on 64 KiB inputs.
#pragma once

#include <cstddef>
#include <memory>
#include <regex.h>
#include <string>
#include <string_view>
#include <variant>

namespace tcpretry::core {

// How much of the reply is matched; a reply this long without a match is a mismatch.
inline constexpr std::size_t k_expect_limit = 4096;
// How much of a mismatched reply an event carries.
inline constexpr std::size_t k_received_shown = 200;

class Matcher {
  public:
    // REG_EXTENDED | REG_NEWLINE: ^ and $ match at line starts and ends.
    static std::variant<Matcher, std::string> compile(const std::string& pattern);

    // REG_STARTEND, so NUL bytes in the data do not cut it short.
    bool matches(std::string_view data) const;
    const std::string& pattern() const { return m_pattern; }

  private:
    struct Compiled {
        regex_t re{};
        bool ok = false;
        Compiled() = default;
        Compiled(const Compiled&) = delete;
        Compiled& operator=(const Compiled&) = delete;
        ~Compiled() {
            if (ok)
                regfree(&re);
        }
    };
    Matcher(std::string pattern, std::shared_ptr<const Compiled> re)
        : m_pattern(std::move(pattern)), m_re(std::move(re)) {}
    std::string m_pattern;
    std::shared_ptr<const Compiled> m_re; // shared: every target's check uses one compiled form
};

} // namespace tcpretry::core
