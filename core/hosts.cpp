#include "core/hosts.hpp"

#include "core/table_text.hpp"

#include <algorithm>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/stat.h>

namespace tcpretry::core {

std::vector<SockAddr> hosts_lookup(std::string_view text, std::string_view name, Family family) {
    std::vector<SockAddr> found;
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    TableText table(text);
    while (table.next_line()) {
        // Fields: ADDRESS, then the names.
        auto address = table.next_field();
        bool match = false;
        while (auto alias = table.next_field())
            match = match || iequal_ascii(*alias, name);
        if (!address || !match)
            continue;
        auto addr = parse_numeric_address(std::string(*address), 0);
        if (addr && addr->family() == family &&
            std::find(found.begin(), found.end(), *addr) == found.end())
            found.push_back(*addr);
    }
    return found;
}

bool is_localhost_name(std::string_view name) {
    if (!name.empty() && name.back() == '.')
        name.remove_suffix(1);
    constexpr std::string_view k_localhost = "localhost";
    if (name.size() < k_localhost.size())
        return false;
    std::string_view tail = name.substr(name.size() - k_localhost.size());
    if (!iequal_ascii(tail, k_localhost))
        return false;
    if (name.size() == k_localhost.size())
        return true;
    // "app.localhost", but not "mylocalhost" or ".localhost".
    return name.size() > k_localhost.size() + 1 &&
           name[name.size() - k_localhost.size() - 1] == '.';
}

SockAddr loopback_address(Family family) {
    SockAddr a;
    if (family == Family::ipv6) {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&a.storage);
        in6->sin6_family = AF_INET6;
        in6->sin6_addr = in6addr_loopback;
        a.length = sizeof(sockaddr_in6);
    } else {
        auto* in4 = reinterpret_cast<sockaddr_in*>(&a.storage);
        in4->sin_family = AF_INET;
        in4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.length = sizeof(sockaddr_in);
    }
    return a;
}

std::optional<std::vector<SockAddr>> local_answer(std::string_view hosts_text,
                                                  std::string_view name) {
    const bool localhost = is_localhost_name(name);
    std::vector<SockAddr> found;
    for (Family f : {Family::ipv6, Family::ipv4}) {
        std::vector<SockAddr> listed = hosts_lookup(hosts_text, name, f);
        if (listed.empty() && localhost)
            listed.push_back(loopback_address(f));
        found.insert(found.end(), listed.begin(), listed.end());
    }
    if (found.empty())
        return std::nullopt;
    return found;
}

namespace {

bool same_file(const struct stat& a, const struct stat& b) {
    return a.st_dev == b.st_dev && a.st_ino == b.st_ino && a.st_size == b.st_size &&
           a.st_mtim.tv_sec == b.st_mtim.tv_sec && a.st_mtim.tv_nsec == b.st_mtim.tv_nsec &&
           a.st_ctim.tv_sec == b.st_ctim.tv_sec && a.st_ctim.tv_nsec == b.st_ctim.tv_nsec;
}

} // namespace

const std::string& HostsFile::text() {
    struct stat now {};
    if (::stat(m_path.c_str(), &now) != 0) {
        m_text.clear();
        m_seen.reset();
        return m_text;
    }
    if (m_seen && same_file(*m_seen, now))
        return m_text;
    m_text.clear();
    if (std::ifstream in(m_path); in) {
        std::ostringstream all;
        all << in.rdbuf();
        m_text = all.str();
    }
    m_seen = now;
    return m_text;
}

} // namespace tcpretry::core
