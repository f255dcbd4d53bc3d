// Asynchronous name resolution: /etc/hosts first, then DNS through evdns, one family per
// query (so Happy Eyeballs can start on whichever family answers first).
#pragma once

#include "core/address.hpp"
#include "core/errors.hpp"
#include "core/loop.hpp"

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

struct evdns_base;
struct evdns_request;

namespace tcpretry::core {

struct ResolveResult {
    std::vector<SockAddr> addresses; // empty on failure
    ErrorCode code;                  // EAI_* when it failed
    std::string message;             // the resolver's reason, in words
    bool no_data = false;            // the name exists but has no address of this family
};

// The resolver's DNS_ERR_* code as an EAI_* code and words ("name does not exist (NXDOMAIN)").
ResolveResult resolve_failure(int dns_err);

class Resolver {
  public:
    using Callback = std::function<void(ResolveResult)>;
    using RequestId = uint64_t;

    // nameserver: "ADDR[:PORT]" to ask instead of /etc/resolv.conf's servers. Nothing is
    // set up until the first DNS query: numeric targets never pay for it.
    Resolver(Loop& loop, std::optional<std::string> nameserver);
    ~Resolver();
    Resolver(const Resolver&) = delete;
    Resolver& operator=(const Resolver&) = delete;

    // Addresses for `name` from the hosts file (re-read each time, so edits are followed).
    std::vector<SockAddr> from_hosts(const std::string& name, Family family) const;

    // Ask DNS; the callback runs later from the loop, never from inside this call, and
    // never after cancel(). Returns 0 if the query could not even be started.
    RequestId resolve(const std::string& name, Family family, uint16_t port, Callback cb);
    void cancel(RequestId id);

  private:
    struct Query;
    static void on_reply(int result, char type, int count, int ttl, void* addresses, void* arg);
    evdns_base* dns();

    Loop& m_loop;
    std::optional<std::string> m_nameserver;
    std::unique_ptr<evdns_base, void (*)(evdns_base*)> m_dns;
    std::string m_hosts_path = "/etc/hosts";
    RequestId m_next_id = 1;
    // Every query lives here until evdns has called back, even after a cancel: evdns still
    // delivers a cancelled query's callback (DNS_ERR_CANCEL), later, from the loop.
    std::map<RequestId, std::unique_ptr<Query>> m_queries;
};

} // namespace tcpretry::core
