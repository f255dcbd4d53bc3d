#include "core/resolver.hpp"

#include "core/hosts.hpp"

#include <arpa/inet.h>
#include <cstring>
#include <event2/dns.h>
#include <event2/util.h>
#include <fstream>
#include <netinet/in.h>
#include <sstream>

namespace tcpretry::core {

struct Resolver::Query {
    Resolver* owner;
    RequestId id;
    Family family;
    uint16_t port;
    Callback callback; // empty once cancelled
    evdns_request* request = nullptr;
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
        // A missing resolv.conf leaves evdns asking 127.0.0.1, as the C library does.
        evdns_base_resolv_conf_parse(m_dns.get(), DNS_OPTIONS_ALL & ~DNS_OPTION_HOSTSFILE,
                                     "/etc/resolv.conf");
    }
    return m_dns.get();
}

Resolver::~Resolver() = default;

std::vector<SockAddr> Resolver::from_hosts(const std::string& name, Family family) const {
    std::ifstream in(m_hosts_path);
    if (!in)
        return {};
    std::ostringstream text;
    text << in.rdbuf();
    return hosts_lookup(text.str(), name, family);
}

Resolver::RequestId Resolver::resolve(const std::string& name, Family family, uint16_t port,
                                      Callback cb) {
    evdns_base* base = dns();
    if (!base)
        return 0;
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
    return id;
}

void Resolver::cancel(RequestId id) {
    auto it = m_queries.find(id);
    if (it == m_queries.end() || !it->second->callback)
        return;
    it->second->callback = nullptr;
    evdns_cancel_request(m_dns.get(), it->second->request);
}

void Resolver::on_reply(int result, char type, int count, int, void* addresses, void* arg) {
    auto* q = static_cast<Query*>(arg);
    Resolver* self = q->owner;
    auto node = self->m_queries.extract(q->id);
    if (!q->callback)
        return; // cancelled: the node frees the query

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

} // namespace tcpretry::core
