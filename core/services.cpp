#include "core/services.hpp"

#include "core/table_text.hpp"

#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <string>

namespace tcpretry::core {

namespace {

// "PORT/PROTO" with PORT 1-65535 and PROTO tcp: the port, else nullopt.
std::optional<uint16_t> tcp_port(std::string_view field) {
    auto slash = field.find('/');
    if (slash == std::string_view::npos || !iequal_ascii(field.substr(slash + 1), "tcp"))
        return std::nullopt;
    std::string_view digits = field.substr(0, slash);
    if (digits.empty() || digits.size() > 5)
        return std::nullopt;
    unsigned n = 0;
    for (char c : digits) {
        if (c < '0' || c > '9')
            return std::nullopt;
        n = n * 10 + static_cast<unsigned>(c - '0');
    }
    if (n == 0 || n > 65535)
        return std::nullopt;
    return static_cast<uint16_t>(n);
}

// Debian 12's netbase names (and aliases) for the services people wait for.
struct Service {
    std::string_view name;
    uint16_t port;
};
constexpr std::array k_builtin{
    Service{"ftp", 21},           Service{"ssh", 22},
    Service{"telnet", 23},        Service{"smtp", 25},
    Service{"mail", 25},          Service{"domain", 53},
    Service{"http", 80},          Service{"www", 80},
    Service{"kerberos", 88},      Service{"kerberos5", 88},
    Service{"krb5", 88},          Service{"kerberos-sec", 88},
    Service{"pop3", 110},         Service{"pop-3", 110},
    Service{"imap2", 143},        Service{"imap", 143},
    Service{"snmp", 161},         Service{"ldap", 389},
    Service{"https", 443},        Service{"submissions", 465},
    Service{"ssmtp", 465},        Service{"smtps", 465},
    Service{"urd", 465},          Service{"submission", 587},
    Service{"ldaps", 636},        Service{"rsync", 873},
    Service{"imaps", 993},        Service{"pop3s", 995},
    Service{"socks", 1080},       Service{"ms-sql-s", 1433},
    Service{"nfs", 2049},         Service{"mysql", 3306},
    Service{"svn", 3690},         Service{"subversion", 3690},
    Service{"epmd", 4369},        Service{"sip", 5060},
    Service{"xmpp-client", 5222}, Service{"jabber-client", 5222},
    Service{"postgresql", 5432},  Service{"postgres", 5432},
    Service{"amqps", 5671},       Service{"amqp", 5672},
    Service{"redis", 6379},       Service{"ircs-u", 6697},
    Service{"http-alt", 8080},    Service{"webcache", 8080},
    Service{"git", 9418},         Service{"mongodb", 27017},
};

} // namespace

std::optional<uint16_t> services_lookup(std::string_view text, std::string_view name) {
    if (name.empty())
        return std::nullopt;
    TableText table(text);
    while (table.next_line()) {
        // Fields: NAME, PORT/PROTO, then aliases.
        std::optional<uint16_t> port;
        bool match = false;
        for (int field = 0; auto word = table.next_field(); ++field) {
            if (field == 1) {
                port = tcp_port(*word);
                if (!port)
                    break; // another protocol, or malformed: the line says nothing
            } else if (iequal_ascii(*word, name)) {
                match = true;
            }
        }
        if (match && port)
            return port;
    }
    return std::nullopt;
}

std::optional<uint16_t> builtin_service(std::string_view name) {
    for (const auto& s : k_builtin)
        if (iequal_ascii(s.name, name))
            return s.port;
    return std::nullopt;
}

std::optional<uint16_t> service_port(std::string_view name) {
    // A targets file may name a service on each of 100,000 lines: the file is read once.
    static const std::string text = [] {
        std::ifstream in("/etc/services");
        std::ostringstream all;
        if (in)
            all << in.rdbuf();
        return all.str();
    }();
    if (auto port = services_lookup(text, name))
        return port;
    return builtin_service(name);
}

} // namespace tcpretry::core
