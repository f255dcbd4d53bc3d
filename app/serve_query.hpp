// --serve: the pure parts of a /probe request. The query string (?target=HOST:PORT&module=...)
// and who may be probed (--serve-allow: CIDRs and host names), so that an exporter reachable by
// many is not an open proxy for port scans.
#pragma once

#include "core/address.hpp"
#include "core/target.hpp"

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tcpretry::app {

// Longest query string we look at; a longer one is a bad request.
inline constexpr std::size_t k_max_probe_query = 4096;

struct ProbeQuery {
    core::Target target;
    std::optional<std::string> module; // accepted and ignored (a warning metric says so)
};

struct QueryError {
    std::string message; // one line for the 400 answer
};

// application/x-www-form-urlencoded: %XX escapes and '+' for space. Nothing on a bad escape.
std::optional<std::string> percent_decode(std::string_view text);

// The query part of a /probe URL (after '?'): exactly one non-empty `target`, validated like a
// command-line target; at most one `module`; other parameters are ignored, as blackbox_exporter
// ignores them (debug=true...).
std::variant<ProbeQuery, QueryError> parse_probe_query(std::string_view query);

// --serve-allow's text (repeats joined by newlines): entries split at commas and white space.
std::vector<std::string> split_allow_list(std::string_view text);

// An IPv4 or IPv6 network: "10.0.0.0/8", "::1/128"; a bare address is a network of one.
struct Cidr {
    core::Family family = core::Family::ipv4;
    std::array<uint8_t, 16> bytes{}; // network address, host bits zero
    int prefix = 0;
    bool contains(const core::SockAddr& addr) const;
};

std::optional<Cidr> parse_cidr(std::string_view text);

// --serve-allow entries: CIDRs, host names ("db.example"), and name suffixes ("*.example",
// which matches "a.example" and "b.a.example" but not "example").
class AllowList {
  public:
    // One entry; an error message naming it when it is neither a CIDR nor a host name.
    std::optional<std::string> add(std::string_view entry);
    // Targets given on the command line or in --targets-file: allowed by their exact text and,
    // like a listed name, by host and port.
    void add_target(const core::Target& target);
    bool empty() const { return m_cidrs.empty() && m_names.empty() && m_targets.empty(); }

    // Whether `target` may be probed before it is resolved: an IP literal inside a CIDR, a name
    // on the list, or one of the given targets.
    bool allows_target(const core::Target& target) const;
    // Whether a name's resolved address may be connected to: inside a listed CIDR. (A name
    // allowed by name may connect to whatever it resolves to.)
    bool allows_address(const core::SockAddr& addr) const;
    bool has_cidrs() const { return !m_cidrs.empty(); }

  private:
    std::vector<Cidr> m_cidrs;
    std::vector<std::string> m_names;    // lower case; "*.example" kept with its star
    std::vector<core::Target> m_targets; // host lower case
};

} // namespace tcpretry::app
