// Socket addresses: a value type for IPv4 and IPv6 socket addresses and their printable form,
// and the small marker a Unix domain socket target's round uses (its path stays in the Target).
#pragma once

#include <cstdint>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <string_view>
#include <sys/socket.h>
#include <sys/un.h>

namespace tcpretry::core {

// unix_socket: only in an Endpoint (an event's address); a SockAddr is IPv4 or IPv6.
enum class Family { ipv4, ipv6, unix_socket };

std::string_view family_name(Family f);

struct SockAddr {
    // Room for IPv4 and IPv6, not sockaddr_storage's 128 bytes: every target holds one, and
    // the 10,000-target memory budget feels it. The largest member first, so {} zeroes it.
    union Storage {
        sockaddr_in6 in6;
        sockaddr_in in4;
        sockaddr sa;
        sa_family_t ss_family;
    } storage{};
    socklen_t length = 0;

    // IPv4 or IPv6 (a Unix marker sorts with IPv4: it is the round's only address).
    Family family() const { return storage.ss_family == AF_INET6 ? Family::ipv6 : Family::ipv4; }
    // The marker of a Unix domain socket: AF_UNIX, no path (the Target holds it: a sockaddr_un
    // is 110 bytes, and every target holds a SockAddr).
    static SockAddr unix_marker();
    bool is_unix() const { return storage.ss_family == AF_UNIX; }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
    sockaddr* get() { return reinterpret_cast<sockaddr*>(&storage); }
    uint16_t port() const;
    void set_port(uint16_t port);
    // The address alone, "10.0.0.5" or "fe80::1%eth0".
    std::string host() const;
    bool operator==(const SockAddr& other) const;
};

// A numeric IPv4 or IPv6 address (an IPv6 one may carry "%zone"), or nothing.
std::optional<SockAddr> parse_numeric_address(const std::string& text, uint16_t port);

// How a peer or local endpoint appears in events. A Unix socket: address = its path ("@name"
// for an abstract one), port 0, family unix_socket.
struct Endpoint {
    std::string address;
    uint16_t port = 0;
    Family family = Family::ipv4;
};

// The longest Unix socket path a sockaddr_un holds: 107 bytes and its NUL. An abstract name
// ("@name") counts its '@' (the kernel's leading NUL byte).
inline constexpr std::size_t k_max_unix_path = 107;

// Why `path` cannot name a Unix socket ("is empty", "is longer than 107 bytes", "has an
// empty abstract name"), or nothing. A leading '@' names an abstract socket.
std::optional<std::string> unix_path_problem(std::string_view path);

// The sockaddr_un of a valid path (unix_path_problem() said nothing), and its length for
// connect() (an abstract name's length counts exactly its bytes, no NUL after).
struct UnixAddress {
    sockaddr_un addr{};
    socklen_t length = 0;
};
UnixAddress make_unix_address(std::string_view path);

Endpoint to_endpoint(const SockAddr& addr);

// A socket's own address (getsockname) and its peer's (getpeername); nullopt, with errno
// set, when the kernel cannot say (the peer: not connected).
std::optional<SockAddr> local_address(int fd);
std::optional<SockAddr> peer_address(int fd);

} // namespace tcpretry::core
