// The text of --version: the version on the first line, then one fact a line (the commit it
// was built from, the build type, whether it is static, the libevent it runs with).
#pragma once

#include <string>

namespace tcpretry::app {

struct BuildFacts {
    std::string version;          // "0.1.0"
    std::string commit;           // short git commit, "-dirty" appended; "unknown" outside git
    std::string build_type;       // CMake's build type ("Release"), "unknown" when none
    bool is_static = false;       // no dynamic loader ran: the binary is statically linked
    std::string libevent;         // event_get_version(): the library linked in
    std::string libevent_headers; // LIBEVENT_VERSION: the headers it was compiled against
};

// This binary's facts.
BuildFacts build_facts();

// "tcpretry 0.1.0\ncommit: ...\nbuild type: ...\nstatic: yes|no\nlibevent: ..." without a
// final newline; the libevent line names the headers' version too when it differs.
std::string version_text(const BuildFacts& facts);

// version_text(build_facts()).
std::string version_text();

} // namespace tcpretry::app
