// The TLS layer (core/tls): real handshakes in-process over a socketpair, against an OpenSSL
// server the test makes, with certificates made here with the OpenSSL API (a CA, leaves for
// localhost + 127.0.0.1, expired, not yet valid, for another name, self-signed, from an
// untrusted CA, a client CA and its client certificate).
#include "core/check.hpp"
#include "core/connection.hpp"
#include "core/loop.hpp"
#include "core/starttls.hpp"
#include "core/tls.hpp"
#include "core/tls_names.hpp"
#include "support.hpp"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <doctest/doctest.h>
#include <event2/event.h>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdexcept>
#include <string>
#include <sys/socket.h>
#include <unistd.h>
#include <variant>
#include <vector>

using namespace tcpretry::core;
using namespace std::chrono_literals;

namespace {

constexpr long k_day = 86400;

using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using CertPtr = std::unique_ptr<X509, decltype(&X509_free)>;

KeyPtr new_key() {
    KeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", const_cast<char*>("P-256")),
               EVP_PKEY_free);
    REQUIRE(key);
    return key;
}

void add_ext(X509* cert, X509* issuer, int nid, const char* value) {
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
    REQUIRE(ext != nullptr);
    X509_add_ext(cert, ext, -1);
    X509_EXTENSION_free(ext);
}

struct CertSpec {
    std::string cn{};
    long not_before = -k_day; // seconds from now
    long not_after = 365 * k_day;
    std::string san{}; // "DNS:localhost,IP:127.0.0.1"
    bool ca = false;
    bool client = false;
};

// A certificate for `key`, signed by issuer (itself when null).
CertPtr make_cert(const CertSpec& spec, EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key) {
    static long serial = 0x1000;
    CertPtr cert(X509_new(), X509_free);
    X509_set_version(cert.get(), 2);
    ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), ++serial);
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), spec.not_before);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after);
    X509_NAME* name = X509_get_subject_name(cert.get());
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>("tcpretry test"), -1, -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                               reinterpret_cast<const unsigned char*>(spec.cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
    X509_set_pubkey(cert.get(), key);
    X509* signer = issuer ? issuer : cert.get();
    add_ext(cert.get(), signer, NID_basic_constraints, spec.ca ? "critical,CA:TRUE" : "CA:FALSE");
    add_ext(cert.get(), signer, NID_subject_key_identifier, "hash");
    if (spec.ca) {
        add_ext(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(cert.get(), signer, NID_ext_key_usage, spec.client ? "clientAuth" : "serverAuth");
        if (!spec.san.empty())
            add_ext(cert.get(), signer, NID_subject_alt_name, spec.san.c_str());
    }
    REQUIRE(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return cert;
}

std::string write_pem(const std::filesystem::path& path, X509* cert, EVP_PKEY* key) {
    std::FILE* f = std::fopen(path.c_str(), "w");
    REQUIRE(f != nullptr);
    if (cert)
        PEM_write_X509(f, cert);
    if (key)
        PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    return path.string();
}

struct Identity {
    KeyPtr key{nullptr, EVP_PKEY_free};
    CertPtr cert{nullptr, X509_free};
    std::string cert_file;
    std::string key_file;
};

// Every certificate the tests need, made once, in a temporary directory.
struct Pki {
    std::filesystem::path dir;
    Identity ca, leaf, expired, not_yet, other, self_signed, untrusted_ca, untrusted_leaf,
        short_lived, client_ca, client;

    Pki() {
        char tmpl[] = "/tmp/tcpretry-tls-XXXXXX";
        REQUIRE(mkdtemp(tmpl) != nullptr);
        dir = tmpl;
        make(ca, {.cn = "tcpretry test CA", .ca = true}, nullptr);
        make(leaf, {.cn = "localhost", .san = "DNS:localhost,IP:127.0.0.1"}, &ca);
        make(expired,
             {.cn = "localhost",
              .not_before = -30 * k_day,
              .not_after = -3 * k_day - 3600,
              .san = "DNS:localhost,IP:127.0.0.1"},
             &ca);
        make(not_yet,
             {.cn = "localhost",
              .not_before = 5 * k_day + 3600,
              .not_after = 30 * k_day,
              .san = "DNS:localhost,IP:127.0.0.1"},
             &ca);
        make(other, {.cn = "other.example", .san = "DNS:other.example,IP:192.0.2.7"}, &ca);
        make(self_signed, {.cn = "localhost", .san = "DNS:localhost,IP:127.0.0.1"}, nullptr);
        make(untrusted_ca, {.cn = "untrusted CA", .ca = true}, nullptr);
        make(untrusted_leaf, {.cn = "localhost", .san = "DNS:localhost"}, &untrusted_ca);
        make(short_lived,
             {.cn = "localhost", .not_after = 10 * k_day + 3600, .san = "DNS:localhost"}, &ca);
        make(client_ca, {.cn = "tcpretry client CA", .ca = true}, nullptr);
        make(client, {.cn = "tcpretry client", .client = true}, &client_ca);
    }
    ~Pki() {
        std::error_code ec;
        std::filesystem::remove_all(dir, ec);
    }

    void make(Identity& id, const CertSpec& spec, Identity* issuer) {
        id.key = new_key();
        id.cert = make_cert(spec, id.key.get(), issuer ? issuer->cert.get() : nullptr,
                            issuer ? issuer->key.get() : nullptr);
        std::string base = (dir / std::to_string(reinterpret_cast<uintptr_t>(&id))).string();
        id.cert_file = write_pem(base + ".crt", id.cert.get(), nullptr);
        id.key_file = write_pem(base + ".key", nullptr, id.key.get());
    }
};

Pki& pki() {
    static Pki p;
    return p;
}

struct ServerOptions {
    const Identity* identity = nullptr;
    bool tls12_only = false;
    std::vector<std::string> alpn{};     // what the server accepts; empty: no ALPN callback
    const Identity* client_ca = nullptr; // require a client certificate from this CA
};

int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned inlen, void* arg) {
    auto* accepted = static_cast<std::vector<std::string>*>(arg);
    for (const std::string& want : *accepted)
        for (unsigned i = 0; i < inlen; i += 1u + in[i])
            if (in[i] == want.size() &&
                std::string(reinterpret_cast<const char*>(in + i + 1), in[i]) == want) {
                *out = in + i + 1;
                *outlen = in[i];
                return SSL_TLSEXT_ERR_OK;
            }
    return SSL_TLSEXT_ERR_ALERT_FATAL;
}

// One in-process TLS server on one end of a socketpair; the client's end is `client_fd`.
struct Server {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx{nullptr, SSL_CTX_free};
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl{nullptr, SSL_free};
    ServerOptions options;
    int fd = -1;
    UniqueFd client_fd;
    bool finished = false;
    bool ok = false;

    explicit Server(ServerOptions o) : options(std::move(o)) {
        ctx.reset(SSL_CTX_new(TLS_server_method()));
        REQUIRE(ctx);
        if (options.identity) {
            REQUIRE(SSL_CTX_use_certificate(ctx.get(), options.identity->cert.get()) == 1);
            REQUIRE(SSL_CTX_use_PrivateKey(ctx.get(), options.identity->key.get()) == 1);
        }
        if (options.tls12_only)
            SSL_CTX_set_max_proto_version(ctx.get(), TLS1_2_VERSION);
        if (!options.alpn.empty())
            SSL_CTX_set_alpn_select_cb(ctx.get(), select_alpn, &options.alpn);
        if (options.client_ca) {
            X509_STORE_add_cert(SSL_CTX_get_cert_store(ctx.get()), options.client_ca->cert.get());
            SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT,
                               nullptr);
        }
        int sv[2];
        REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
        client_fd = UniqueFd(sv[0]);
        fd = sv[1];
        ssl.reset(SSL_new(ctx.get()));
        SSL_set_fd(ssl.get(), fd);
        SSL_set_accept_state(ssl.get());
    }
    ~Server() {
        ssl.reset();
        if (fd >= 0)
            ::close(fd);
    }

    void step() {
        if (finished)
            return;
        int r = SSL_do_handshake(ssl.get());
        if (r == 1) {
            finished = ok = true;
            return;
        }
        int err = SSL_get_error(ssl.get(), r);
        if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE)
            finished = true;
        ERR_clear_error();
    }
    void close() {
        ::close(fd);
        fd = -1;
    }
};

TlsContext context(TlsConfig config) {
    auto made = TlsContext::make(std::move(config));
    if (auto* error = std::get_if<std::string>(&made))
        FAIL("TlsContext::make: " << *error);
    return std::get<TlsContext>(std::move(made));
}

TlsConfig trusting_ca() {
    TlsConfig c;
    c.ca_file = pki().ca.cert_file;
    return c;
}

struct Run {
    std::unique_ptr<TlsSession> session;
    TlsStep result = TlsStep::want_read;
};

// Drives client and server in turn until the client is done or failed (the socketpair never
// blocks, so every turn makes progress or waits for the other side).
Run handshake(Server& server, const TlsConfig& config, const std::string& host = "localhost") {
    TlsContext ctx = context(config);
    auto started = TlsSession::start(ctx, std::move(server.client_fd), host);
    REQUIRE(std::holds_alternative<std::unique_ptr<TlsSession>>(started));
    Run run{std::get<std::unique_ptr<TlsSession>>(std::move(started))};
    for (int i = 0; i < 1000; ++i) {
        run.result = run.session->step();
        if (run.result == TlsStep::done || run.result == TlsStep::failed)
            break;
        if (server.fd >= 0)
            server.step();
    }
    for (int i = 0; i < 10 && server.fd >= 0; ++i)
        server.step(); // TLS 1.3: the server reads our Finished after we are done
    REQUIRE((run.result == TlsStep::done || run.result == TlsStep::failed));
    return run;
}

std::string code_name(const TlsFailure& f) {
    return std::string(error_code_name(f.code));
}

std::string failure_text(const Run& run) {
    if (run.result != TlsStep::failed)
        return "(no failure)";
    const TlsFailure& f = run.session->failure();
    return std::string(tls_failure_class_name(f)) + " " + code_name(f) + ": " + f.message;
}

} // namespace

TEST_CASE("TLS: a valid certificate for localhost: done, verified, with the leaf's facts") {
    Server server({.identity = &pki().leaf});
    Run run = handshake(server, trusting_ca());
    REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
    const TlsInfo& info = run.session->info();
    CHECK(info.version == "TLSv1.3");
    CHECK_FALSE(info.cipher.empty());
    CHECK(info.sni == "localhost");
    CHECK(info.alpn.empty());
    CHECK(info.verified);
    CHECK_FALSE(info.verify_error);
    REQUIRE(info.cert);
    const CertFacts& c = *info.cert;
    CHECK(c.subject == "CN=localhost,O=tcpretry test");
    CHECK(c.issuer == "CN=tcpretry test CA,O=tcpretry test");
    CHECK(c.dns_names == std::vector<std::string>{"localhost"});
    CHECK(c.ip_addresses == std::vector<std::string>{"127.0.0.1"});
    CHECK((c.days_left == 364 || c.days_left == 365)); // 365 days less the seconds since
    CHECK(c.not_after.size() == 20);
    CHECK(c.not_after.back() == 'Z');
    CHECK(c.not_after[10] == 'T');
    CHECK(c.sha256.size() == 64);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    X509_digest(pki().leaf.cert.get(), EVP_sha256(), md, &len);
    char first[3];
    std::snprintf(first, sizeof first, "%02x", md[0]);
    CHECK(c.sha256.substr(0, 2) == first);
    CHECK_FALSE(c.serial.empty());
    CHECK(c.serial.find_first_not_of("0123456789abcdef") == std::string::npos);
    CHECK(SSL_get_servername(server.ssl.get(), TLSEXT_NAMETYPE_host_name) ==
          std::string("localhost"));
}

TEST_CASE("TLS: an IP literal is checked against the IP SAN and sends no SNI") {
    Server server({.identity = &pki().leaf});
    Run run = handshake(server, trusting_ca(), "127.0.0.1");
    REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
    CHECK(run.session->info().verified);
    CHECK(run.session->info().sni.empty());
    CHECK(SSL_get_servername(server.ssl.get(), TLSEXT_NAMETYPE_host_name) == nullptr);

    SUBCASE("--sni NAME: sent and checked instead") {
        Server s2({.identity = &pki().leaf});
        TlsConfig config = trusting_ca();
        config.sni = "localhost";
        Run r2 = handshake(s2, config, "127.0.0.1");
        REQUIRE_MESSAGE(r2.result == TlsStep::done, failure_text(r2));
        CHECK(r2.session->info().sni == "localhost");
        CHECK(SSL_get_servername(s2.ssl.get(), TLSEXT_NAMETYPE_host_name) ==
              std::string("localhost"));
    }
    SUBCASE("--sni NAME that the certificate lacks fails for that name") {
        Server s2({.identity = &pki().leaf});
        TlsConfig config = trusting_ca();
        config.sni = "db.example";
        Run r2 = handshake(s2, config, "127.0.0.1");
        REQUIRE(r2.result == TlsStep::failed);
        CHECK(code_name(r2.session->failure()) == "X509_V_ERR_HOSTNAME_MISMATCH");
        CHECK(r2.session->failure().message ==
              "certificate is for localhost, 127.0.0.1, not db.example");
    }
}

TEST_CASE("TLS: each verify failure has its X509 name, words and the leaf's facts") {
    struct Case {
        const Identity* identity;
        std::string host;
        std::string name;
        std::string words;
    };
    const Pki& p = pki();
    std::vector<Case> cases = {
        {&p.expired, "localhost", "X509_V_ERR_CERT_HAS_EXPIRED", "certificate expired 3 days ago"},
        {&p.not_yet, "localhost", "X509_V_ERR_CERT_NOT_YET_VALID",
         "certificate is not valid before "},
        {&p.other, "localhost", "X509_V_ERR_HOSTNAME_MISMATCH",
         "certificate is for other.example, 192.0.2.7, not localhost"},
        {&p.other, "127.0.0.1", "X509_V_ERR_IP_ADDRESS_MISMATCH",
         "certificate is for other.example, 192.0.2.7, not 127.0.0.1"},
        {&p.self_signed, "localhost", "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT",
         "certificate is self-signed"},
        {&p.untrusted_leaf, "localhost", "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
         "certificate issuer is not trusted (CN=untrusted CA,O=tcpretry test)"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.name);
        Server server({.identity = c.identity});
        Run run = handshake(server, trusting_ca(), c.host);
        REQUIRE(run.result == TlsStep::failed);
        const TlsFailure& f = run.session->failure();
        CHECK(f.kind == TlsFailureKind::verify);
        CHECK(tls_failure_class_name(f) == "tls_verify");
        CHECK(f.code.domain == ErrorCode::Domain::x509);
        CHECK(code_name(f) == c.name);
        CHECK(f.message.starts_with(c.words));
        REQUIRE(f.cert);
        CHECK(f.cert->sha256.size() == 64);
        CHECK_FALSE(f.cert->subject.empty());
    }
}

TEST_CASE("TLS: expired facts: days_left is negative, rounded down") {
    Server server({.identity = &pki().expired});
    TlsConfig config = trusting_ca();
    config.insecure = true;
    Run run = handshake(server, config);
    REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
    REQUIRE(run.session->info().cert);
    CHECK(run.session->info().cert->days_left == -4); // 3 days and an hour ago
}

TEST_CASE("TLS: insecure connects, reports verified false with the reason and the facts") {
    Server server({.identity = &pki().self_signed});
    TlsConfig config; // no CA file: the system store, which does not know our CA
    config.insecure = true;
    Run run = handshake(server, config);
    REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
    const TlsInfo& info = run.session->info();
    CHECK_FALSE(info.verified);
    CHECK(error_code_name(info.verify_error) == "X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT");
    CHECK(info.verify_message.starts_with("certificate is self-signed"));
    REQUIRE(info.cert);
    CHECK(info.cert->dns_names == std::vector<std::string>{"localhost"});

    SUBCASE("a verified chain under insecure still says verified") {
        Server s2({.identity = &pki().leaf});
        TlsConfig c2 = trusting_ca();
        c2.insecure = true;
        Run r2 = handshake(s2, c2);
        REQUIRE(r2.result == TlsStep::done);
        CHECK(r2.session->info().verified);
    }
}

TEST_CASE("TLS: cert_min_days over and under") {
    SUBCASE("10 days left, 10 asked: passes") {
        Server server({.identity = &pki().short_lived});
        TlsConfig config = trusting_ca();
        config.cert_min_days = 10;
        Run run = handshake(server, config);
        REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
        CHECK(run.session->info().cert->days_left == 10);
    }
    SUBCASE("10 days left, 11 asked: cert_expiring with the facts") {
        Server server({.identity = &pki().short_lived});
        TlsConfig config = trusting_ca();
        config.cert_min_days = 11;
        Run run = handshake(server, config);
        REQUIRE(run.result == TlsStep::failed);
        const TlsFailure& f = run.session->failure();
        CHECK(tls_failure_class_name(f) == "cert_expiring");
        CHECK(f.message.starts_with("certificate expires in 10 days ("));
        CHECK(f.message.ends_with("), fewer than 11"));
        REQUIRE(f.cert);
        CHECK(f.cert->days_left == 10);
    }
    SUBCASE("insecure and expired: still cert_expiring") {
        Server server({.identity = &pki().expired});
        TlsConfig config = trusting_ca();
        config.insecure = true;
        config.cert_min_days = 0;
        Run run = handshake(server, config);
        REQUIRE(run.result == TlsStep::failed);
        CHECK(tls_failure_class_name(run.session->failure()) == "cert_expiring");
        CHECK(run.session->failure().message.starts_with("certificate expired 4 days ago"));
    }
}

TEST_CASE("TLS: min version 1.3 against a 1.2-only server is tls_handshake") {
    Server server({.identity = &pki().leaf, .tls12_only = true});
    TlsConfig config = trusting_ca();
    config.min_version = TlsVersion::tls1_3;
    Run run = handshake(server, config);
    REQUIRE(run.result == TlsStep::failed);
    const TlsFailure& f = run.session->failure();
    CHECK(tls_failure_class_name(f) == "tls_handshake");
    CHECK(f.code.domain == ErrorCode::Domain::tls);
    CHECK(code_name(f) == "SSL_R_TLSV1_ALERT_PROTOCOL_VERSION");
    CHECK(f.message == "the peer refused the TLS version (alert protocol_version)");

    SUBCASE("and 1.2 is fine with it") {
        Server s2({.identity = &pki().leaf, .tls12_only = true});
        Run r2 = handshake(s2, trusting_ca());
        REQUIRE_MESSAGE(r2.result == TlsStep::done, failure_text(r2));
        CHECK(r2.session->info().version == "TLSv1.2");
    }
}

TEST_CASE("TLS: ALPN agreed, refused by alert, or ignored") {
    SUBCASE("agreed: the server's choice is reported") {
        Server server({.identity = &pki().leaf, .alpn = {"http/1.1", "h2"}});
        TlsConfig config = trusting_ca();
        config.alpn = {"h2", "http/1.1"};
        Run run = handshake(server, config);
        REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
        CHECK(run.session->info().alpn == "http/1.1");
    }
    SUBCASE("none in common: the server's alert is tls_alpn") {
        Server server({.identity = &pki().leaf, .alpn = {"h2"}});
        TlsConfig config = trusting_ca();
        config.alpn = {"imap"};
        Run run = handshake(server, config);
        REQUIRE(run.result == TlsStep::failed);
        CHECK(tls_failure_class_name(run.session->failure()) == "tls_alpn");
        CHECK(code_name(run.session->failure()) == "SSL_R_TLSV1_ALERT_NO_APPLICATION_PROTOCOL");
    }
    SUBCASE("a server without ALPN: none agreed is tls_alpn") {
        Server server({.identity = &pki().leaf});
        TlsConfig config = trusting_ca();
        config.alpn = {"h2"};
        Run run = handshake(server, config);
        REQUIRE(run.result == TlsStep::failed);
        CHECK(tls_failure_class_name(run.session->failure()) == "tls_alpn");
        CHECK(run.session->failure().message == "no ALPN protocol agreed (offered h2)");
        CHECK(run.session->failure().cert);
    }
}

TEST_CASE("TLS: mutual TLS with and without a client certificate") {
    const Pki& p = pki();
    TlsConfig with_cert = trusting_ca();
    with_cert.client_cert = p.client.cert_file;
    with_cert.client_key = p.client.key_file;
    for (bool tls12 : {false, true}) {
        CAPTURE(tls12);
        SUBCASE("with: done (TLS 1.3 waits for the server's verdict)") {
            Server server({.identity = &p.leaf, .tls12_only = tls12, .client_ca = &p.client_ca});
            Run run = handshake(server, with_cert);
            REQUIRE_MESSAGE(run.result == TlsStep::done, failure_text(run));
            CHECK(server.ok);
            CHECK_FALSE(run.session->confirming());
        }
        SUBCASE("without: the server's alert is tls_handshake") {
            Server server({.identity = &p.leaf, .tls12_only = tls12, .client_ca = &p.client_ca});
            Run run = handshake(server, trusting_ca());
            REQUIRE(run.result == TlsStep::failed);
            CHECK(tls_failure_class_name(run.session->failure()) == "tls_handshake");
            CHECK(code_name(run.session->failure()) ==
                  (tls12 ? "SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE"
                         : "SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED"));
            CHECK_FALSE(server.ok);
        }
        SUBCASE("with, and a server that never says more: finish_unconfirmed") {
            Server server({.identity = &p.leaf, .tls12_only = tls12, .client_ca = &p.client_ca});
            TlsContext ctx = context(with_cert);
            auto started = TlsSession::start(ctx, std::move(server.client_fd), "localhost");
            auto& session = std::get<std::unique_ptr<TlsSession>>(started);
            TlsStep st = TlsStep::want_read;
            // The server's side up to its Finished, never its tickets: step it only while the
            // client has not finished its part.
            for (int i = 0; i < 1000 && st == TlsStep::want_read && !session->confirming(); ++i) {
                st = session->step();
                if (!session->confirming())
                    server.step();
            }
            if (tls12) {
                CHECK(st == TlsStep::done);
                CHECK_FALSE(session->confirming());
            } else {
                REQUIRE(session->confirming());
                CHECK(session->step() == TlsStep::want_read);
                CHECK(session->finish_unconfirmed() == TlsStep::done);
                CHECK(session->info().verified);
            }
        }
        SUBCASE("a certificate the server does not trust") {
            Server server({.identity = &p.leaf, .tls12_only = tls12, .client_ca = &p.ca});
            Run run = handshake(server, with_cert);
            REQUIRE(run.result == TlsStep::failed);
            CHECK(tls_failure_class_name(run.session->failure()) == "tls_handshake");
            CHECK(code_name(run.session->failure()) == "SSL_R_TLSV1_ALERT_UNKNOWN_CA");
        }
    }
}

TEST_CASE("TLS: a peer that speaks plain text, or closes, fails the handshake") {
    SUBCASE("an SMTP greeting") {
        Server server({.identity = &pki().leaf});
        const char greeting[] = "220 mail.example ESMTP\r\n";
        REQUIRE(::write(server.fd, greeting, sizeof greeting - 1) == sizeof greeting - 1);
        int fd = server.fd;
        server.fd = -1; // the server only talks plain text: never step its TLS
        Run run = handshake(server, trusting_ca());
        server.fd = fd;
        REQUIRE(run.result == TlsStep::failed);
        CHECK(tls_failure_class_name(run.session->failure()) == "tls_handshake");
        CHECK(code_name(run.session->failure()) == "SSL_R_WRONG_VERSION_NUMBER");
        CHECK(run.session->failure().message.starts_with("the peer does not speak TLS"));
        CHECK_FALSE(run.session->failure().cert);
    }
    SUBCASE("closed without a word") {
        Server server({.identity = &pki().leaf});
        server.close();
        Run run = handshake(server, trusting_ca());
        REQUIRE(run.result == TlsStep::failed);
        const TlsFailure& f = run.session->failure();
        // The ClientHello goes out into a closed socketpair: EPIPE, a reset.
        CHECK((code_name(f) == "EPIPE" || code_name(f) == "SSL_R_UNEXPECTED_EOF_WHILE_READING"));
    }
}

namespace {

// A finished handshake with a server that then talks over TLS.
struct Connected {
    Server server;
    Run run;
    Connected() : server({.identity = &pki().leaf}) {
        run = handshake(server, trusting_ca());
        REQUIRE(run.result == TlsStep::done);
        while (!server.ok)
            server.step();
    }
    std::string read_all(TlsSession::Io::Status& end) {
        std::string got;
        char buf[64];
        for (int i = 0; i < 100; ++i) {
            TlsSession::Io io = run.session->read(buf, sizeof buf);
            if (io.status == TlsSession::Io::Status::ok) {
                got.append(buf, io.bytes);
                continue;
            }
            end = io.status;
            if (io.status != TlsSession::Io::Status::want_read)
                break;
        }
        return got;
    }
};

} // namespace

TEST_CASE("TLS: reads tell close_notify from truncation and from a reset") {
    using Status = TlsSession::Io::Status;
    SUBCASE("close_notify: an orderly close") {
        Connected c;
        REQUIRE(SSL_write(c.server.ssl.get(), "hello", 5) == 5);
        SSL_shutdown(c.server.ssl.get());
        Status end = Status::ok;
        CHECK(c.read_all(end) == "hello");
        CHECK(end == Status::closed);
    }
    SUBCASE("EOF without close_notify: truncated") {
        Connected c;
        REQUIRE(SSL_write(c.server.ssl.get(), "hello", 5) == 5);
        c.server.close();
        Status end = Status::ok;
        CHECK(c.read_all(end) == "hello");
        CHECK(end == Status::truncated);
        CHECK(c.run.session->failure().message == "connection closed without close_notify");
    }
    SUBCASE("a reset: the server closes with our data unread") {
        Connected c;
        TlsSession::Io w = c.run.session->write("ping", 4);
        CHECK(w.status == Status::ok);
        CHECK(w.bytes == 4);
        c.server.close(); // unread data in its queue: the socketpair resets
        Status end = Status::ok;
        c.read_all(end);
        CHECK(end == Status::failed);
        CHECK(tls_failure_class_name(c.run.session->failure()) == "reset");
        CHECK(code_name(c.run.session->failure()) == "ECONNRESET");
    }
    SUBCASE("nothing yet: want_read; our close_notify reaches the server") {
        Connected c;
        Status end = Status::ok;
        CHECK(c.read_all(end).empty());
        CHECK(end == Status::want_read);
        CHECK(c.run.session->shutdown());
        char buf[8];
        CHECK(SSL_read(c.server.ssl.get(), buf, sizeof buf) <= 0);
        CHECK(SSL_get_error(c.server.ssl.get(), 0) == SSL_ERROR_ZERO_RETURN);
    }
    SUBCASE("request and reply over the channel") {
        Connected c;
        TlsSession::Io w = c.run.session->write("PING\r\n", 6);
        REQUIRE(w.status == Status::ok);
        char buf[16];
        int n = SSL_read(c.server.ssl.get(), buf, sizeof buf);
        REQUIRE(n == 6);
        CHECK(std::string(buf, 6) == "PING\r\n");
        REQUIRE(SSL_write(c.server.ssl.get(), "+PONG\r\n", 7) == 7);
        Status end = Status::ok;
        CHECK(c.read_all(end) == "+PONG\r\n");
        CHECK(end == Status::want_read);
    }
}

TEST_CASE("TlsContext: errors are one line that names the file") {
    const Pki& p = pki();
    auto error_of = [](TlsConfig config) {
        auto made = TlsContext::make(std::move(config));
        const std::string* e = std::get_if<std::string>(&made);
        return e ? *e : std::string("(no error)");
    };
    TlsConfig missing;
    missing.ca_file = (p.dir / "nope.pem").string();
    CHECK(error_of(missing) ==
          "cannot load CA file " + missing.ca_file + ": no such file or directory");

    std::string garbage = (p.dir / "garbage.pem").string();
    std::ofstream(garbage) << "not a certificate\n";
    TlsConfig bad;
    bad.ca_file = garbage;
    CHECK(error_of(bad).starts_with("cannot load CA file " + garbage + ": "));

    TlsConfig dir;
    dir.ca_path = p.leaf.cert_file;
    CHECK(error_of(dir) == "cannot load CA directory " + p.leaf.cert_file + ": not a directory");

    TlsConfig mismatch;
    mismatch.client_cert = p.client.cert_file;
    mismatch.client_key = p.leaf.key_file;
    CHECK(error_of(mismatch) ==
          "client key " + p.leaf.key_file + " does not match certificate " + p.client.cert_file);

    TlsConfig half;
    half.client_cert = p.client.cert_file;
    CHECK(error_of(half) == "a client certificate needs its key");

    TlsConfig not_key;
    not_key.client_cert = p.client.cert_file;
    not_key.client_key = p.client.cert_file;
    CHECK(error_of(not_key).starts_with("cannot load client key " + p.client.cert_file + ": "));

    TlsConfig fine = trusting_ca();
    fine.client_cert = p.client.cert_file;
    fine.client_key = p.client.key_file;
    fine.ca_path = p.dir.string();
    CHECK(error_of(fine) == "(no error)");
}

TEST_CASE("TLS option parsers: versions and ALPN lists") {
    CHECK(parse_tls_version("1.2") == TlsVersion::tls1_2);
    CHECK(parse_tls_version("1.3") == TlsVersion::tls1_3);
    CHECK_FALSE(parse_tls_version("1.1"));
    CHECK_FALSE(parse_tls_version("TLSv1.3"));
    auto list = parse_alpn_list("h2,http/1.1");
    REQUIRE(std::holds_alternative<std::vector<std::string>>(list));
    CHECK(std::get<std::vector<std::string>>(list) == std::vector<std::string>{"h2", "http/1.1"});
    CHECK(std::holds_alternative<std::string>(parse_alpn_list("")));
    CHECK(std::holds_alternative<std::string>(parse_alpn_list("h2,")));
    CHECK(std::holds_alternative<std::string>(parse_alpn_list(std::string(256, 'a'))));
    CHECK(std::holds_alternative<std::vector<std::string>>(parse_alpn_list(std::string(255, 'a'))));
}

TEST_CASE("cert_facts: days_left is whole days rounded down, negative after expiry") {
    KeyPtr key = new_key();
    CertPtr cert =
        make_cert({.cn = "x", .not_before = -k_day, .not_after = 0}, key.get(), nullptr, nullptr);
    ASN1_TIME_set(X509_getm_notAfter(cert.get()), 2000000000); // 2033-05-18T03:33:20Z
    auto at = [](long s) { return std::chrono::system_clock::from_time_t(s); };
    CHECK(cert_facts(cert.get(), at(2000000000 - k_day - k_day / 2)).days_left == 1);
    CHECK(cert_facts(cert.get(), at(2000000000 - k_day)).days_left == 1);
    CHECK(cert_facts(cert.get(), at(2000000000 - 1)).days_left == 0);
    CHECK(cert_facts(cert.get(), at(2000000000)).days_left == 0);
    CHECK(cert_facts(cert.get(), at(2000000000 + 1)).days_left == -1);
    CHECK(cert_facts(cert.get(), at(2000000000 + k_day + 1)).days_left == -2);
    CertFacts f = cert_facts(cert.get(), at(0));
    CHECK(f.not_after == "2033-05-18T03:33:20Z");
    CHECK(f.not_after_unix == 2000000000);
    CHECK(f.not_before_unix > 0);
    CHECK(f.dns_names.empty());
    CHECK(f.subject == "CN=x,O=tcpretry test");
    CHECK(
        verify_error_words(X509_V_ERR_CERT_HAS_EXPIRED, &f, "x", at(2000000000 + 3 * k_day + 5)) ==
        "certificate expired 3 days ago (2033-05-18T03:33:20Z)");
    CHECK(verify_error_words(X509_V_ERR_CERT_HAS_EXPIRED, &f, "x", at(2000000000 + k_day)) ==
          "certificate expired 1 day ago (2033-05-18T03:33:20Z)");
    CHECK(verify_error_words(X509_V_ERR_CERT_HAS_EXPIRED, &f, "x", at(2000000000 + 60))
              .starts_with("certificate expired less than a day ago"));
    CertFacts named;
    named.dns_names = {"a.example", "b.example", "c.example", "d.example"};
    CHECK(verify_error_words(X509_V_ERR_HOSTNAME_MISMATCH, &named, "db.example", at(0)) ==
          "certificate is for a.example, b.example, c.example and 1 more, not db.example");
    CHECK(verify_error_words(X509_V_ERR_CERT_REVOKED, nullptr, "x", at(0)) ==
          "certificate is revoked");
    CHECK(verify_error_words(X509_V_ERR_PATH_LENGTH_EXCEEDED, nullptr, "x", at(0))
              .starts_with("certificate verify failed: "));
}

TEST_CASE("TLS error names: X509 verify results and libssl reasons") {
    CHECK(x509_verify_error_name(X509_V_OK) == "X509_V_OK");
    CHECK(x509_verify_error_name(X509_V_ERR_CERT_HAS_EXPIRED) == "X509_V_ERR_CERT_HAS_EXPIRED");
    CHECK(x509_verify_error_name(X509_V_ERR_HOSTNAME_MISMATCH) == "X509_V_ERR_HOSTNAME_MISMATCH");
    CHECK(x509_verify_error_name(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY) ==
          "X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY");
    CHECK(x509_verify_error_name(99999) == "X509_V_ERR_UNKNOWN");
    // Every code OpenSSL has a string for has a name of its own.
    int named = 0;
    for (long code = 1; code < 200; ++code) {
        std::string_view name = x509_verify_error_name(code);
        CHECK(name.starts_with("X509_V_"));
        std::string text = X509_verify_cert_error_string(code);
        if (text != "unknown certificate verification error") { // OpenSSL knows it
            CAPTURE(code);
            CHECK(name != "X509_V_ERR_UNKNOWN");
            ++named;
        }
    }
    CHECK(named > 80);
    CHECK(ssl_reason_name(SSL_R_WRONG_VERSION_NUMBER) == "SSL_R_WRONG_VERSION_NUMBER");
    CHECK(ssl_reason_name(SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED) ==
          "SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED");
    CHECK(ssl_reason_name(4095).empty());
    CHECK(error_code_name(ErrorCode::tls(
              static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, SSL_R_TLSV1_ALERT_PROTOCOL_VERSION)))) ==
          "SSL_R_TLSV1_ALERT_PROTOCOL_VERSION");
    CHECK(error_code_name(ErrorCode::tls(static_cast<int>(ERR_PACK(ERR_LIB_X509, 0, 1)))) ==
          "ERR_LIB_X509");
    CHECK(error_code_name(ErrorCode::x509(X509_V_ERR_CERT_NOT_YET_VALID)) ==
          "X509_V_ERR_CERT_NOT_YET_VALID");
    TlsFailure io;
    io.kind = TlsFailureKind::io;
    io.code = ErrorCode::sys(ECONNRESET);
    CHECK(tls_failure_class_name(io) == "reset");
}

TEST_CASE("TLS: libssl's error words are made from the reason names, as OpenSSL's own") {
    // OpenSSL 3.0's strings (ERR_reason_error_string with the strings loaded); tcpretry does
    // not load them (they cost ~1 M instructions a run) and makes the same words.
    struct Case {
        int reason;
        const char* words;
    };
    const Case cases[] = {
        {SSL_R_WRONG_VERSION_NUMBER, "wrong version number"},
        {SSL_R_UNEXPECTED_EOF_WHILE_READING, "unexpected eof while reading"},
        {SSL_R_TLSV1_ALERT_UNKNOWN_CA, "tlsv1 alert unknown ca"},
        {SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE, "sslv3 alert handshake failure"},
        {SSL_R_CERTIFICATE_VERIFY_FAILED, "certificate verify failed"},
        {SSL_R_NO_PROTOCOLS_AVAILABLE, "no protocols available"},
        {SSL_R_AT_LEAST_TLS_1_2_NEEDED_IN_SUITEB_MODE,
         "at least (D)TLS 1.2 needed in Suite B mode"},
        {SSL_R_ILLEGAL_SUITEB_DIGEST, "illegal Suite B digest"},
        {SSL_R_MISSING_SRP_PARAM, "can't find SRP server param"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.reason);
        CHECK(ssl_reason_words(c.reason) == c.words);
    }
    CHECK(ssl_reason_words(4095).empty());
}

// --- on the real Loop over TCP: the way the check phase will drive it --------------------

namespace {

// One side of a conversation driven by fd watches: `step` does what it can and says what to
// wait for next (EV_READ / EV_WRITE), or 0 when it is over. A watch that times out (10 s)
// marks the side stuck.
struct Side {
    Side(Loop& l, int f, std::function<short()> s) : loop(l), fd(f), step(std::move(s)) {}
    Loop& loop;
    int fd;
    std::function<short()> step;
    EventPtr watch;
    bool stuck = false;

    static void on_ready(evutil_socket_t, short what, void* arg) noexcept {
        auto* self = static_cast<Side*>(arg);
        if (what & EV_TIMEOUT) {
            self->stuck = true;
            return;
        }
        self->go();
    }
    void go() {
        short want = step();
        if (want == 0)
            return;
        watch.reset(event_new(loop.base(), fd, want, &on_ready, this));
        timeval ten{10, 0};
        if (!watch || event_add(watch.get(), &ten) != 0)
            stuck = true;
    }
};

short wanted(TlsStep s) {
    return s == TlsStep::want_read ? EV_READ : s == TlsStep::want_write ? EV_WRITE : 0;
}

} // namespace

TEST_CASE("TLS on the Loop over TCP: STARTTLS smtp, then the handshake, then a request") {
    Loop loop;
    tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
    for (int fd : {pair.client.get(), pair.server.get()})
        REQUIRE(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);

    // The server: an SMTP opening in plain text, then TLS, then "PING" -> "PONG".
    Server tls_server({.identity = &pki().leaf}); // its context and SSL, not its socketpair
    SSL* server_ssl = tls_server.ssl.get();
    SSL_set_fd(server_ssl, pair.server.get());
    std::string inbox;
    int server_stage = 0;
    // Nothing may throw inside a libevent callback: CHECK, not REQUIRE, in the sides' steps.
    auto server_send = [&](const char* text) {
        std::size_t n = std::strlen(text);
        CHECK(::send(pair.server.get(), text, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n));
    };
    server_send("220-mail.example ESMTP\r\n220 ready\r\n");
    Side server{loop, pair.server.get(), [&]() -> short {
                    if (server_stage < 2) { // plain text: answer each command
                        char buf[256];
                        ssize_t n = ::recv(pair.server.get(), buf, sizeof buf, 0);
                        if (n > 0)
                            inbox.append(buf, static_cast<std::size_t>(n));
                        if (server_stage == 0 && inbox == "EHLO localhost\r\n") {
                            server_send("250-mail.example\r\n250-PIPELINING\r\n250 STARTTLS\r\n");
                            inbox.clear();
                            server_stage = 1;
                        } else if (server_stage == 1 && inbox == "STARTTLS\r\n") {
                            server_send("220 go ahead\r\n");
                            server_stage = 2;
                        }
                        return EV_READ;
                    }
                    if (server_stage == 2) {
                        int r = SSL_do_handshake(server_ssl);
                        if (r != 1) {
                            int e = SSL_get_error(server_ssl, r);
                            return e == SSL_ERROR_WANT_WRITE  ? EV_WRITE
                                   : e == SSL_ERROR_WANT_READ ? EV_READ
                                                              : 0;
                        }
                        server_stage = 3;
                    }
                    char buf[16];
                    int n = SSL_read(server_ssl, buf, sizeof buf);
                    if (n == 4 && std::string(buf, 4) == "PING") {
                        SSL_write(server_ssl, "PONG", 4);
                        return 0;
                    }
                    return n > 0 || SSL_get_error(server_ssl, n) == SSL_ERROR_WANT_READ ? EV_READ
                                                                                        : 0;
                }};

    // The client: StartTls, then TlsSession, then PING / PONG over it.
    StartTls opening(StartTlsProtocol::smtp);
    TlsContext ctx = context(trusting_ca());
    std::unique_ptr<TlsSession> session;
    int client_fd = pair.client.get();
    UniqueFd client_owned = std::move(pair.client);
    std::string reply;
    bool sent_ping = false;
    auto client_send = [&] {
        std::string out = opening.take_output();
        CHECK(::send(client_fd, out.data(), out.size(), MSG_NOSIGNAL) ==
              static_cast<ssize_t>(out.size()));
    };
    Side client{loop, client_fd, [&]() -> short {
                    if (!session) {
                        char buf[512];
                        ssize_t n = ::recv(client_fd, buf, sizeof buf, 0);
                        if (n > 0)
                            opening.feed(std::string_view(buf, static_cast<std::size_t>(n)));
                        client_send();
                        if (opening.status() == StartTls::Status::more)
                            return EV_READ;
                        CHECK(opening.status() == StartTls::Status::done);
                        auto started = TlsSession::start(ctx, std::move(client_owned), "localhost");
                        auto* made = std::get_if<std::unique_ptr<TlsSession>>(&started);
                        CHECK(made != nullptr);
                        if (!made)
                            return 0;
                        session = std::move(*made);
                    }
                    if (TlsStep st = session->step(); st != TlsStep::done)
                        return wanted(st);
                    if (!sent_ping) {
                        CHECK(session->write("PING", 4).status == TlsSession::Io::Status::ok);
                        sent_ping = true;
                    }
                    char buf[16];
                    TlsSession::Io io = session->read(buf, sizeof buf);
                    if (io.status == TlsSession::Io::Status::ok)
                        reply.append(buf, io.bytes);
                    if (reply == "PONG")
                        return 0;
                    return io.status == TlsSession::Io::Status::want_read ? EV_READ : 0;
                }};
    server.go();
    client.go();
    loop.run();
    CHECK_FALSE(client.stuck);
    CHECK_FALSE(server.stuck);
    REQUIRE(session);
    CHECK(session->step() == TlsStep::done);
    CHECK(session->info().verified);
    CHECK(reply == "PONG");
}

// --- the layered Check (core/check) and a held TLS Connection (core/connection) ----------

namespace {

// A TLS server on the server end of a TCP pair, driven by its own fd watch: optionally an
// SMTP opening first, then the handshake, then "PING" -> "PONG"; then `after` (0: hold).
struct LoopServer {
    enum class After { hold, close_notify, truncate };
    LoopServer(Loop& loop, tcpretry::test::TcpPair& pair, const Identity& id, bool smtp,
               After after = After::hold)
        : tls({.identity = &id}), fd(pair.server.get()), smtp_stage(smtp ? 0 : 2), end(after),
          side(loop, pair.server.get(), [this] { return step(); }) {
        REQUIRE(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
        SSL_set_fd(tls.ssl.get(), fd);
        if (smtp)
            send_text("220 mail.example ESMTP\r\n");
        side.go();
    }
    void send_text(const char* text) {
        std::size_t n = std::strlen(text);
        CHECK(::send(fd, text, n, MSG_NOSIGNAL) == static_cast<ssize_t>(n));
    }
    short step() {
        SSL* ssl = tls.ssl.get();
        if (smtp_stage < 2) {
            char buf[256];
            ssize_t n = ::recv(fd, buf, sizeof buf, 0);
            if (n > 0)
                inbox.append(buf, static_cast<std::size_t>(n));
            if (smtp_stage == 0 && inbox == "EHLO localhost\r\n") {
                send_text("250-mail.example\r\n250 STARTTLS\r\n");
                inbox.clear();
                smtp_stage = 1;
            } else if (smtp_stage == 1 && inbox == "STARTTLS\r\n") {
                send_text("220 go ahead\r\n");
                smtp_stage = 2;
            }
            return EV_READ;
        }
        if (!handshaken) {
            int r = SSL_do_handshake(ssl);
            if (r != 1) {
                int e = SSL_get_error(ssl, r);
                ERR_clear_error();
                return e == SSL_ERROR_WANT_WRITE  ? EV_WRITE
                       : e == SSL_ERROR_WANT_READ ? EV_READ
                                                  : 0;
            }
            handshaken = true;
            if (end == After::close_notify) {
                SSL_shutdown(ssl);
                return 0;
            }
            if (end == After::truncate) {
                ::shutdown(fd, SHUT_WR);
                return 0;
            }
        }
        char buf[16];
        int n = SSL_read(ssl, buf, sizeof buf);
        if (n == 4 && std::string(buf, 4) == "PING")
            SSL_write(ssl, "PONG", 4);
        ERR_clear_error();
        return n > 0 || SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ ? EV_READ : 0;
    }

    Server tls; // its context and SSL, not its socketpair
    int fd;
    int smtp_stage;
    After end;
    std::string inbox;
    bool handshaken = false;
    Side side;
};

struct CheckRun {
    std::optional<CheckOutcome> outcome;
};

CheckOutcome run_check(Loop& loop, const CheckOptions& options, UniqueFd client) {
    REQUIRE(fcntl(client.get(), F_SETFL, fcntl(client.get(), F_GETFL) | O_NONBLOCK) == 0);
    std::optional<CheckOutcome> outcome;
    auto check = make_check(loop, options, "localhost");
    check->start(std::move(client), [&](CheckOutcome o) { outcome = std::move(o); });
    REQUIRE(tcpretry::test::run_until(loop, [&] { return outcome.has_value(); }));
    return std::move(*outcome);
}

} // namespace

TEST_CASE("Check: STARTTLS smtp, the TLS handshake, then --send/--expect over TLS") {
    tcpretry::test::Watchdog dog(20);
    Loop loop;
    tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
    LoopServer server(loop, pair, pki().leaf, true);
    CheckOptions options;
    options.tls = context(trusting_ca());
    options.starttls = StartTlsProtocol::smtp;
    options.send = "PING";
    options.expect = std::get<Matcher>(Matcher::compile("^PONG$"));
    options.timeout = std::chrono::seconds(10);
    CheckOutcome out = run_check(loop, options, std::move(pair.client));
    CHECK_MESSAGE(out.passed, out.message);
    REQUIRE(out.channel);
    CHECK(out.channel.tls() != nullptr);
    REQUIRE(out.tls);
    CHECK(out.tls->verified);
    CHECK(out.tls->sni == "localhost");
    CHECK(out.bytes_read == 4);
}

TEST_CASE("Check: a certificate that does not verify fails tls_verify, with the certificate") {
    tcpretry::test::Watchdog dog(20);
    Loop loop;
    tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
    LoopServer server(loop, pair, pki().expired, false);
    CheckOptions options;
    options.tls = context(trusting_ca());
    options.timeout = std::chrono::seconds(10);
    CheckOutcome out = run_check(loop, options, std::move(pair.client));
    CHECK_FALSE(out.passed);
    CHECK_FALSE(out.channel);
    CHECK(out.error == ErrorClass::tls_verify);
    CHECK(error_code_name(out.code) == "X509_V_ERR_CERT_HAS_EXPIRED");
    REQUIRE(out.cert);
    CHECK(out.cert->days_left < 0);
}

TEST_CASE("Check: a silent server times out naming the TLS handshake; a refused STARTTLS") {
    tcpretry::test::Watchdog dog(20);
    Loop loop;
    SUBCASE("silent") {
        tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
        CheckOptions options;
        options.tls = context(trusting_ca());
        options.timeout = std::chrono::milliseconds(200);
        CheckOutcome out = run_check(loop, options, std::move(pair.client));
        CHECK(out.error == ErrorClass::timeout);
        CHECK(out.message == "TLS handshake timed out after 0.2 s");
        CHECK(error_code_name(out.code) == "ETIMEDOUT");
    }
    SUBCASE("STARTTLS not offered") {
        tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
        const char* text = "220 hi\r\n";
        REQUIRE(::send(pair.server.get(), text, std::strlen(text), 0) > 0);
        std::string ehlo_reply = "250 hi\r\n";
        int sfd = pair.server.get();
        REQUIRE(fcntl(sfd, F_SETFL, fcntl(sfd, F_GETFL) | O_NONBLOCK) == 0);
        Side server{loop, sfd, [&]() -> short {
                        char buf[256];
                        if (::recv(sfd, buf, sizeof buf, 0) <= 0)
                            return EV_READ;
                        CHECK(::send(sfd, ehlo_reply.data(), ehlo_reply.size(), 0) > 0);
                        return 0;
                    }};
        server.go();
        CheckOptions options;
        options.tls = context(trusting_ca());
        options.starttls = StartTlsProtocol::smtp;
        options.timeout = std::chrono::seconds(10);
        CheckOutcome out = run_check(loop, options, std::move(pair.client));
        CHECK(out.error == ErrorClass::starttls);
        CHECK(out.received == "250 hi\r\n");
    }
}

TEST_CASE("Connection over TLS: close_notify is tls_close, an EOF without it tls_error") {
    tcpretry::test::Watchdog dog(20);
    for (auto end : {LoopServer::After::close_notify, LoopServer::After::truncate}) {
        CAPTURE(static_cast<int>(end));
        Loop loop;
        tcpretry::test::TcpPair pair = tcpretry::test::connected_v4_pair();
        LoopServer server(loop, pair, pki().leaf, false, end);
        CheckOptions options;
        options.tls = context(trusting_ca());
        options.timeout = std::chrono::seconds(10);
        CheckOutcome out = run_check(loop, options, std::move(pair.client));
        REQUIRE(out.passed);
        std::optional<DisconnectReason> reason;
        auto c = Connection::open(loop, std::move(out.channel), Duration::zero(),
                                  [&](DisconnectReason r, int) { reason = r; });
        REQUIRE(c);
        REQUIRE(tcpretry::test::run_until(loop, [&] { return reason.has_value(); }));
        if (end == LoopServer::After::close_notify) {
            CHECK(*reason == DisconnectReason::tls_close);
        } else {
            CHECK(*reason == DisconnectReason::tls_error);
            CHECK(c->end_message() == "connection closed without close_notify");
            CHECK_FALSE(c->end_code());
        }
    }
}
