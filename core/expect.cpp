#include "core/expect.hpp"

namespace tcpretry::core {

std::variant<Matcher, std::string> Matcher::compile(const std::string& pattern) {
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

bool Matcher::matches(std::string_view data) const {
    regmatch_t m[1];
    m[0].rm_so = 0;
    m[0].rm_eo = static_cast<regoff_t>(data.size());
    return regexec(&m_re->re, data.data(), 1, m, REG_STARTEND) == 0;
}

} // namespace tcpretry::core
