// --expect: a POSIX extended regular expression over the first bytes a server sends.
// Not std::regex: libstdc++'s matcher recurses per character and crashed on 64 KiB inputs.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <regex.h>
#include <string>
#include <string_view>
#include <variant>

namespace tcpretry::core {

// How much of the reply is matched; a reply this long without a match is a mismatch.
inline constexpr std::size_t k_expect_limit = 4096;
// How much of a mismatched reply the reporters show (escaped, escape_bytes' limit). The event
// itself carries all the check read, up to k_expect_limit bytes, raw.
inline constexpr std::size_t k_received_shown = 200;

class Matcher {
  public:
    // REG_EXTENDED | REG_NEWLINE: ^ and $ match at line starts and ends. A backslash before
    // a letter (Perl's \d, \w, \s, \b, ...; also \n, \r, \t) is an error naming the POSIX
    // form to use: POSIX ERE has no such escapes, and glibc would quietly read "\d" as "d".
    static std::variant<Matcher, std::string> compile(const std::string& pattern);

    // REG_STARTEND, so NUL bytes in the data do not cut it short. Lines may end in CRLF: a
    // reply with "\r\n" in it is tried as received and, failing that, with each CR before
    // LF taken out, so $ matches before "\r\n" while a pattern naming the CR still matches.
    bool matches(std::string_view data) const { return match_end(data).has_value(); }
    // Where the first match ends in `data` (an offset into it), or nothing. A multi-step
    // dialogue goes on after that point. `line_start`: `data` begins a line (^ may match at
    // its first byte); false when it continues one.
    std::optional<std::size_t> match_end(std::string_view data, bool line_start = true) const;
    const std::string& pattern() const { return m_pattern; }

  private:
    std::optional<std::size_t> match_as_is(std::string_view data, bool line_start) const;
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
