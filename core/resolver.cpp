#include "core/resolver.hpp"

#include "core/hosts.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstring>
#include <event2/dns.h>
#include <event2/util.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>

namespace tcpretry::core {

namespace {

// How long a probe waits for the ICMP error: it comes back within a round trip; without one
// the server is taken as there (evdns's answer or timeout decides).
constexpr timeval k_probe_wait{1, 0};

std::string server_text(const SockAddr& a) {
    std::string host = a.host();
    if (a.family() == Family::ipv6)
        host = "[" + host + "]";
    return host + ":" + std::to_string(a.port());
}

} // namespace

struct Resolver::Query {
    Resolver* owner;
    RequestId id;
    Family family;
    uint16_t port;
    Callback callback; // empty once cancelled
    evdns_request* request = nullptr;
    Deferred failure{}; // a query that fails without asking (m_unconfigured): its callback
};

struct Resolver::Probe {
    Resolver* owner;
    SockAddr server;
    UniqueFd fd;     // open while the probe waits for a verdict
    EventPtr watch;  // EV_READ on fd, with k_probe_wait as its timeout
    int pending = 0; // an errno from connect()/send(), delivered from the loop
    int refused = 0; // the last verdict: the errno that says the server cannot be asked
};

ResolveResult resolve_failure(int dns_err) {
    ResolveResult r;
    switch (dns_err) {
    case DNS_ERR_NOTEXIST:
        r.code = ErrorCode::resolver(EVUTIL_EAI_NONAME);
        r.message = "name does not exist (NXDOMAIN)";
        break;
    case DNS_ERR_NODATA:
        r.code = ErrorCode::resolver(EVUTIL_EAI_NODATA);
        r.message = "name has no address";
        r.no_data = true;
        break;
    case DNS_ERR_SERVERFAILED:
        r.code = ErrorCode::resolver(EVUTIL_EAI_AGAIN);
        r.message = "DNS server failure (SERVFAIL)";
        break;
    case DNS_ERR_TIMEOUT:
        r.code = ErrorCode::resolver(EVUTIL_EAI_AGAIN);
        r.message = "DNS server did not answer";
        break;
    case DNS_ERR_REFUSED:
        r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
        r.message = "DNS server refused the query (REFUSED)";
        break;
    case DNS_ERR_FORMAT:
        r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
        r.message = "DNS server rejected the query as malformed (FORMERR)";
        break;
    case DNS_ERR_TRUNCATED:
        r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
        r.message = "DNS reply truncated";
        break;
    default:
        r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
        r.message = std::string("DNS error: ") + evdns_err_to_string(dns_err);
        break;
    }
    return r;
}

ResolveResult server_unreachable_failure(const std::string& server, int err) {
    ResolveResult r;
    r.code = ErrorCode::resolver(EVUTIL_EAI_AGAIN);
    std::string name(error_code_name(ErrorCode::sys(err)));
    r.message =
        err == ECONNREFUSED
            ? "DNS server " + server + " refused (" + name + "): nothing listens on its port"
            : "DNS server " + server + " is unreachable (" + name + "): " + errno_message(err);
    return r;
}

bool is_server_unreachable(int err) {
    switch (err) {
    case ECONNREFUSED:
    case EHOSTUNREACH:
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENETDOWN:
        return true;
    default:
        return false;
    }
}

ResolveResult no_resolv_conf_failure(const std::string& path, int err) {
    ResolveResult r;
    r.code = ErrorCode::resolver(EVUTIL_EAI_FAIL);
    std::string why = err == ENOENT ? "is missing"
                      : err != 0    ? "cannot be read (" + errno_message(err) + ")"
                                    : "cannot be read";
    r.message = "no DNS server to ask: " + path + " " + why + " (name one with --resolver)";
    return r;
}

namespace {
void free_dns(evdns_base* dns) {
    // Pending requests are dropped without callbacks; Query objects are freed by the map.
    evdns_base_free(dns, 0);
}
} // namespace

Resolver::Resolver(Loop& loop, std::optional<std::string> nameserver)
    : m_loop(loop), m_nameserver(std::move(nameserver)), m_dns(nullptr, free_dns) {}

evdns_base* Resolver::dns() {
    if (m_dns)
        return m_dns.get();
    // DISABLE_WHEN_INACTIVE alone: combined with INITIALIZE_NAMESERVERS, libevent 2.1.12
    // leaves an event inserted and the loop never exits on its own (libevent #1488).
    m_dns.reset(evdns_base_new(m_loop.base(), EVDNS_BASE_DISABLE_WHEN_INACTIVE));
    if (!m_dns)
        return nullptr;
    if (m_nameserver) {
        if (evdns_base_nameserver_ip_add(m_dns.get(), m_nameserver->c_str()) != 0) {
            m_dns.reset();
            return nullptr;
        }
    } else {
        // Search domains, ndots and timeouts from resolv.conf; hosts are ours (from_hosts).
        // evdns (like the C library) would ask 127.0.0.1 when the file cannot be opened
        // (its result 1); a file without nameserver lines still means 127.0.0.1.
        errno = 0;
        int rc = evdns_base_resolv_conf_parse(m_dns.get(), DNS_OPTIONS_ALL & ~DNS_OPTION_HOSTSFILE,
                                              m_resolv_conf_path.c_str());
        if (rc == 1) {
            m_unconfigured = no_resolv_conf_failure(m_resolv_conf_path, errno);
            return m_dns.get();
        }
    }
    for (int i = 0, n = evdns_base_count_nameservers(m_dns.get()); i < n; ++i) {
        auto p = std::make_unique<Probe>(Probe{this, {}, {}, nullptr});
        int len = evdns_base_get_nameserver_addr(m_dns.get(), i, p->server.get(),
                                                 sizeof p->server.storage);
        if (len <= 0 || len > static_cast<int>(sizeof p->server.storage))
            continue;
        p->server.length = static_cast<socklen_t>(len);
        m_probes.push_back(std::move(p));
    }
    return m_dns.get();
}

Resolver::~Resolver() = default;

std::optional<std::vector<SockAddr>> Resolver::local_lookup(const std::string& name) const {
    return local_answer(m_hosts.text(), name);
}

Resolver::RequestId Resolver::resolve(const std::string& name, Family family, uint16_t port,
                                      Callback cb) {
    evdns_base* base = dns();
    if (!base)
        return 0;
    if (m_unconfigured)
        return fail_later(*m_unconfigured, std::move(cb));
    RequestId id = m_next_id++;
    auto query = std::make_unique<Query>(Query{this, id, family, port, std::move(cb)});
    Query* q = query.get();
    m_queries.emplace(id, std::move(query));
    q->request = family == Family::ipv4
                     ? evdns_base_resolve_ipv4(base, name.c_str(), 0, &on_reply, q)
                     : evdns_base_resolve_ipv6(base, name.c_str(), 0, &on_reply, q);
    if (!q->request) {
        m_queries.erase(id);
        return 0;
    }
    ++m_outstanding;
    start_probes();
    return id;
}

// A query that fails without asking: its callback runs from the loop, as an answer would.
Resolver::RequestId Resolver::fail_later(ResolveResult failure, Callback cb) {
    RequestId id = m_next_id++;
    auto query = std::make_unique<Query>(Query{this, id, Family::ipv4, 0, std::move(cb)});
    query->failure = m_loop.defer([this, id, failure = std::move(failure)] {
        auto node = m_queries.extract(id);
        Callback done = std::move(node.mapped()->callback);
        done(failure);
    });
    m_queries.emplace(id, std::move(query));
    return id;
}

void Resolver::cancel(RequestId id) {
    auto it = m_queries.find(id);
    if (it == m_queries.end() || !it->second->callback)
        return;
    if (!it->second->request) {
        m_queries.erase(it); // a fail_later query: its deferred call goes with it
        return;
    }
    it->second->callback = nullptr;
    evdns_cancel_request(m_dns.get(), it->second->request);
    query_settled();
}

void Resolver::query_settled() {
    if (--m_outstanding == 0)
        close_probes(); // nobody waits for a verdict; and the loop may end
}

void Resolver::on_reply(int result, char type, int count, int, void* addresses, void* arg) {
    auto* q = static_cast<Query*>(arg);
    Resolver* self = q->owner;
    auto node = self->m_queries.extract(q->id);
    if (!q->callback)
        return; // cancelled: the node frees the query
    self->query_settled();

    ResolveResult r;
    if (result != DNS_ERR_NONE) {
        r = resolve_failure(result);
    } else {
        for (int i = 0; i < count; ++i) {
            SockAddr a;
            if (type == DNS_IPv4_A) {
                auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
                in4->sin_family = AF_INET;
                std::memcpy(&in4->sin_addr, static_cast<const char*>(addresses) + 4 * i, 4);
                a.length = sizeof(sockaddr_in);
            } else if (type == DNS_IPv6_AAAA) {
                auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
                in6->sin6_family = AF_INET6;
                std::memcpy(&in6->sin6_addr, static_cast<const char*>(addresses) + 16 * i, 16);
                a.length = sizeof(sockaddr_in6);
            } else {
                continue;
            }
            a.set_port(q->port);
            r.addresses.push_back(a);
        }
        if (r.addresses.empty())
            r = resolve_failure(DNS_ERR_NODATA);
    }
    Callback cb = std::move(q->callback);
    cb(std::move(r));
}

void Resolver::start_probes() {
    for (auto& p : m_probes)
        if (!p->fd)
            start_probe(*p);
}

// One probe: socket, connect, send an empty datagram, then wait for a verdict.
void Resolver::start_probe(Probe& p) {
    p.refused = 0;
    p.pending = 0;
    p.fd = UniqueFd(
        ::socket(p.server.storage.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!p.fd)
        return; // no descriptor: no probe; evdns still answers or times out
    p.watch.reset(event_new(m_loop.base(), p.fd.get(), EV_READ, &on_probe, &p));
    if (!p.watch) {
        p.fd.reset();
        return;
    }
    if (::connect(p.fd.get(), p.server.get(), p.server.length) != 0 ||
        ::send(p.fd.get(), "", 0, MSG_NOSIGNAL) < 0) {
        // Reported from the loop: a query's callback never runs inside resolve().
        p.pending = errno;
        event_active(p.watch.get(), EV_READ, 0);
        return;
    }
    if (event_add(p.watch.get(), &k_probe_wait) != 0) {
        p.watch.reset();
        p.fd.reset();
    }
}

void Resolver::on_probe(evutil_socket_t, short what, void* arg) {
    auto* p = static_cast<Probe*>(arg);
    p->owner->probe_done(*p, what);
}

void Resolver::probe_done(Probe& p, short what) {
    int err = p.pending;
    if (err == 0 && (what & EV_READ)) {
        // The ICMP error the kernel queued, or (unlikely) a datagram: discarded.
        unsigned char reply[512];
        if (::recv(p.fd.get(), reply, sizeof reply, 0) < 0)
            err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR) {
            event_add(p.watch.get(), &k_probe_wait);
            return;
        }
    }
    p.watch.reset();
    p.fd.reset();
    p.pending = 0;
    if (!is_server_unreachable(err))
        return; // silent, or an error that says nothing of the server
    p.refused = err;
    for (const auto& other : m_probes)
        if (other->refused == 0)
            return; // another server may still answer
    fail_outstanding();
}

void Resolver::close_probes() {
    for (auto& p : m_probes) {
        p->watch.reset();
        p->fd.reset();
        p->pending = 0;
    }
}

// Every nameserver refused: each outstanding query fails now, with the first server's reason.
void Resolver::fail_outstanding() {
    const Probe& first = *m_probes.front();
    std::string server = server_text(first.server);
    if (m_probes.size() > 1)
        server += " (and " + std::to_string(m_probes.size() - 1) + " more)";
    ResolveResult failure = server_unreachable_failure(server, first.refused);

    std::vector<RequestId> ids;
    for (const auto& [id, q] : m_queries)
        if (q->callback)
            ids.push_back(id);
    for (RequestId id : ids) {
        // A callback may cancel other queries, or start new ones (which get a new probe).
        auto it = m_queries.find(id);
        if (it == m_queries.end() || !it->second->callback)
            continue;
        Callback cb = std::move(it->second->callback);
        it->second->callback = nullptr;
        evdns_cancel_request(m_dns.get(), it->second->request); // its DNS_ERR_CANCEL is ignored
        query_settled();
        cb(failure);
    }
}

} // namespace tcpretry::core
