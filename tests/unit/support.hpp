// Small helpers shared by the unit tests: an in-memory FILE* and argv building; loopback
// sockets, a recording sink and a way to drive the real Loop for the core's loop-side units.
#pragma once

#include "core/address.hpp"
#include "core/event.hpp"
#include "core/loop.hpp"
#include "core/target.hpp"

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <doctest/doctest.h>
#include <event2/event.h>
#include <filesystem>
#include <functional>
#include <netinet/in.h>
#include <stdexcept>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <unistd.h>
#include <variant>
#include <vector>

namespace tcpretry::test {

// A FILE* whose contents can be read back (open_memstream), for capturing an Output.
class MemoryFile {
  public:
    MemoryFile() : m_file(open_memstream(&m_buffer, &m_size)) {
        if (!m_file)
            throw std::runtime_error("open_memstream failed");
    }
    ~MemoryFile() {
        std::fclose(m_file);
        std::free(m_buffer);
    }
    MemoryFile(const MemoryFile&) = delete;
    MemoryFile& operator=(const MemoryFile&) = delete;

    std::FILE* file() const { return m_file; }

    // Forgets what was written so far (the stream goes on).
    void clear() {
        std::fflush(m_file);
        std::rewind(m_file);
        std::fflush(m_file);
        m_size = 0;
    }

    std::string text() {
        std::fflush(m_file);
        return m_buffer ? std::string(m_buffer, m_size) : std::string();
    }

    // The text split at '\n'; a final newline does not add an empty line.
    std::vector<std::string> lines() {
        std::vector<std::string> out;
        std::string all = text();
        std::string_view rest = all;
        while (!rest.empty()) {
            auto nl = rest.find('\n');
            out.emplace_back(rest.substr(0, nl));
            if (nl == std::string_view::npos)
                break;
            rest.remove_prefix(nl + 1);
        }
        return out;
    }

  private:
    char* m_buffer = nullptr;
    std::size_t m_size = 0;
    std::FILE* m_file;
};

// argv for parse_options: "tcpretry" followed by `args`.
class Argv {
  public:
    explicit Argv(std::vector<std::string> args) : m_args(std::move(args)) {
        m_args.insert(m_args.begin(), "tcpretry");
        for (const auto& a : m_args)
            m_ptrs.push_back(a.c_str());
        m_ptrs.push_back(nullptr);
    }
    int argc() const { return static_cast<int>(m_args.size()); }
    const char* const* argv() const { return m_ptrs.data(); }

  private:
    std::vector<std::string> m_args;
    std::vector<const char*> m_ptrs;
};

// A guard against a hang: the process dies loudly (SIGALRM) instead of stalling the suite.
struct Watchdog {
    explicit Watchdog(unsigned seconds) { alarm(seconds); }
    ~Watchdog() { alarm(0); }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;
};

inline std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}

inline core::SockAddr loopback_v4(uint16_t port = 0) {
    auto a = core::parse_numeric_address("127.0.0.1", port);
    REQUIRE(a);
    return *a;
}

inline uint16_t local_port_of(int fd) {
    core::SockAddr a;
    a.length = sizeof a.storage;
    REQUIRE(::getsockname(fd, a.get(), &a.length) == 0);
    return a.port();
}

// A TCP socket on 127.0.0.1 (port 0: any free one). Bound and not listening, it keeps a port
// closed: connects are refused and nobody else takes it meanwhile.
inline core::UniqueFd bound_v4_socket(uint16_t port = 0) {
    core::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(fd.get() >= 0);
    int one = 1;
    REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0);
    core::SockAddr a = loopback_v4(port);
    REQUIRE(::bind(fd.get(), a.get(), a.length) == 0);
    return fd;
}

inline core::UniqueFd listening_v4_socket(uint16_t port = 0, int backlog = 16) {
    core::UniqueFd fd = bound_v4_socket(port);
    REQUIRE(::listen(fd.get(), backlog) == 0);
    return fd;
}

// The target "127.0.0.1:PORT".
inline core::Target loopback_target(uint16_t port) {
    auto r = core::parse_target("127.0.0.1:" + std::to_string(port));
    REQUIRE(std::holds_alternative<core::Target>(r));
    return std::get<core::Target>(r);
}

// A blocking client connected to a listening socket on 127.0.0.1, and the server's end.
struct TcpPair {
    core::UniqueFd client;
    core::UniqueFd server;
};
inline TcpPair connected_v4_pair() {
    core::UniqueFd listener = listening_v4_socket();
    core::UniqueFd client(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(client.get() >= 0);
    core::SockAddr a = loopback_v4(local_port_of(listener.get()));
    REQUIRE(::connect(client.get(), a.get(), a.length) == 0);
    core::UniqueFd server(::accept4(listener.get(), nullptr, nullptr, SOCK_CLOEXEC));
    REQUIRE(server.get() >= 0);
    return {std::move(client), std::move(server)};
}

// Closes with SO_LINGER {1, 0}: the peer sees a reset (RST), not an EOF.
inline void reset_close(core::UniqueFd& fd) {
    linger l{1, 0};
    REQUIRE(::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &l, sizeof l) == 0);
    fd.reset();
}

// Records what a core unit reports, with the time it heard it.
class RecordingSink : public core::EventSink {
  public:
    struct Recorded {
        core::Event event;
        core::TimePoint at;
    };
    void on_event(const core::Event& e) override {
        m_events.push_back({e, core::Clock::now()});
        if (hook)
            hook(e);
    }
    const std::vector<Recorded>& recorded() const { return m_events; }
    std::vector<core::EventType> types() const {
        std::vector<core::EventType> out;
        for (const auto& r : m_events)
            out.push_back(r.event.type);
        return out;
    }
    std::size_t count(core::EventType type) const {
        std::size_t n = 0;
        for (const auto& r : m_events)
            n += r.event.type == type;
        return n;
    }
    // The events of one type, in order.
    std::vector<core::Event> of(core::EventType type) const {
        std::vector<core::Event> out;
        for (const auto& r : m_events)
            if (r.event.type == type)
                out.push_back(r.event);
        return out;
    }
    const core::Event& operator[](std::size_t i) const { return m_events.at(i).event; }
    std::size_t size() const { return m_events.size(); }
    void clear() { m_events.clear(); }

    std::function<void(const core::Event&)> hook;

  private:
    std::vector<Recorded> m_events;
};

// Turns the loop until `done()` holds (true) or `limit` passes (false). Wakes at least every
// 10 ms to look, so `done` may watch anything (a socket the test reads, a counter).
inline bool run_until(core::Loop& loop, const std::function<bool()>& done,
                      core::Duration limit = std::chrono::seconds(5)) {
    const core::TimePoint deadline = core::Clock::now() + limit;
    core::Timer tick(loop, [] {});
    while (!done()) {
        if (core::Clock::now() >= deadline)
            return false;
        REQUIRE(tick.start(std::chrono::milliseconds(10)));
        event_base_loop(loop.base(), EVLOOP_ONCE);
    }
    return true;
}

// Turns the loop for `span`, whatever happens meanwhile.
inline void run_for(core::Loop& loop, core::Duration span) {
    run_until(
        loop, [] { return false; }, span);
}

} // namespace tcpretry::test
