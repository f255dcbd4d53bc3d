// /etc/hosts lookups: the resolver consults them before asking DNS (as "files dns").
#pragma once

#include "core/address.hpp"

#include <string_view>
#include <vector>

namespace tcpretry::core {

// Addresses of one family listed for `name` (case-insensitive) in hosts-file text.
std::vector<SockAddr> hosts_lookup(std::string_view hosts_text, std::string_view name,
                                   Family family);

} // namespace tcpretry::core
