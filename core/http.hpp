// HTTP/1.1 readiness, the pure parts (no socket, no clock): the accepted status list
// (--http-status), the request (GET or HEAD, --http-header), and an incremental parser of the
// response, fed whatever arrives in pieces of any size.
//
// The response parser reads the status line (HTTP/1.0 or HTTP/1.x), the headers (at most
// k_http_head_limit bytes, status line included), then the body as the headers frame it:
// chunked (extensions and trailers allowed), Content-Length, or until EOF. It keeps the first
// k_http_body_limit bytes of the decoded body (what --expect matches) and stops there: a
// readiness check needs no more of a large body. Interim 1xx responses (100, 103 Early
// Hints) are skipped; 101, 204, 304 and any answer to HEAD have no body.
#pragma once

#include "core/expect.hpp"

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace tcpretry::core {

// -- the accepted status codes (--http-status) ---------------------------------------------

inline constexpr std::string_view k_http_status_default = "200-399";

class StatusSet {
  public:
    StatusSet() = default; // accepts nothing
    bool contains(int code) const {
        return code >= 100 && code <= 599 && (m_bits[idx(code) / 64] >> (idx(code) % 64) & 1);
    }
    void add(int first, int last); // both 100..599, first <= last
    const std::string& text() const { return m_text; }

  private:
    friend std::variant<StatusSet, std::string> parse_status_list(std::string_view list);
    static std::size_t idx(int code) { return static_cast<std::size_t>(code - 100); }
    std::array<uint64_t, 8> m_bits{};
    std::string m_text;
};

// "200-399", "200,204", "200-299,401": codes and ranges from 100 to 599, comma-separated. The
// error names the bad part: "'600' is not a status code (100-599)".
std::variant<StatusSet, std::string> parse_status_list(std::string_view list);

// -- the request ----------------------------------------------------------------------------

enum class HttpMethod { get, head };

std::optional<HttpMethod> parse_http_method(std::string_view name); // "GET", "HEAD", any case
std::string_view http_method_name(HttpMethod method);               // "GET", "HEAD"

struct HttpHeader {
    std::string name;
    std::string value;
};

// --http-header 'Name: value'. The name is an RFC 9110 token; the value (spaces around it
// dropped) has no CR, LF, NUL or other control byte but tab. Content-Length,
// Transfer-Encoding and Connection are refused (the request has no body and always closes);
// Host and User-Agent replace the defaults.
std::variant<HttpHeader, std::string> parse_http_header(std::string_view line);

struct HttpRequest {
    HttpMethod method = HttpMethod::get;
    std::string path = "/";          // the request target, as the URL wrote it
    std::string host;                // the Host header
    std::vector<HttpHeader> headers; // from parse_http_header, in command-line order
};

// "GET /path HTTP/1.1\r\nHost: ...\r\nUser-Agent: tcpretry/VERSION\r\nConnection: close\r\n"
// then each extra header, then the empty line.
std::string build_http_request(const HttpRequest& request, std::string_view version);

// -- the response ---------------------------------------------------------------------------

inline constexpr std::size_t k_http_head_limit = 16384;          // status line + headers, each CRLF
inline constexpr std::size_t k_http_trailer_limit = 16384;       // a chunked body's trailer section
inline constexpr std::size_t k_http_body_limit = k_expect_limit; // decoded body bytes kept
inline constexpr std::size_t k_http_chunk_line_limit = 4096; // a chunk-size line, extensions too

class HttpResponseParser {
  public:
    enum class Status { more, done, failed };

    // `head`: the request was HEAD, so the response has no body whatever its headers say.
    explicit HttpResponseParser(bool head = false) : m_head(head) {}

    // Takes received bytes, in pieces of any size. done: the response ended, or the kept body
    // is full (body_complete() says which). After done or failed it changes nothing but
    // bytes_received() (and received() while it shows the first bytes).
    Status feed(std::string_view bytes);
    // The connection reached EOF: done when the body runs to EOF, failed when the response
    // was cut short.
    Status finish();

    Status status() const { return m_status; }
    bool headers_complete() const { return m_head_done; }
    int code() const { return m_code; }                    // 0 until the status line arrived
    const std::string& reason() const { return m_reason; } // raw bytes
    int minor_version() const { return m_minor; }          // HTTP/1.0 -> 0, HTTP/1.1 -> 1
    const std::vector<HttpHeader>& headers() const { return m_headers; } // the final response's
    const std::string& body() const { return m_body; }     // first k_http_body_limit decoded bytes
    bool body_complete() const { return m_body_complete; } // done and the whole body was read
    uint64_t body_bytes() const { return m_body_bytes; }   // decoded body bytes seen
    uint64_t bytes_received() const { return m_bytes; }    // every byte fed
    // failed: why, one line ("headers longer than 16384 bytes").
    const std::string& message() const { return m_message; }
    // What an event shows as `received`, at most k_received_shown bytes: before the body, the
    // first bytes fed, as they came (an SSH banner, a cut head); from the body on, the start
    // of the decoded body.
    std::string received() const;

  private:
    enum class Stage {
        status_line,
        header,
        body_length, // Content-Length
        body_eof,    // until the connection closes
        chunk_size,
        chunk_data,
        chunk_end, // the CRLF after a chunk's data
        trailer,
        finished,
    };

    Status fail(std::string message);
    Status finish_message(bool complete);
    std::size_t feed_line(std::string_view bytes);
    std::size_t feed_body(std::string_view bytes);
    void on_line(std::string_view line);
    void on_status_line(std::string_view line);
    void on_header_line(std::string_view line);
    void on_head_end();
    void on_chunk_size_line(std::string_view line);
    void on_trailer_line(std::string_view line);
    void keep_body(std::string_view data);

    bool m_head;
    Stage m_stage = Stage::status_line;
    Status m_status = Status::more;
    std::string m_line;          // the line being received, with its CR
    std::size_t m_head_used = 0; // bytes of status lines and headers so far (1xx included)
    std::size_t m_trailer_used = 0;
    bool m_head_done = false;
    int m_code = 0;
    int m_minor = 1;
    std::string m_reason;
    std::vector<HttpHeader> m_headers;
    uint64_t m_left = 0;   // body_length: bytes to come; chunk_data: bytes of this chunk
    uint64_t m_length = 0; // body_length: the Content-Length
    std::string m_body;
    bool m_body_complete = false;
    uint64_t m_body_bytes = 0;
    uint64_t m_bytes = 0;
    std::string m_start; // the first k_received_shown bytes, raw
    std::string m_message;
};

// -- the verdict -----------------------------------------------------------------------------

// How a finished exchange ended for readiness. The check maps each kind to its ErrorClass:
// status -> http_status, protocol -> http_protocol, expect_mismatch -> expect_mismatch.
enum class HttpVerdictKind { ready, status, protocol, expect_mismatch };

struct HttpVerdict {
    HttpVerdictKind kind = HttpVerdictKind::protocol;
    std::string message; // empty when ready
};

// After the parser finished (done or failed; `more` counts as cut short): a status outside
// `accepted` is a status failure whenever the status line was read, even if the body then
// broke; a response that broke otherwise is a protocol failure; then `expect` (if any) must
// match the kept body.
HttpVerdict judge_http_response(const HttpResponseParser& response, const StatusSet& accepted,
                                const Matcher* expect = nullptr);

} // namespace tcpretry::core
