// Whether OpenSSL can be called. A dynamic tcpretry does not link libssl: most runs use no TLS,
// and loading and relocating libssl and libcrypto cost every run about 2 MiB of memory. There
// core/openssl_lazy.cpp defines each OpenSSL function tcpretry calls and loads libssl.so.3 at the
// first TLS use; a static tcpretry, the tests and the fuzzers link OpenSSL
// (core/openssl_linked.cpp). core/CMakeLists.txt chooses, per executable.
#pragma once

#include <string>

namespace tcpretry::core {

// Empty when OpenSSL's functions can be called (loading it first if need be); otherwise one
// line saying why not: "cannot load OpenSSL (libssl.so.3): libssl.so.3: cannot open shared
// object file: No such file or directory". Called before any other OpenSSL call of a run.
std::string openssl_load_error();

} // namespace tcpretry::core
