// OpenSSL linked into the executable (static builds, tests, fuzzers): always there.
#include "core/openssl_lazy.hpp"

namespace tcpretry::core {

std::string openssl_load_error() {
    return {};
}

} // namespace tcpretry::core
