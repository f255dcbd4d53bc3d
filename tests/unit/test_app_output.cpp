// Output: one flushed line per write; a reader that went away marks it broken, quietly.
#include "app/output.hpp"

#include "support.hpp"

#include <csignal>
#include <cstdio>
#include <doctest/doctest.h>
#include <fcntl.h>
#include <string>
#include <unistd.h>

using namespace tcpretry::app;
using tcpretry::test::MemoryFile;

TEST_CASE("Output writes whole lines and flushes each") {
    MemoryFile file;
    Output out(file.file());
    out.write_line("first");
    CHECK(file.text() == "first\n");
    out.write_line("");
    out.write_line(std::string("with\0nul", 8));
    CHECK(file.text() == std::string("first\n\nwith\0nul\n", 16));
    CHECK_FALSE(out.broken());
    CHECK_FALSE(out.is_terminal());
    CHECK(out.file() == file.file());
}

TEST_CASE("Output to a pipe whose reader has gone is broken, without a signal") {
    // The program ignores SIGPIPE; do the same here for the duration of the test.
    auto previous = std::signal(SIGPIPE, SIG_IGN);
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    ::close(fds[0]);
    std::FILE* f = ::fdopen(fds[1], "w");
    REQUIRE(f != nullptr);
    {
        Output out(f);
        out.write_line("nobody reads this");
        CHECK(out.broken());
        out.write_line("nor this"); // a no-op, not a crash
        CHECK(out.broken());
    }
    std::fclose(f);
    std::signal(SIGPIPE, previous);
}
