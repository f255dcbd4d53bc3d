#include "core/expect.hpp"

#include <optional>
#include <vector>

namespace tcpretry::core {

namespace {

bool is_ascii_letter(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// What to write instead of a Perl-style escape "\c" outside brackets.
std::string escape_advice(char c) {
    std::string e = std::string("\\") + c;
    switch (c) {
    case 'd':
        return e + " is not POSIX ERE: use [0-9]";
    case 'D':
        return e + " is not POSIX ERE: use [^0-9]";
    case 'w':
        return e + " is not POSIX ERE: use [[:alnum:]_]";
    case 'W':
        return e + " is not POSIX ERE: use [^[:alnum:]_]";
    case 's':
        return e + " is not POSIX ERE: use [[:space:]]";
    case 'S':
        return e + " is not POSIX ERE: use [^[:space:]]";
    case 'b':
    case 'B':
        return e + " (word boundary) is not POSIX ERE: match the neighbour, e.g. ([^[:alnum:]_]|$)";
    case 'A':
        return e + " is not POSIX ERE: use ^";
    case 'z':
    case 'Z':
        return e + " is not POSIX ERE: use $";
    case 'n':
    case 'r':
        return e + " is not POSIX ERE: use $ for a line end (CRLF counts), or [[:space:]]";
    case 't':
        return e + " is not POSIX ERE: use [[:blank:]]";
    default:
        return e + " is not a POSIX ERE escape: write " + c + " alone";
    }
}

// Skips the bracket expression starting at pattern[i] == '['; returns the index past its ']'
// (or the end), or sets `why` for a Perl class inside it ("[\d.]" is '\', 'd' or '.').
std::size_t skip_bracket(std::string_view p, std::size_t i, std::optional<std::string>& why) {
    std::size_t j = i + 1;
    if (j < p.size() && p[j] == '^')
        ++j;
    if (j < p.size() && p[j] == ']')
        ++j; // a leading ']' is a member
    while (j < p.size() && p[j] != ']') {
        if (p[j] == '[' && j + 1 < p.size() &&
            (p[j + 1] == ':' || p[j + 1] == '.' || p[j + 1] == '=')) {
            // [:class:], [.coll.], [=equiv=]: up to the same delimiter and ']'.
            char delim = p[j + 1];
            std::size_t close = p.find(std::string{delim, ']'}, j + 2);
            j = close == std::string_view::npos ? p.size() : close + 2;
            continue;
        }
        if (p[j] == '\\' && j + 1 < p.size()) {
            const char* cls = p[j + 1] == 'd'   ? "[:digit:]"
                              : p[j + 1] == 'w' ? "[:alnum:]_"
                              : p[j + 1] == 's' ? "[:space:]"
                                                : nullptr;
            if (cls) {
                why = std::string("inside [...], \\") + p[j + 1] + " means '\\' or '" + p[j + 1] +
                      "': use " + cls + ", as in [" + cls + "]";
                return p.size();
            }
        }
        ++j;
    }
    return j < p.size() ? j + 1 : j;
}

// The first escape POSIX ERE does not know, explained; nothing when there is none.
std::optional<std::string> unknown_escape(std::string_view p) {
    std::optional<std::string> why;
    std::size_t i = 0;
    while (i < p.size() && !why) {
        if (p[i] == '\\') {
            if (i + 1 < p.size() && is_ascii_letter(p[i + 1]))
                return escape_advice(p[i + 1]);
            i += 2; // "\." "\+" "\\" "\(" ... and back-references are fine
        } else if (p[i] == '[') {
            i = skip_bracket(p, i, why);
        } else {
            ++i;
        }
    }
    return why;
}

// `data` without the CR of each CRLF, and where each kept byte was in `data`.
std::string without_cr_before_lf(std::string_view data, std::vector<std::size_t>& where) {
    std::string out;
    out.reserve(data.size());
    where.clear();
    where.reserve(data.size());
    for (std::size_t i = 0; i < data.size(); ++i) {
        if (data[i] == '\r' && i + 1 < data.size() && data[i + 1] == '\n')
            continue;
        out += data[i];
        where.push_back(i);
    }
    return out;
}

} // namespace

std::variant<Matcher, std::string> Matcher::compile(const std::string& pattern) {
    if (auto why = unknown_escape(pattern))
        return *why;
    auto compiled = std::make_shared<Compiled>();
    int rc = regcomp(&compiled->re, pattern.c_str(), REG_EXTENDED | REG_NEWLINE);
    if (rc != 0) {
        char buf[256];
        regerror(rc, &compiled->re, buf, sizeof buf);
        return std::string(buf);
    }
    compiled->ok = true;
    return Matcher(pattern, std::move(compiled));
}

std::optional<std::size_t> Matcher::match_end(std::string_view data, bool line_start) const {
    if (auto end = match_as_is(data, line_start))
        return end;
    if (data.find("\r\n") == std::string_view::npos)
        return std::nullopt;
    std::vector<std::size_t> where;
    std::string plain = without_cr_before_lf(data, where);
    auto end = match_as_is(plain, line_start);
    if (!end)
        return std::nullopt;
    return *end == 0 ? 0 : where[*end - 1] + 1; // just past the last byte matched
}

std::optional<std::size_t> Matcher::match_as_is(std::string_view data, bool line_start) const {
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = static_cast<regoff_t>(data.size());
    int flags = REG_STARTEND | (line_start ? 0 : REG_NOTBOL);
    if (regexec(&m_re->re, data.data(), 1, m, flags) != 0)
        return std::nullopt;
    return static_cast<std::size_t>(m[0].rm_eo);
}

} // namespace tcpretry::core
