// Linked only into the static binary (app/CMakeLists.txt), with -Wl,--wrap for each function
// below. libevent's evutil.o refers to getaddrinfo, getservbyname and getprotobynumber, and
// libcrypto to getaddrinfo, gethostbyname (BIO_lookup) and dlopen (engines, provider
// modules). In a static glibc those load NSS modules or shared objects at run time, which a
// scratch image does not have (the linker warns so). tcpretry never needs them: names go to
// its own resolver (/etc/hosts, then evdns), services to its own /etc/services reader
// (core/services.hpp), and OpenSSL's built-in providers are compiled in. So the references
// land here instead, and fail the way the C library fails when it has no answer.
#include <netdb.h>

extern "C" {

int __wrap_getaddrinfo(const char*, const char*, const addrinfo*, addrinfo** res) {
    if (res)
        *res = nullptr;
    return EAI_FAIL;
}

servent* __wrap_getservbyname(const char*, const char*) {
    return nullptr;
}

protoent* __wrap_getprotobynumber(int) {
    return nullptr;
}

hostent* __wrap_gethostbyname(const char*) {
    h_errno = NO_RECOVERY;
    return nullptr;
}

void* __wrap_dlopen(const char*, int) {
    return nullptr;
}

char* __wrap_dlerror() {
    static char message[] = "a static tcpretry cannot load shared objects";
    return message;
}

} // extern "C"
