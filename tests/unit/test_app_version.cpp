// The text of --version: the version first, then one fact a line.
#include "app/version.hpp"

#include <doctest/doctest.h>
#include <sstream>
#include <string>
#include <vector>

using namespace tcpretry::app;

namespace {

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> lines;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        lines.push_back(line);
    return lines;
}

} // namespace

TEST_CASE("version_text: one fact a line after the version") {
    BuildFacts f;
    f.version = "1.2.3";
    f.commit = "abc1234-dirty";
    f.build_type = "Release";
    f.is_static = true;
    f.libevent = "2.1.12-stable";
    f.libevent_headers = "2.1.12-stable";
    const std::string text = version_text(f);
    CHECK(text == "tcpretry 1.2.3\n"
                  "commit: abc1234-dirty\n"
                  "build type: Release\n"
                  "static: yes\n"
                  "libevent: 2.1.12-stable");

    f.is_static = false;
    f.libevent_headers = "2.1.11-stable";
    CHECK(lines_of(version_text(f)) ==
          std::vector<std::string>{"tcpretry 1.2.3", "commit: abc1234-dirty", "build type: Release",
                                   "static: no",
                                   "libevent: 2.1.12-stable (built with 2.1.11-stable headers)"});
}

TEST_CASE("build_facts of this test binary") {
    const BuildFacts f = build_facts();
    CHECK_FALSE(f.version.empty());
    CHECK(f.version.find('\n') == std::string::npos);
    CHECK_FALSE(f.commit.empty());
    CHECK_FALSE(f.build_type.empty());
    CHECK_FALSE(f.is_static); // the unit tests link dynamically
    CHECK_FALSE(f.libevent.empty());
    CHECK(f.libevent == f.libevent_headers); // Debian's headers and library are one package

    const auto lines = lines_of(version_text());
    REQUIRE(lines.size() == 5);
    CHECK(lines[0] == "tcpretry " + f.version);
    CHECK(lines[1].rfind("commit: ", 0) == 0);
    CHECK(lines[2].rfind("build type: ", 0) == 0);
    CHECK(lines[3] == "static: no");
    CHECK(lines[4].rfind("libevent: 2.", 0) == 0);
}
