// Shared by the libFuzzer targets: a property check that stops the run with a readable reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace tcpretry::fuzz {

// libFuzzer treats the abort as a crash and saves the input; the line says which property.
[[noreturn]] inline void fail(const char* property) {
    std::fprintf(stderr, "fuzz property violated: %s\n", property);
    std::abort();
}

inline void require(bool ok, const char* property) {
    if (!ok)
        fail(property);
}

inline std::string_view as_text(const uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// No byte below 0x20 and no DEL: what "one clean line" means for messages and JSON lines.
inline bool has_no_control(std::string_view s) {
    for (char c : s) {
        auto u = static_cast<unsigned char>(c);
        if (u < 0x20 || u == 0x7f)
            return false;
    }
    return true;
}

} // namespace tcpretry::fuzz
