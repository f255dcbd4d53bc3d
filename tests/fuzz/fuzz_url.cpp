// URL TARGETs (core::parse_url): never crash; an error is one clean line naming the URL; an
// accepted URL is consistent: a request target starting with '/', made only of URL
// characters, a port, a Host header fit for the request, a socket path that fits a
// sockaddr_un; and the request built from it is one request (no CR or LF smuggled in).
#include "core/http.hpp"
#include "core/url.hpp"
#include "fuzz_support.hpp"

#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

void check_url(const core::Url& url) {
    require(!url.path.empty() && url.path.front() == '/', "the request target starts with '/'");
    require(fuzz::has_no_control(url.path) && url.path.find(' ') == std::string::npos &&
                url.path.find('#') == std::string::npos,
            "the request target has no space, control byte or fragment");
    require(!url.host_header.empty() && fuzz::has_no_control(url.host_header) &&
                url.host_header.find_first_of(" /@") == std::string::npos,
            "the Host header is one clean word");
    if (url.is_unix()) {
        require(!url.unix_path.empty() && url.unix_path.size() <= core::k_unix_path_max &&
                    url.unix_path.find('\0') == std::string::npos,
                "the socket path fits a sockaddr_un");
        require(url.tcp.port == 0, "a unix URL has no port");
    } else {
        require(url.tcp.port != 0 && !url.tcp.host.empty(), "a TCP URL has a host and port");
        require(url.tcp.text == url.text, "the target keeps the URL's text");
    }
    core::HttpRequest request;
    request.path = url.path;
    request.host = url.host_header;
    std::string bytes = core::build_http_request(request, "fuzz");
    std::size_t lines = 0;
    for (std::size_t at = bytes.find("\r\n"); at != std::string::npos;
         at = bytes.find("\r\n", at + 2))
        ++lines;
    require(lines == 5 && bytes.ends_with("\r\n\r\n"), "the request is one request");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    auto parsed = core::parse_url(text);
    if (auto* error = std::get_if<core::TargetError>(&parsed)) {
        require(error->message.starts_with("invalid URL '"), "an error names the URL");
        require(fuzz::has_no_control(error->message), "an error is one clean line");
        return 0;
    }
    const auto& url = std::get<core::Url>(parsed);
    require(url.text == text, "the URL keeps its text");
    require(core::is_http_url(text), "an accepted URL is recognised as one");
    check_url(url);
    // The same bytes as a --http-header value never make a second header line.
    auto header = core::parse_http_header("X-Fuzz: " + std::string(text));
    if (auto* h = std::get_if<core::HttpHeader>(&header))
        require(h->value.find_first_of("\r\n") == std::string::npos, "a header is one line");
    return 0;
}
