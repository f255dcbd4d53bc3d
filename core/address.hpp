// Socket addresses: a value type for IPv4 and IPv6 socket addresses and their printable form.
#pragma once

#include <cstdint>
#include <netinet/in.h>
#include <optional>
#include <string>
#include <sys/socket.h>

namespace tcpretry::core {

enum class Family { ipv4, ipv6 };

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

    Family family() const { return storage.ss_family == AF_INET6 ? Family::ipv6 : Family::ipv4; }
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

// How a peer or local endpoint appears in events.
struct Endpoint {
    std::string address;
    uint16_t port = 0;
    Family family = Family::ipv4;
};

Endpoint to_endpoint(const SockAddr& addr);

// A socket's own address (getsockname) and its peer's (getpeername); nullopt, with errno
// set, when the kernel cannot say (the peer: not connected).
std::optional<SockAddr> local_address(int fd);
std::optional<SockAddr> peer_address(int fd);

} // namespace tcpretry::core
