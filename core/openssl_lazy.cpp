// OpenSSL loaded at the first TLS use (the dynamic tcpretry; core/openssl_lazy.hpp says why).
// Each OpenSSL function tcpretry calls is defined here with its exact signature (the compiler
// checks each against OpenSSL's own declaration) and calls the function of the same name in
// libssl.so.3 (or libcrypto.so.3, which libssl loads). Nothing here links libssl, so a call
// added to core/ without its line below is a link error of the dynamic tcpretry.
#include "core/openssl_lazy.hpp"

#include <array>
#include <cstdlib>
#include <dlfcn.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/opensslv.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

// X(return type, name, (parameters), (arguments)): one line per function, sorted by name.
// clang-format off
#define TCPRETRY_OPENSSL_FUNCTIONS(X) \
    X(BIGNUM*, ASN1_INTEGER_to_BN, (const ASN1_INTEGER* ai, BIGNUM* bn), (ai, bn)) \
    X(const unsigned char*, ASN1_STRING_get0_data, (const ASN1_STRING* x), (x)) \
    X(int, ASN1_STRING_length, (const ASN1_STRING* x), (x)) \
    X(int, ASN1_TIME_to_tm, (const ASN1_TIME* s, struct tm* tm), (s, tm)) \
    X(void, BIO_clear_flags, (BIO* b, int flags), (b, flags)) \
    X(long, BIO_ctrl, (BIO* bp, int cmd, long larg, void* parg), (bp, cmd, larg, parg)) \
    X(int, BIO_free, (BIO* a), (a)) \
    X(void*, BIO_get_data, (BIO* a), (a)) \
    X(int, BIO_get_new_index, (), ()) \
    X(BIO_METHOD*, BIO_meth_new, (int type, const char* name), (type, name)) \
    X(int, BIO_meth_set_create, (BIO_METHOD* biom, int (*create)(BIO*)), (biom, create)) \
    X(int, BIO_meth_set_ctrl, (BIO_METHOD* biom, long (*ctrl)(BIO*, int, long, void*)), (biom, ctrl)) \
    X(int, BIO_meth_set_read, (BIO_METHOD* biom, int (*read)(BIO*, char*, int)), (biom, read)) \
    X(int, BIO_meth_set_write, (BIO_METHOD* biom, int (*write)(BIO*, const char*, int)), (biom, write)) \
    X(BIO*, BIO_new, (const BIO_METHOD* type), (type)) \
    X(const BIO_METHOD*, BIO_s_mem, (), ()) \
    X(void, BIO_set_data, (BIO* a, void* ptr), (a, ptr)) \
    X(void, BIO_set_flags, (BIO* b, int flags), (b, flags)) \
    X(void, BIO_set_init, (BIO* a, int init), (a, init)) \
    X(char*, BN_bn2hex, (const BIGNUM* a), (a)) \
    X(void, BN_free, (BIGNUM* a), (a)) \
    X(void, CRYPTO_free, (void* ptr, const char* file, int line), (ptr, file, line)) \
    X(void, ERR_clear_error, (), ()) \
    X(unsigned long, ERR_get_error, (), ()) \
    X(unsigned long, ERR_peek_error, (), ()) \
    X(unsigned long, ERR_peek_error_line, (const char** file, int* line), (file, line)) \
    X(unsigned long, ERR_peek_last_error, (), ()) \
    X(const char*, ERR_reason_error_string, (unsigned long e), (e)) \
    X(const EVP_MD*, EVP_sha256, (), ()) \
    X(void, GENERAL_NAMES_free, (GENERAL_NAMES* a), (a)) \
    X(int, OPENSSL_init_ssl, (uint64_t opts, const OPENSSL_INIT_SETTINGS* settings), (opts, settings)) \
    X(int, OPENSSL_sk_num, (const OPENSSL_STACK* arg0), (arg0)) \
    X(void*, OPENSSL_sk_value, (const OPENSSL_STACK* arg0, int arg1), (arg0, arg1)) \
    X(const char*, SSL_CIPHER_get_name, (const SSL_CIPHER* c), (c)) \
    X(int, SSL_CTX_check_private_key, (const SSL_CTX* ctx), (ctx)) \
    X(long, SSL_CTX_ctrl, (SSL_CTX* ctx, int cmd, long larg, void* parg), (ctx, cmd, larg, parg)) \
    X(void, SSL_CTX_free, (SSL_CTX* arg0), (arg0)) \
    X(int, SSL_CTX_load_verify_locations, (SSL_CTX* ctx, const char* CAfile, const char* CApath), (ctx, CAfile, CApath)) \
    X(int, SSL_CTX_load_verify_dir, (SSL_CTX* ctx, const char* CApath), (ctx, CApath)) \
    X(SSL_CTX*, SSL_CTX_new, (const SSL_METHOD* meth), (meth)) \
    X(void, SSL_CTX_sess_set_new_cb, (SSL_CTX* ctx, int (*new_session_cb)(struct ssl_st* ssl, SSL_SESSION* sess)), (ctx, new_session_cb)) \
    X(int, SSL_CTX_set_alpn_protos, (SSL_CTX* ctx, const unsigned char* protos, unsigned int protos_len), (ctx, protos, protos_len)) \
    X(int, SSL_CTX_set_default_verify_paths, (SSL_CTX* ctx), (ctx)) \
    X(int, SSL_CTX_use_PrivateKey_file, (SSL_CTX* ctx, const char* file, int type), (ctx, file, type)) \
    X(int, SSL_CTX_use_certificate_chain_file, (SSL_CTX* ctx, const char* file), (ctx, file)) \
    X(long, SSL_ctrl, (SSL* ssl, int cmd, long larg, void* parg), (ssl, cmd, larg, parg)) \
    X(int, SSL_do_handshake, (SSL* s), (s)) \
    X(void, SSL_free, (SSL* ssl), (ssl)) \
    X(void, SSL_get0_alpn_selected, (const SSL* ssl, const unsigned char** data, unsigned int* len), (ssl, data, len)) \
    X(X509_VERIFY_PARAM*, SSL_get0_param, (SSL* ssl), (ssl)) \
    X(X509*, SSL_get1_peer_certificate, (const SSL* s), (s)) \
    X(const SSL_CIPHER*, SSL_get_current_cipher, (const SSL* s), (s)) \
    X(int, SSL_get_error, (const SSL* s, int ret_code), (s, ret_code)) \
    X(void*, SSL_get_ex_data, (const SSL* ssl, int idx), (ssl, idx)) \
    X(int, SSL_get_ex_data_X509_STORE_CTX_idx, (), ()) \
    X(long, SSL_get_verify_result, (const SSL* ssl), (ssl)) \
    X(const char*, SSL_get_version, (const SSL* s), (s)) \
    X(SSL*, SSL_new, (SSL_CTX* ctx), (ctx)) \
    X(int, SSL_peek_ex, (SSL* ssl, void* buf, size_t num, size_t* readbytes), (ssl, buf, num, readbytes)) \
    X(int, SSL_pending, (const SSL* s), (s)) \
    X(int, SSL_read_ex, (SSL* ssl, void* buf, size_t num, size_t* readbytes), (ssl, buf, num, readbytes)) \
    X(int, SSL_set1_host, (SSL* s, const char* hostname), (s, hostname)) \
    X(void, SSL_set_bio, (SSL* s, BIO* rbio, BIO* wbio), (s, rbio, wbio)) \
    X(void, SSL_set_cert_cb, (SSL* s, int (*cb)(SSL* ssl, void* arg), void* arg), (s, cb, arg)) \
    X(void, SSL_set_connect_state, (SSL* s), (s)) \
    X(int, SSL_set_ex_data, (SSL* ssl, int idx, void* data), (ssl, idx, data)) \
    X(void, SSL_set_hostflags, (SSL* s, unsigned int flags), (s, flags)) \
    X(void, SSL_set_verify, (SSL* s, int mode, SSL_verify_cb callback), (s, mode, callback)) \
    X(int, SSL_shutdown, (SSL* s), (s)) \
    X(int, SSL_version, (const SSL* ssl), (ssl)) \
    X(int, SSL_write_ex, (SSL* s, const void* buf, size_t num, size_t* written), (s, buf, num, written)) \
    X(const SSL_METHOD*, TLS_client_method, (), ()) \
    X(int, X509_NAME_print_ex, (BIO* out, const X509_NAME* nm, int indent, unsigned long flags), (out, nm, indent, flags)) \
    X(X509*, X509_STORE_CTX_get0_cert, (const X509_STORE_CTX* ctx), (ctx)) \
    X(int, X509_STORE_CTX_get_error, (const X509_STORE_CTX* ctx), (ctx)) \
    X(void*, X509_STORE_CTX_get_ex_data, (const X509_STORE_CTX* ctx, int idx), (ctx, idx)) \
    X(int, X509_VERIFY_PARAM_set1_ip_asc, (X509_VERIFY_PARAM* param, const char* ipasc), (param, ipasc)) \
    X(int, X509_digest, (const X509* data, const EVP_MD* type, unsigned char* md, unsigned int* len), (data, type, md, len)) \
    X(void, X509_free, (X509* a), (a)) \
    X(const ASN1_TIME*, X509_get0_notAfter, (const X509* x), (x)) \
    X(const ASN1_TIME*, X509_get0_notBefore, (const X509* x), (x)) \
    X(const ASN1_INTEGER*, X509_get0_serialNumber, (const X509* x), (x)) \
    X(const char*, X509_get_default_cert_dir, (), ()) \
    X(const char*, X509_get_default_cert_dir_env, (), ()) \
    X(const char*, X509_get_default_cert_file_env, (), ()) \
    X(void*, X509_get_ext_d2i, (const X509* x, int nid, int* crit, int* idx), (x, nid, crit, idx)) \
    X(X509_NAME*, X509_get_issuer_name, (const X509* a), (a)) \
    X(X509_NAME*, X509_get_subject_name, (const X509* a), (a)) \
    X(int, X509_up_ref, (X509* x), (x)) \
    X(const char*, X509_verify_cert_error_string, (long n), (n))
// clang-format on

namespace tcpretry::core {

namespace {

#define TCPRETRY_STRINGIFY(x) #x
#define TCPRETRY_SONAME(version) "libssl.so." TCPRETRY_STRINGIFY(version)
// The soname of the OpenSSL whose headers this was compiled with.
constexpr const char* k_libssl = TCPRETRY_SONAME(OPENSSL_SHLIB_VERSION);

enum Index : std::size_t {
#define TCPRETRY_OPENSSL_INDEX(ret, name, params, args) index_##name,
    TCPRETRY_OPENSSL_FUNCTIONS(TCPRETRY_OPENSSL_INDEX) k_function_count
};

constexpr std::array<const char*, k_function_count> k_names = {
#define TCPRETRY_OPENSSL_NAME(ret, name, params, args) #name,
    TCPRETRY_OPENSSL_FUNCTIONS(TCPRETRY_OPENSSL_NAME)};

struct Library {
    std::array<void*, k_function_count> functions{};
    std::string error; // empty: every function was found
};

// Loads libssl and finds every function at once, so that a library without one of them is
// an error at the start rather than a crash in the middle of a handshake.
Library load() {
    Library lib;
    void* handle = dlopen(k_libssl, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        const char* why = dlerror();
        lib.error = std::string("cannot load OpenSSL (") + k_libssl + "): " + (why ? why : "");
        return lib;
    }
    for (std::size_t i = 0; i < k_function_count; ++i) {
        lib.functions[i] = dlsym(handle, k_names[i]);
        if (!lib.functions[i]) {
            lib.error =
                std::string("cannot use OpenSSL (") + k_libssl + "): it has no " + k_names[i];
            return lib; // the handle stays open: dlclose at exit would gain nothing
        }
    }
    return lib;
}

const Library& library() {
    static const Library lib = load(); // on the first TLS use only
    return lib;
}

// The loaded function at `index`, as the type of its declaration.
template <typename Function> Function loaded(Index index) {
    const Library& lib = library();
    // TlsContext::make asks openssl_load_error() before any other call: a run gets here only
    // with every function found.
    if (!lib.error.empty())
        std::abort();
    return reinterpret_cast<Function>(lib.functions[index]);
}

} // namespace

std::string openssl_load_error() {
    return library().error;
}

} // namespace tcpretry::core

extern "C" {

#define TCPRETRY_OPENSSL_DEFINE(ret, name, params, args)                                           \
    ret name params {                                                                              \
        return tcpretry::core::loaded<decltype(&name)>(tcpretry::core::index_##name) args;         \
    }
TCPRETRY_OPENSSL_FUNCTIONS(TCPRETRY_OPENSSL_DEFINE)

} // extern "C"
