// The TLS room of the option parser: --tls, --starttls and the flags they take.
#include "app/options_internal.hpp"

#include "core/starttls.hpp"
#include "core/tls.hpp"

namespace tcpretry::app::options_internal {

using core::Duration;
using core::quote;

void add_tls_flags(CLI::App& app, Raw& r) {
    const char* g = "TLS";
    flag(app, r, r.tls, "--tls",
         "Ready only after a TLS handshake with a certificate that verifies for the host", g);
    flag(app, r, r.insecure, "--insecure", "Report certificate verification, do not require it", g);
    option(app, r, r.ca_file, "--ca-file", "Trust the CA certificates in FILE (PEM)", "FILE", g);
    r.ca_file.opt->default_str("system store");
    option(app, r, r.ca_path, "--ca-path", "Trust the CA certificates in DIR (hashed, c_rehash)",
           "DIR", g);
    option(app, r, r.sni, "--sni", "Send NAME as SNI and check the certificate for it", "NAME", g);
    r.sni.opt->default_str("the host");
    option(app, r, r.tls_min_version, "--tls-min-version", "Lowest TLS version: 1.2 or 1.3",
           "VERSION", g);
    r.tls_min_version.opt->default_str("1.2");
    option(app, r, r.alpn, "--alpn", "Offer these ALPN protocols (h2,http/1.1); one must agree",
           "LIST", g);
    option(app, r, r.client_cert, "--client-cert", "Client certificate (PEM; needs --client-key)",
           "FILE", g);
    option(app, r, r.client_key, "--client-key", "Client key (PEM; needs --client-cert)", "FILE",
           g);
    option(app, r, r.cert_min_days, "--cert-min-days",
           "Fail when the certificate expires in fewer than N days", "N", g);
    option(app, r, r.starttls, "--starttls",
           "Upgrade with STARTTLS first: smtp|imap|pop3|ftp|postgres (implies --tls)", "PROTO", g);
}

// --tls and its options (after check_check: the TLS layer joins the --send/--expect check).
// The context (trust store, client certificate) is made here, once: a file that cannot be
// loaded is a usage error naming its flag.
std::optional<UsageError> check_tls(const Raw& r, Options& o) {
    bool on = r.tls.on || r.starttls.given();
    if (!on && !any_url_word(r, true)) { // an https:// TARGET brings TLS of its own
        if (r.insecure.on)
            return UsageError{r.insecure.name() + " needs --tls or --starttls"};
        for (const Flag* f : {&r.ca_file, &r.ca_path, &r.sni, &r.tls_min_version, &r.alpn,
                              &r.client_cert, &r.client_key, &r.cert_min_days})
            if (f->given())
                return UsageError{f->name() + " needs --tls or --starttls"};
        return std::nullopt;
    }
    core::TlsConfig config;
    config.insecure = r.insecure.on;
    std::optional<core::StartTlsProtocol> starttls;
    if (r.starttls.given()) {
        starttls = core::parse_starttls_protocol(r.starttls.text);
        if (!starttls)
            return invalid(r.starttls, "smtp, imap, pop3, ftp or postgres");
    }
    if (r.sni.given()) {
        if (r.sni.text.empty() || !core::is_clean_text(r.sni.text) ||
            r.sni.text.find_first_of(" /") != std::string::npos)
            return invalid(r.sni, "a host name");
        config.sni = r.sni.text;
    }
    if (r.tls_min_version.given()) {
        auto v = core::parse_tls_version(r.tls_min_version.text);
        if (!v)
            return invalid(r.tls_min_version, "1.2 or 1.3");
        config.min_version = *v;
    }
    if (r.alpn.given()) {
        auto list = core::parse_alpn_list(r.alpn.text);
        if (auto* e = std::get_if<std::string>(&list))
            return invalid(r.alpn, *e);
        config.alpn = std::get<std::vector<std::string>>(std::move(list));
    }
    if (r.client_cert.given() != r.client_key.given()) {
        const Flag& given = r.client_cert.given() ? r.client_cert : r.client_key;
        const Flag& missing = r.client_cert.given() ? r.client_key : r.client_cert;
        return UsageError{given.name() + " needs " + missing.opt->get_name()};
    }
    if (r.cert_min_days.given()) {
        auto n = parse_count(r.cert_min_days.text);
        if (!n || *n > 36500)
            return invalid(r.cert_min_days, "a whole number of days from 0 to 36500");
        config.cert_min_days = static_cast<int>(*n);
    }
    for (const Flag* f : {&r.ca_file, &r.ca_path, &r.client_cert, &r.client_key})
        if (f->given() && f->text.empty())
            return invalid(*f, "a path");
    config.ca_file = r.ca_file.text;
    config.ca_path = r.ca_path.text;
    config.client_cert = r.client_cert.text;
    config.client_key = r.client_key.text;
    auto made = core::TlsContext::make(config);
    if (auto* e = std::get_if<std::string>(&made)) {
        // The context's words name the file; its flag goes in front, else --tls (OpenSSL
        // itself missing, the system CA store).
        const Flag* f = nullptr;
        if (e->find("CA file") != std::string::npos)
            f = &r.ca_file;
        else if (e->find("CA directory") != std::string::npos)
            f = &r.ca_path;
        else if (e->find("client key") != std::string::npos)
            f = &r.client_key;
        else if (e->find("client certificate") != std::string::npos)
            f = &r.client_cert;
        else if (e->find("ALPN") != std::string::npos)
            f = &r.alpn;
        return UsageError{(f && f->given() ? f->name() : std::string("--tls")) + ": " + *e};
    }
    o.url_tls = std::get<core::TlsContext>(std::move(made));
    if (!on)
        return std::nullopt;
    if (!o.check) {
        o.check.emplace();
        o.check->timeout = o.connect_timeout;
    }
    o.check->tls = o.url_tls;
    o.check->starttls = starttls;
    return std::nullopt;
}

} // namespace tcpretry::app::options_internal
