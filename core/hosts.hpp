// /etc/hosts lookups and RFC 6761's localhost names: what the resolver answers before, and
// instead of, asking DNS.
#pragma once

#include "core/address.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <vector>

namespace tcpretry::core {

// Addresses of one family listed for `name` (case-insensitive) in hosts-file text.
std::vector<SockAddr> hosts_lookup(std::string_view hosts_text, std::string_view name,
                                   Family family);

// RFC 6761: "localhost" and every name under ".localhost" (any case, a trailing dot or not).
bool is_localhost_name(std::string_view name);

// The loopback address of a family, port 0: 127.0.0.1 or ::1.
SockAddr loopback_address(Family family);

// What `name` is without DNS, every family (port 0), or nullopt when DNS must be asked.
// A name the hosts text lists is answered from it alone, also for a family it does not list
// (none of that family). A localhost name never goes to DNS: the hosts text's addresses for
// the families it lists, and the loopback address for each family it does not list.
std::optional<std::vector<SockAddr>> local_answer(std::string_view hosts_text,
                                                  std::string_view name);

// A hosts file's text, read again only when the file changed (a stat() per lookup instead of
// reading it each round: a fleet of named targets looks names up every round). A missing or
// unreadable file reads as empty: DNS only.
class HostsFile {
  public:
    explicit HostsFile(std::string path) : m_path(std::move(path)) {}
    // The text now: the same as last time unless the file's identity, size, modification or
    // change time differs.
    const std::string& text();

  private:
    std::string m_path;
    std::string m_text;
    std::optional<struct stat> m_seen; // what the text was read from; none: not read yet
};

} // namespace tcpretry::core
