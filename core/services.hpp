// TCP service names ("ssh", "postgresql"), read by tcpretry itself: from /etc/services, or
// from a built-in table when that file is missing (a scratch image has no /etc). No NSS: the
// static binary must not need the C library's getservbyname, which loads modules at run time.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tcpretry::core {

// The TCP port services(5) text gives `name` (its official name or an alias, any case), or
// nullopt. Lines other than "NAME PORT/tcp [ALIAS...] [# comment]" are skipped: other
// protocols, malformed lines, ports outside 1-65535. The first matching line wins.
std::optional<uint16_t> services_lookup(std::string_view services_text, std::string_view name);

// The built-in table: the common TCP services with Debian 12's names and aliases (the same as
// packaging/services, the scratch image's /etc/services).
std::optional<uint16_t> builtin_service(std::string_view name);

// The port of a TCP service: /etc/services (read once per process) when it is there and lists
// the name, else the built-in table.
std::optional<uint16_t> service_port(std::string_view name);

} // namespace tcpretry::core
