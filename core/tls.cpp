#include "core/tls.hpp"

#include "core/openssl_lazy.hpp"
#include "core/tls_names.hpp"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <dirent.h>
#include <memory>
#include <netinet/in.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>
#include <sys/stat.h>

namespace tcpretry::core {

namespace {

constexpr int64_t k_seconds_per_day = 86400;

std::string lower(std::string s) {
    for (char& c : s)
        if (c >= 'A' && c <= 'Z')
            c = static_cast<char>(c - 'A' + 'a');
    return s;
}

// The words of an OpenSSL error, "wrong version number"; empty when it has none. OpenSSL's
// error strings are not loaded (init_openssl): libssl's words come from the reason's name,
// SSL_R_WRONG_VERSION_NUMBER, which is how OpenSSL makes nearly all of its own.
std::string reason_text(unsigned long err) {
    if (ERR_GET_LIB(err) == ERR_LIB_SSL) {
        if (std::string words = ssl_reason_words(ERR_GET_REASON(err)); !words.empty())
            return words;
    }
    const char* text = ERR_reason_error_string(err);
    return text ? text : "";
}

// The most telling error in OpenSSL's queue: the first of libssl's, else the first.
unsigned long queued_error() {
    unsigned long first = 0;
    const char* file = nullptr;
    int line = 0;
    for (int i = 0;; ++i) {
        unsigned long e = ERR_peek_error_line(&file, &line); // first, not popped
        if (i == 0)
            first = e;
        if (e == 0)
            break;
        if (ERR_GET_LIB(e) == ERR_LIB_SSL)
            return e;
        ERR_get_error(); // drop it and look at the next
    }
    return first;
}

int packed(unsigned long err) {
    return static_cast<int>(ERR_PACK(ERR_GET_LIB(err), 0, ERR_GET_REASON(err)));
}

bool is_ssl_reason(unsigned long err, int reason) {
    return err != 0 && ERR_GET_LIB(err) == ERR_LIB_SSL && ERR_GET_REASON(err) == reason;
}

// Words for the handshake failures people meet; OpenSSL's own words for the rest.
std::string handshake_words(unsigned long err) {
    if (ERR_GET_LIB(err) == ERR_LIB_SSL) {
        switch (ERR_GET_REASON(err)) {
        case SSL_R_WRONG_VERSION_NUMBER:
        case SSL_R_PACKET_LENGTH_TOO_LONG:
        case SSL_R_HTTP_REQUEST:
            return "the peer does not speak TLS (" + reason_text(err) + ")";
        case SSL_R_UNEXPECTED_EOF_WHILE_READING:
            return "connection closed during the TLS handshake";
        case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
            return "the peer refused the TLS version (alert protocol_version)";
        case SSL_R_UNSUPPORTED_PROTOCOL:
            return "the peer offers only TLS versions we refuse";
        case SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE:
            return "the peer refused the handshake (alert handshake_failure)";
        case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
            return "the peer requires a client certificate (alert certificate_required)";
        case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
            return "the peer does not trust our certificate (alert unknown_ca)";
        case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
            return "the peer rejected our certificate (alert bad_certificate)";
        default:
            break;
        }
    }
    std::string text = reason_text(err);
    return "TLS handshake failed" + (text.empty() ? std::string() : ": " + text);
}

// RFC 3339 UTC of an ASN1_TIME, and its time_t; false when it cannot be read.
bool asn1_time(const ASN1_TIME* t, std::string& text, time_t& when) {
    struct tm tm {};
    if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
        return false;
    char buf[32];
    strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    text = buf;
    when = timegm(&tm);
    return true;
}

std::string name_text(const X509_NAME* name) {
    if (!name)
        return {};
    BIO* bio = BIO_new(BIO_s_mem());
    if (!bio)
        return {};
    X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
    char* data = nullptr;
    long n = BIO_get_mem_data(bio, &data);
    std::string out = n > 0 && data ? std::string(data, static_cast<std::size_t>(n)) : "";
    BIO_free(bio);
    return out;
}

std::string hex(const unsigned char* data, std::size_t n) {
    static const char digits[] = "0123456789abcdef";
    std::string out;
    out.reserve(n * 2);
    for (std::size_t i = 0; i < n; ++i) {
        out += digits[data[i] >> 4];
        out += digits[data[i] & 15];
    }
    return out;
}

std::string serial_text(const X509* cert) {
    BIGNUM* bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr);
    if (!bn)
        return {};
    char* h = BN_bn2hex(bn);
    std::string out = h ? lower(h) : "";
    OPENSSL_free(h);
    BN_free(bn);
    return out;
}

void add_alt_names(const X509* cert, CertFacts& facts) {
    auto* names =
        static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
    if (!names)
        return;
    for (int i = 0; i < sk_GENERAL_NAME_num(names); ++i) {
        const GENERAL_NAME* n = sk_GENERAL_NAME_value(names, i);
        if (n->type == GEN_DNS) {
            const ASN1_STRING* s = n->d.dNSName;
            facts.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                         static_cast<std::size_t>(ASN1_STRING_length(s)));
        } else if (n->type == GEN_IPADD) {
            const ASN1_STRING* s = n->d.iPAddress;
            int len = ASN1_STRING_length(s);
            char buf[INET6_ADDRSTRLEN] = "";
            if ((len == 4 && inet_ntop(AF_INET, ASN1_STRING_get0_data(s), buf, sizeof buf)) ||
                (len == 16 && inet_ntop(AF_INET6, ASN1_STRING_get0_data(s), buf, sizeof buf)))
                facts.ip_addresses.emplace_back(buf);
        }
    }
    GENERAL_NAMES_free(names);
}

// floor(a / b) for b > 0.
int64_t floor_div(int64_t a, int64_t b) {
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

std::string plural_days(int64_t n) {
    return std::to_string(n) + (n == 1 ? " day" : " days");
}

// "a, b and 3 more": what a certificate is for.
std::string names_list(const CertFacts& cert) {
    std::vector<std::string> all = cert.dns_names;
    all.insert(all.end(), cert.ip_addresses.begin(), cert.ip_addresses.end());
    if (all.empty())
        return cert.subject.empty() ? "no name" : cert.subject;
    std::string out;
    std::size_t shown = std::min<std::size_t>(all.size(), 3);
    for (std::size_t i = 0; i < shown; ++i)
        out += (i ? ", " : "") + all[i];
    if (all.size() > shown)
        out += " and " + std::to_string(all.size() - shown) + " more";
    return out;
}

bool is_ip_literal(const std::string& host) {
    unsigned char buf[sizeof(in6_addr)];
    return inet_pton(AF_INET, host.c_str(), buf) == 1 ||
           inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

// A BIO over the socket that sends with MSG_NOSIGNAL: a peer that went away is an EPIPE, never
// a SIGPIPE, whatever the process does with the signal.
int bio_write(BIO* bio, const char* data, int size) {
    int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
    BIO_clear_retry_flags(bio);
    ssize_t n = ::send(fd, data, static_cast<std::size_t>(size), MSG_NOSIGNAL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_write(bio);
    return static_cast<int>(n);
}

int bio_read(BIO* bio, char* data, int size) {
    int fd = static_cast<int>(reinterpret_cast<intptr_t>(BIO_get_data(bio)));
    BIO_clear_retry_flags(bio);
    ssize_t n = ::recv(fd, data, static_cast<std::size_t>(size), 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        BIO_set_retry_read(bio);
    return static_cast<int>(n);
}

long bio_ctrl(BIO*, int cmd, long, void*) {
    return cmd == BIO_CTRL_FLUSH || cmd == BIO_CTRL_DUP ? 1 : 0;
}

int bio_create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
}

const BIO_METHOD* socket_method() {
    static BIO_METHOD* method = [] {
        BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "tcpretry socket");
        if (m) {
            BIO_meth_set_write(m, bio_write);
            BIO_meth_set_read(m, bio_read);
            BIO_meth_set_ctrl(m, bio_ctrl);
            BIO_meth_set_create(m, bio_create);
        }
        return m;
    }();
    return method;
}

} // namespace

std::optional<TlsVersion> parse_tls_version(std::string_view text) {
    if (text == "1.2")
        return TlsVersion::tls1_2;
    if (text == "1.3")
        return TlsVersion::tls1_3;
    return std::nullopt;
}

std::variant<std::vector<std::string>, std::string> parse_alpn_list(std::string_view text) {
    std::vector<std::string> out;
    std::size_t start = 0;
    while (true) {
        std::size_t comma = text.find(',', start);
        std::string_view item = text.substr(
            start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        if (item.empty())
            return std::string("empty protocol name in '") + std::string(text) + "'";
        if (item.size() > 255)
            return "protocol name over 255 bytes: '" + std::string(item.substr(0, 40)) + "...'";
        out.emplace_back(item);
        if (comma == std::string_view::npos)
            return out;
        start = comma + 1;
    }
}

CertFacts cert_facts(const x509_st* cert, std::chrono::system_clock::time_point now) {
    CertFacts f;
    if (!cert)
        return f;
    f.subject = name_text(X509_get_subject_name(cert));
    f.issuer = name_text(X509_get_issuer_name(cert));
    f.serial = serial_text(cert);
    time_t before = 0;
    time_t after = 0;
    if (asn1_time(X509_get0_notBefore(cert), f.not_before, before))
        f.not_before_unix = static_cast<int64_t>(before);
    if (asn1_time(X509_get0_notAfter(cert), f.not_after, after)) {
        f.not_after_unix = static_cast<int64_t>(after);
        int64_t now_s =
            std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
        f.days_left = floor_div(static_cast<int64_t>(after) - now_s, k_seconds_per_day);
    }
    add_alt_names(cert, f);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1)
        f.sha256 = hex(md, md_len);
    return f;
}

std::string verify_error_words(long code, const CertFacts* cert, std::string_view checked_name,
                               std::chrono::system_clock::time_point now) {
    int64_t now_s =
        std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
    switch (code) {
    case X509_V_ERR_CERT_HAS_EXPIRED:
        if (cert) {
            struct tm tm {};
            // days since not_after, rounded down: "today" within the first day
            if (strptime(cert->not_after.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
                int64_t ago =
                    floor_div(now_s - static_cast<int64_t>(timegm(&tm)), k_seconds_per_day);
                if (ago <= 0)
                    return "certificate expired less than a day ago (" + cert->not_after + ")";
                return "certificate expired " + plural_days(ago) + " ago (" + cert->not_after + ")";
            }
        }
        return "certificate expired";
    case X509_V_ERR_CERT_NOT_YET_VALID:
        if (cert) {
            struct tm tm {};
            if (strptime(cert->not_before.c_str(), "%Y-%m-%dT%H:%M:%SZ", &tm)) {
                int64_t in =
                    floor_div(static_cast<int64_t>(timegm(&tm)) - now_s, k_seconds_per_day);
                return "certificate is not valid before " + cert->not_before +
                       (in >= 1 ? " (in " + plural_days(in) + ")" : std::string());
            }
        }
        return "certificate is not valid yet";
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return "certificate is for " + (cert ? names_list(*cert) : std::string("another name")) +
               ", not " + std::string(checked_name);
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        return "certificate is self-signed (not trusted)";
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        return "the chain ends in a self-signed certificate that is not trusted";
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        return "certificate issuer is not trusted" +
               (cert && !cert->issuer.empty() ? " (" + cert->issuer + ")" : std::string());
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
        return "certificate cannot be verified: its issuer is missing from the chain";
    case X509_V_ERR_CERT_REVOKED:
        return "certificate is revoked";
    case X509_V_ERR_INVALID_PURPOSE:
        return "certificate is not for a TLS server";
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
        return "certificate signature is invalid";
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
        return "certificate is too weak: " + std::string(X509_verify_cert_error_string(code));
    default:
        return "certificate verify failed: " + std::string(X509_verify_cert_error_string(code));
    }
}

ErrorClass tls_failure_class(const TlsFailure& failure) {
    switch (failure.kind) {
    case TlsFailureKind::handshake:
        return ErrorClass::tls_handshake;
    case TlsFailureKind::verify:
        return ErrorClass::tls_verify;
    case TlsFailureKind::alpn:
        return ErrorClass::tls_alpn;
    case TlsFailureKind::cert_expiring:
        return ErrorClass::cert_expiring;
    case TlsFailureKind::io:
        break;
    }
    return classify_errno(failure.code.value);
}

std::string_view tls_failure_class_name(const TlsFailure& failure) {
    return error_class_name(tls_failure_class(failure));
}

// --- TlsContext ---------------------------------------------------------------------------

namespace {

// "no such file or directory" for a path that cannot be read; empty when it can.
std::string unreadable(const std::string& path, bool directory) {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return errno_message(errno);
    if (directory != S_ISDIR(st.st_mode))
        return directory ? "not a directory" : "is a directory";
    if (!directory) {
        std::FILE* f = std::fopen(path.c_str(), "r");
        if (!f)
            return errno_message(errno);
        std::fclose(f);
    }
    return {};
}

// OpenSSL's words for the error it just queued (then the queue is cleared).
std::string openssl_words(std::string_view fallback) {
    unsigned long err = ERR_peek_last_error();
    std::string text = err ? reason_text(err) : std::string();
    ERR_clear_error();
    return text.empty() ? std::string(fallback) : text;
}

std::string alpn_wire(const std::vector<std::string>& protocols) {
    std::string wire;
    for (const std::string& p : protocols) {
        wire += static_cast<char>(p.size());
        wire += p;
    }
    return wire;
}

// OpenSSL's start-up without what a probe never uses, a quarter of SSL_CTX_new's cost: the
// error strings (reason_text) and the legacy cipher name table (libssl fetches its ciphers
// from the provider). openssl.cnf is still read: a system policy there (MinProtocol,
// CipherString) holds for tcpretry as for curl and openssl s_client. The clean-up at exit
// stays (~1 M instructions): without it valgrind's leak check sees OpenSSL's memory.
void init_openssl() {
    OPENSSL_init_ssl(OPENSSL_INIT_NO_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_LOAD_CRYPTO_STRINGS |
                         OPENSSL_INIT_NO_ADD_ALL_CIPHERS,
                     nullptr);
}

// Whether `dir` (a list, as in SSL_CERT_DIR) holds a hash link, "5ad8a5d6.0": certificates
// OpenSSL can look up by subject name, one file at a time, when a chain needs them.
bool has_hash_links(const std::string& dirs) {
    std::size_t start = 0;
    while (start <= dirs.size()) {
        std::size_t end = dirs.find(':', start);
        if (end == std::string::npos)
            end = dirs.size();
        std::unique_ptr<DIR, int (*)(DIR*)> dir(opendir(dirs.substr(start, end - start).c_str()),
                                                closedir);
        while (dir) {
            const dirent* entry = readdir(dir.get());
            if (!entry)
                break;
            std::string_view name = entry->d_name;
            if (name.size() == 10 && name.substr(8) == ".0" &&
                name.find_first_not_of("0123456789abcdef") == 8)
                return true;
        }
        start = end + 1;
    }
    return false;
}

// The system's trusted CAs, as SSL_CTX_set_default_verify_paths finds them, without parsing
// the whole bundle (~140 certificates, ~60 ms) at every start: when the CA directory has hash
// links, only the CA a chain names is read. On Debian and its kin the bundle and the directory
// are made from the same certificates (update-ca-certificates). SSL_CERT_FILE, when set, is
// loaded as OpenSSL would; a system with only a bundle (Alpine, a scratch image) gets it.
bool load_system_store(SSL_CTX* ctx) {
    if (std::getenv(X509_get_default_cert_file_env()))
        return SSL_CTX_set_default_verify_paths(ctx) == 1;
    const char* env_dir = std::getenv(X509_get_default_cert_dir_env());
    std::string dir = env_dir ? env_dir : X509_get_default_cert_dir();
    if (!dir.empty() && has_hash_links(dir))
        return SSL_CTX_load_verify_dir(ctx, dir.c_str()) == 1;
    return SSL_CTX_set_default_verify_paths(ctx) == 1;
}

} // namespace

// OpenSSL's callbacks: find the session (the SSL's app data) and record, nothing more.
struct TlsCallbacks {
    static int on_verify(int ok, X509_STORE_CTX* store) {
        auto* ssl = static_cast<SSL*>(
            X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
        auto* self = ssl ? static_cast<TlsSession*>(SSL_get_ex_data(ssl, 0)) : nullptr;
        if (!self)
            return ok;
        if (!self->m_leaf) {
            if (X509* leaf = X509_STORE_CTX_get0_cert(store); leaf && X509_up_ref(leaf) == 1)
                self->m_leaf.reset(leaf);
        }
        if (!ok && self->m_verify_error == X509_V_OK)
            self->m_verify_error = X509_STORE_CTX_get_error(store);
        return self->m_context.config().insecure ? 1
                                                 : ok; // insecure: go on, the result is reported
    }

    static int on_cert_request(SSL* ssl, void*) {
        if (auto* self = static_cast<TlsSession*>(SSL_get_ex_data(ssl, 0)))
            self->m_cert_requested = true;
        return 1;
    }

    static int on_new_session(SSL* ssl, SSL_SESSION*) {
        if (auto* self = static_cast<TlsSession*>(SSL_get_ex_data(ssl, 0)))
            self->m_ticket_seen = true;
        return 0; // not kept: every probe is a full handshake
    }
};

std::variant<TlsContext, std::string> TlsContext::make(TlsConfig config) {
    // The first OpenSSL call of a run: a dynamic tcpretry loads OpenSSL here (openssl_lazy.hpp).
    if (std::string why = openssl_load_error(); !why.empty())
        return why;
    init_openssl();
    ERR_clear_error();
    std::shared_ptr<SSL_CTX> ctx(SSL_CTX_new(TLS_client_method()), SSL_CTX_free);
    if (!ctx)
        return "cannot make a TLS context: " + openssl_words("out of memory");
    SSL_CTX_set_min_proto_version(
        ctx.get(), config.min_version == TlsVersion::tls1_3 ? TLS1_3_VERSION : TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx.get(),
                     SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    // Each probe is a full handshake: sessions are never resumed, but a ticket's arrival is
    // noted (TlsSession::confirming) through the new-session callback, set per connection.
    SSL_CTX_set_session_cache_mode(ctx.get(),
                                   SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx.get(), &TlsCallbacks::on_new_session);

    if (!config.ca_file.empty()) {
        if (std::string why = unreadable(config.ca_file, false); !why.empty())
            return "cannot load CA file " + config.ca_file + ": " + why;
    }
    if (!config.ca_path.empty()) {
        if (std::string why = unreadable(config.ca_path, true); !why.empty())
            return "cannot load CA directory " + config.ca_path + ": " + why;
    }
    if (!config.ca_file.empty() || !config.ca_path.empty()) {
        const char* file = config.ca_file.empty() ? nullptr : config.ca_file.c_str();
        const char* path = config.ca_path.empty() ? nullptr : config.ca_path.c_str();
        if (SSL_CTX_load_verify_locations(ctx.get(), file, path) != 1)
            return "cannot load CA " + std::string(file ? "file " : "directory ") +
                   (file ? config.ca_file : config.ca_path) + ": " +
                   openssl_words("no certificate in it");
    } else if (!load_system_store(ctx.get())) {
        return "cannot load the system CA store: " + openssl_words("unknown error");
    }

    if (config.client_cert.empty() != config.client_key.empty())
        return config.client_cert.empty() ? "a client key needs its certificate"
                                          : "a client certificate needs its key";
    if (!config.client_cert.empty()) {
        if (std::string why = unreadable(config.client_cert, false); !why.empty())
            return "cannot load client certificate " + config.client_cert + ": " + why;
        if (std::string why = unreadable(config.client_key, false); !why.empty())
            return "cannot load client key " + config.client_key + ": " + why;
        if (SSL_CTX_use_certificate_chain_file(ctx.get(), config.client_cert.c_str()) != 1)
            return "cannot load client certificate " + config.client_cert + ": " +
                   openssl_words("not a PEM certificate");
        bool loaded = SSL_CTX_use_PrivateKey_file(ctx.get(), config.client_key.c_str(),
                                                  SSL_FILETYPE_PEM) == 1;
        unsigned long err = ERR_peek_last_error();
        bool mismatch = !loaded && ERR_GET_LIB(err) == ERR_LIB_X509 &&
                        ERR_GET_REASON(err) == X509_R_KEY_VALUES_MISMATCH;
        if (!loaded && !mismatch)
            return "cannot load client key " + config.client_key + ": " +
                   openssl_words("not a PEM private key");
        if (mismatch || SSL_CTX_check_private_key(ctx.get()) != 1) {
            ERR_clear_error();
            return "client key " + config.client_key + " does not match certificate " +
                   config.client_cert;
        }
    }

    if (!config.alpn.empty()) {
        for (const std::string& p : config.alpn)
            if (p.empty() || p.size() > 255)
                return "bad ALPN protocol name '" + p + "'";
        std::string wire = alpn_wire(config.alpn);
        if (SSL_CTX_set_alpn_protos(ctx.get(), reinterpret_cast<const unsigned char*>(wire.data()),
                                    static_cast<unsigned>(wire.size())) != 0)
            return "cannot set ALPN: " + openssl_words("out of memory");
    }
    if (config.cert_min_days && *config.cert_min_days < 0)
        return "minimum days left must not be negative: " + std::to_string(*config.cert_min_days);

    TlsContext out;
    out.m_ctx = std::move(ctx);
    out.m_config = std::make_shared<const TlsConfig>(std::move(config));
    return out;
}

// --- TlsSession ---------------------------------------------------------------------------

TlsSession::TlsSession(const TlsContext& context, UniqueFd fd)
    : m_context(context), m_fd(std::move(fd)), m_ssl(nullptr, SSL_free),
      m_leaf(nullptr, X509_free) {}

TlsSession::~TlsSession() = default;

std::variant<std::unique_ptr<TlsSession>, TlsFailure>
TlsSession::start(const TlsContext& context, UniqueFd fd, std::string_view host) {
    ERR_clear_error();
    std::unique_ptr<TlsSession> s(new TlsSession(context, std::move(fd)));
    const TlsConfig& config = context.config();
    std::string name = config.sni.empty() ? std::string(host) : config.sni;
    if (std::size_t pct = name.find('%');
        pct != std::string::npos && is_ip_literal(name.substr(0, pct)))
        name.resize(pct); // fe80::1%eth0: the zone is not part of the address checked
    s->m_name = name;
    s->m_name_is_ip = is_ip_literal(name);

    TlsFailure oom;
    oom.kind = TlsFailureKind::io;
    oom.code = ErrorCode::sys(ENOMEM);
    oom.message = "cannot start TLS: " + openssl_words("out of memory");

    s->m_ssl.reset(SSL_new(context.native()));
    BIO* bio = socket_method() ? BIO_new(socket_method()) : nullptr;
    if (!s->m_ssl || !bio) {
        BIO_free(bio);
        return oom;
    }
    BIO_set_data(bio, reinterpret_cast<void*>(static_cast<intptr_t>(s->m_fd.get())));
    SSL_set_bio(s->m_ssl.get(), bio, bio); // the SSL owns the BIO (once for both directions)
    SSL* ssl = s->m_ssl.get();
    SSL_set_ex_data(ssl, 0, s.get());
    SSL_set_connect_state(ssl);
    SSL_set_verify(ssl, SSL_VERIFY_PEER, &TlsCallbacks::on_verify);
    SSL_set_cert_cb(ssl, &TlsCallbacks::on_cert_request, nullptr);

    bool ok = true;
    if (s->m_name_is_ip) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), s->m_name.c_str()) == 1;
    } else if (!s->m_name.empty()) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = SSL_set1_host(ssl, s->m_name.c_str()) == 1 &&
             SSL_ctrl(ssl, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                      const_cast<char*>(s->m_name.c_str())) == 1; // SSL_set_tlsext_host_name
        s->m_info.sni = s->m_name;
    }
    if (!ok) {
        TlsFailure bad;
        bad.kind = TlsFailureKind::handshake;
        bad.message = "cannot use '" + s->m_name +
                      "' as the TLS server name: " + openssl_words("invalid name");
        return bad;
    }
    return s;
}

TlsStep TlsSession::step() {
    switch (m_phase) {
    case Phase::done:
        return TlsStep::done;
    case Phase::failed:
        return TlsStep::failed;
    case Phase::confirming:
        return confirm();
    case Phase::handshake:
        break;
    }
    ERR_clear_error();
    errno = 0;
    int r = SSL_do_handshake(m_ssl.get());
    int saved = errno;
    if (r == 1)
        return after_handshake();
    int err = SSL_get_error(m_ssl.get(), r);
    if (err == SSL_ERROR_WANT_READ)
        return TlsStep::want_read;
    if (err == SSL_ERROR_WANT_WRITE)
        return TlsStep::want_write;
    return fail(classify(err, saved, true));
}

TlsStep TlsSession::after_handshake() {
    if (SSL_version(m_ssl.get()) >= TLS1_3_VERSION && m_cert_requested && !m_ticket_seen) {
        m_phase = Phase::confirming;
        return confirm();
    }
    return finish();
}

// TLS 1.3 with a client certificate asked for: the server's verdict on it arrives after our
// side finished. A ticket, data or an orderly close says it was accepted; an alert says not.
TlsStep TlsSession::confirm() {
    ERR_clear_error();
    errno = 0;
    char c;
    std::size_t n = 0;
    int r = SSL_peek_ex(m_ssl.get(), &c, 1, &n);
    int saved = errno;
    if (r == 1 || m_ticket_seen)
        return finish();
    int err = SSL_get_error(m_ssl.get(), r);
    if (err == SSL_ERROR_ZERO_RETURN)
        return finish();
    if (err == SSL_ERROR_WANT_READ)
        return m_ticket_seen ? finish() : TlsStep::want_read;
    if (err == SSL_ERROR_WANT_WRITE)
        return TlsStep::want_write;
    return fail(classify(err, saved, true));
}

TlsStep TlsSession::finish_unconfirmed() {
    return m_phase == Phase::confirming ? finish() : step();
}

TlsStep TlsSession::finish() {
    SSL* ssl = m_ssl.get();
    m_info.version = SSL_get_version(ssl);
    m_info.cipher = SSL_get_cipher_name(ssl);
    const unsigned char* alpn = nullptr;
    unsigned alpn_len = 0;
    SSL_get0_alpn_selected(ssl, &alpn, &alpn_len);
    if (alpn && alpn_len)
        m_info.alpn.assign(reinterpret_cast<const char*>(alpn), alpn_len);
    if (!m_leaf) {
        if (X509* peer = SSL_get1_peer_certificate(ssl))
            m_leaf.reset(peer);
    }
    m_info.cert = leaf_facts();
    m_info.verified =
        m_leaf && m_verify_error == X509_V_OK && SSL_get_verify_result(ssl) == X509_V_OK;
    if (!m_info.verified) {
        long code = m_verify_error != X509_V_OK ? m_verify_error : SSL_get_verify_result(ssl);
        if (code == X509_V_OK)
            code = X509_V_ERR_UNSPECIFIED; // no certificate at all
        if (!m_context.config().insecure)
            return fail(verify_failure(code));
        m_info.verify_error = ErrorCode::x509(static_cast<int>(code));
        m_info.verify_message = verify_error_words(code, m_info.cert ? &*m_info.cert : nullptr,
                                                   m_name, std::chrono::system_clock::now());
    }
    if (m_context.config().cert_min_days && m_info.cert &&
        m_info.cert->days_left < *m_context.config().cert_min_days) {
        TlsFailure f;
        f.kind = TlsFailureKind::cert_expiring;
        int64_t left = m_info.cert->days_left;
        f.message = (left < 0 ? "certificate expired " + plural_days(-left) + " ago"
                              : "certificate expires in " + plural_days(left)) +
                    " (" + m_info.cert->not_after + "), fewer than " +
                    std::to_string(*m_context.config().cert_min_days);
        f.cert = m_info.cert;
        return fail(std::move(f));
    }
    if (!m_context.config().alpn.empty() && m_info.alpn.empty()) {
        TlsFailure f;
        f.kind = TlsFailureKind::alpn;
        std::string offered;
        for (const std::string& p : m_context.config().alpn)
            offered += (offered.empty() ? "" : ",") + p;
        f.message = "no ALPN protocol agreed (offered " + offered + ")";
        f.cert = m_info.cert;
        return fail(std::move(f));
    }
    m_phase = Phase::done;
    return TlsStep::done;
}

TlsStep TlsSession::fail(TlsFailure failure) {
    if (!failure.cert)
        failure.cert = leaf_facts();
    m_failure = std::move(failure);
    m_phase = Phase::failed;
    return TlsStep::failed;
}

std::optional<CertFacts> TlsSession::leaf_facts() const {
    if (!m_leaf)
        return std::nullopt;
    return cert_facts(m_leaf.get(), std::chrono::system_clock::now());
}

TlsFailure TlsSession::verify_failure(long code) {
    TlsFailure f;
    f.kind = TlsFailureKind::verify;
    f.code = ErrorCode::x509(static_cast<int>(code));
    f.cert = leaf_facts();
    f.message = verify_error_words(code, f.cert ? &*f.cert : nullptr, m_name,
                                   std::chrono::system_clock::now());
    return f;
}

TlsFailure TlsSession::classify(int ssl_error, int saved_errno, bool handshake) {
    m_broken = ssl_error == SSL_ERROR_SYSCALL || ssl_error == SSL_ERROR_SSL;
    TlsFailure f;
    unsigned long err =
        ssl_error == SSL_ERROR_SSL || ssl_error == SSL_ERROR_SYSCALL ? queued_error() : 0;
    ERR_clear_error();
    if (ssl_error == SSL_ERROR_SYSCALL && err == 0) {
        if (saved_errno != 0) {
            f.kind = TlsFailureKind::io;
            f.code = ErrorCode::sys(saved_errno);
            f.message = errno_message(saved_errno);
            return f;
        }
        err = ERR_PACK(ERR_LIB_SSL, 0, SSL_R_UNEXPECTED_EOF_WHILE_READING); // older OpenSSL
    }
    if (ssl_error == SSL_ERROR_ZERO_RETURN) {
        f.kind = TlsFailureKind::handshake;
        f.message = handshake ? "the peer closed (close_notify) during the TLS handshake"
                              : "the peer closed the TLS connection";
        return f;
    }
    if (err == 0) {
        f.kind = TlsFailureKind::handshake;
        f.message = "TLS failed (OpenSSL error " + std::to_string(ssl_error) + ")";
        return f;
    }
    if (is_ssl_reason(err, SSL_R_CERTIFICATE_VERIFY_FAILED)) {
        long code =
            m_verify_error != X509_V_OK ? m_verify_error : SSL_get_verify_result(m_ssl.get());
        return verify_failure(code == X509_V_OK ? X509_V_ERR_UNSPECIFIED : code);
    }
    f.kind = is_ssl_reason(err, SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL)
                 ? TlsFailureKind::alpn
                 : TlsFailureKind::handshake;
    f.code = ErrorCode::tls(packed(err));
    f.message = f.kind == TlsFailureKind::alpn
                    ? "the peer supports none of the ALPN protocols offered "
                      "(alert no_application_protocol)"
                    : handshake_words(err);
    if (!handshake && is_ssl_reason(err, SSL_R_UNEXPECTED_EOF_WHILE_READING))
        f.message = "connection closed without close_notify";
    return f;
}

TlsSession::Io TlsSession::read(char* buffer, std::size_t size) {
    Io io;
    if (m_phase != Phase::done || m_broken)
        return io; // failure() says what broke it
    ERR_clear_error();
    errno = 0;
    int r = SSL_read_ex(m_ssl.get(), buffer, size, &io.bytes);
    int saved = errno;
    if (r == 1) {
        io.status = Io::Status::ok;
        return io;
    }
    io.bytes = 0;
    int err = SSL_get_error(m_ssl.get(), r);
    switch (err) {
    case SSL_ERROR_WANT_READ:
        io.status = Io::Status::want_read;
        return io;
    case SSL_ERROR_WANT_WRITE:
        io.status = Io::Status::want_write;
        return io;
    case SSL_ERROR_ZERO_RETURN:
        io.status = Io::Status::closed;
        return io;
    default:
        break;
    }
    bool eof = (err == SSL_ERROR_SSL &&
                is_ssl_reason(ERR_peek_error(), SSL_R_UNEXPECTED_EOF_WHILE_READING)) ||
               (err == SSL_ERROR_SYSCALL && ERR_peek_error() == 0 && saved == 0);
    m_failure = classify(err, saved, false);
    io.status = eof ? Io::Status::truncated : Io::Status::failed;
    return io;
}

TlsSession::Io TlsSession::write(const char* data, std::size_t size) {
    Io io;
    if (m_phase != Phase::done || m_broken)
        return io;
    ERR_clear_error();
    errno = 0;
    int r = SSL_write_ex(m_ssl.get(), data, size, &io.bytes);
    int saved = errno;
    if (r == 1) {
        io.status = Io::Status::ok;
        return io;
    }
    io.bytes = 0;
    int err = SSL_get_error(m_ssl.get(), r);
    if (err == SSL_ERROR_WANT_READ)
        io.status = Io::Status::want_read;
    else if (err == SSL_ERROR_WANT_WRITE)
        io.status = Io::Status::want_write;
    else if (err == SSL_ERROR_ZERO_RETURN)
        io.status = Io::Status::closed;
    else
        m_failure = classify(err, saved, false);
    return io;
}

bool TlsSession::pending() const {
    return m_ssl && SSL_pending(m_ssl.get()) > 0;
}

bool TlsSession::shutdown() {
    if (!m_ssl || m_broken || m_phase == Phase::handshake)
        return false;
    ERR_clear_error();
    int r = SSL_shutdown(m_ssl.get()); // 0: ours sent, theirs not awaited
    ERR_clear_error();
    return r >= 0;
}

} // namespace tcpretry::core
