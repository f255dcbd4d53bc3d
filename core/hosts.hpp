// /etc/hosts lookups and RFC 6761's localhost names: what the resolver answers before, and
// instead of, asking DNS.
#pragma once

#include "core/address.hpp"

#include <optional>
#include <string_view>
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

} // namespace tcpretry::core
