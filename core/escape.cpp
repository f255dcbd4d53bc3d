#include "core/escape.hpp"

namespace tcpretry::core {

std::variant<std::string, EscapeError> parse_escapes(std::string_view text) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
        char c = text[i];
        if (c != '\\') {
            out += c;
            continue;
        }
        if (i + 1 == text.size())
            return EscapeError{"a lone '\\' at the end"};
        char e = text[++i];
        switch (e) {
        case 'r':
            out += '\r';
            break;
        case 'n':
            out += '\n';
            break;
        case 't':
            out += '\t';
            break;
        case '0':
            out += '\0';
            break;
        case '\\':
            out += '\\';
            break;
        case 'x': {
            int hi = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
            int lo = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return EscapeError{"'\\x' needs two hex digits"};
            out += static_cast<char>(hi * 16 + lo);
            i += 2;
            break;
        }
        default:
            return EscapeError{std::string("unknown escape '\\") + e + "'"};
        }
    }
    return out;
}

std::string escape_bytes(std::string_view bytes, std::size_t limit) {
    static constexpr char hex[] = "0123456789abcdef";
    std::string out;
    std::size_t n = bytes.size() < limit ? bytes.size() : limit;
    for (std::size_t i = 0; i < n; ++i) {
        auto u = static_cast<unsigned char>(bytes[i]);
        switch (u) {
        case '\r':
            out += "\\r";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\t':
            out += "\\t";
            break;
        case '\0':
            out += "\\0";
            break;
        case '\\':
            out += "\\\\";
            break;
        default:
            if (u >= 0x20 && u < 0x7f) {
                out += static_cast<char>(u);
            } else {
                out += "\\x";
                out += hex[u >> 4];
                out += hex[u & 15];
            }
        }
    }
    return out;
}

} // namespace tcpretry::core
