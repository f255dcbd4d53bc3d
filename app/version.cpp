#include "app/version.hpp"

#include "version_build.hpp"  // generated: TCPRETRY_BUILD_TYPE
#include "version_commit.hpp" // generated: TCPRETRY_COMMIT

#include <event2/event.h>
#include <sys/auxv.h>

namespace tcpretry::app {

BuildFacts build_facts() {
    BuildFacts f;
    f.version = TCPRETRY_VERSION;
    f.commit = TCPRETRY_COMMIT;
    f.build_type = *TCPRETRY_BUILD_TYPE ? TCPRETRY_BUILD_TYPE : "unknown";
    // The kernel tells a process where its dynamic loader was mapped; a static binary has
    // none. Asked at run time because tcpretry and tcpretry_static share this object.
    f.is_static = getauxval(AT_BASE) == 0;
    f.libevent = event_get_version();
    f.libevent_headers = LIBEVENT_VERSION;
    return f;
}

std::string version_text(const BuildFacts& f) {
    std::string libevent = f.libevent;
    if (f.libevent_headers != f.libevent)
        libevent += " (built with " + f.libevent_headers + " headers)";
    return "tcpretry " + f.version + "\ncommit: " + f.commit + "\nbuild type: " + f.build_type +
           "\nstatic: " + (f.is_static ? "yes" : "no") + "\nlibevent: " + libevent;
}

std::string version_text() {
    return version_text(build_facts());
}

} // namespace tcpretry::app
