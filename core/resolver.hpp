// Asynchronous name resolution: /etc/hosts and localhost names (RFC 6761) first, then DNS
// through evdns, one family per query (so Happy Eyeballs can start on whichever family
// answers first).
//
// evdns sends from unconnected UDP sockets, and Linux tells an unconnected socket nothing of
// an ICMP port unreachable: a query to a server where nothing listens on the port would wait
// for the round's timer. So while queries are outstanding, each nameserver has a probe: a
// connected UDP socket that sends one empty datagram (no DNS message: servers drop it
// unread). The kernel reports the ICMP error on it (ECONNREFUSED, EHOSTUNREACH...); once
// every nameserver has refused or is unreachable, the outstanding queries fail at once.
// Silence for a second, or the queries ending, closes the probe: evdns decides, as before.
#pragma once

#include "core/address.hpp"
#include "core/errors.hpp"
#include "core/hosts.hpp"
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

// A failure because the DNS server `server` ("127.0.0.1:53") refused or is unreachable:
// errno `err` from the probe's socket (EAI_AGAIN, as the C library says it).
ResolveResult server_unreachable_failure(const std::string& server, int err);

// Whether a probe's errno says the server cannot be asked (refused, unreachable).
bool is_server_unreachable(int err);

// The failure of every DNS query when there is no resolver configuration to read: no
// --resolver, and `path` ("/etc/resolv.conf") could not be opened with errno `err`. (The C
// library and evdns would ask 127.0.0.1 then; in a scratch image that is never what was
// meant, so tcpretry says what is missing instead.)
ResolveResult no_resolv_conf_failure(const std::string& path, int err);

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

    // What `name` is without DNS (local_answer over the hosts file, read again whenever it
    // changed so edits are followed), every family, port 0; nullopt when DNS must be asked.
    std::optional<std::vector<SockAddr>> local_lookup(const std::string& name) const;

    // Ask DNS; the callback runs later from the loop, never from inside this call, and
    // never after cancel(). Returns 0 if the query could not even be started. Without a
    // nameserver and without a readable resolv.conf, every query fails
    // (no_resolv_conf_failure), also from the loop.
    RequestId resolve(const std::string& name, Family family, uint16_t port, Callback cb);
    void cancel(RequestId id);

  private:
    struct Query;
    struct Probe;
    static void on_reply(int result, char type, int count, int ttl, void* addresses, void* arg);
    static void on_probe(evutil_socket_t fd, short what, void* arg);
    evdns_base* dns();
    RequestId fail_later(ResolveResult failure, Callback cb);
    void start_probes();
    void start_probe(Probe& p);
    void probe_done(Probe& p, short what);
    void close_probes();
    void fail_outstanding();
    void query_settled(); // one fewer outstanding query

    Loop& m_loop;
    std::optional<std::string> m_nameserver;
    std::unique_ptr<evdns_base, void (*)(evdns_base*)> m_dns;
    mutable HostsFile m_hosts{"/etc/hosts"};
    std::string m_resolv_conf_path = "/etc/resolv.conf";
    std::optional<ResolveResult> m_unconfigured; // why no query can be asked, once known
    RequestId m_next_id = 1;
    // Every query lives here until evdns has called back, even after a cancel: evdns still
    // delivers a cancelled query's callback (DNS_ERR_CANCEL), later, from the loop.
    std::map<RequestId, std::unique_ptr<Query>> m_queries;
    std::size_t m_outstanding = 0;                // queries whose callback is still to run
    std::vector<std::unique_ptr<Probe>> m_probes; // one per nameserver of the evdns base
};

} // namespace tcpretry::core
