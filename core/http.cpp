#include "core/http.hpp"

#include "core/escape.hpp"
#include "core/target.hpp"

#include <algorithm>

namespace tcpretry::core {

namespace {

char lower(char c) {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [](char x, char y) { return lower(x) == lower(y); });
}

bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

// RFC 9110's tchar: what a header name (a token) is made of.
bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c))
        return true;
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view s) {
    return !s.empty() && std::all_of(s.begin(), s.end(), is_token_char);
}

// A field value or reason phrase: no control byte but tab (bytes above 0x7f are obs-text).
bool is_field_text(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) {
        auto u = static_cast<unsigned char>(c);
        return (u < 0x20 && c != '\t') || u == 0x7f;
    });
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
        s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
        s.remove_suffix(1);
    return s;
}

// "Name: value" into its parts (the value trimmed); nullopt when the name is not a token.
std::optional<HttpHeader> split_header(std::string_view line) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
        return std::nullopt;
    return HttpHeader{std::string(line.substr(0, colon)),
                      std::string(trim(line.substr(colon + 1)))};
}

// A status code or range bound: three digits, 100..599.
std::optional<int> parse_code(std::string_view s) {
    if (s.size() != 3 || !std::all_of(s.begin(), s.end(), is_digit))
        return std::nullopt;
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (code < 100 || code > 599)
        return std::nullopt;
    return code;
}

// A decimal number of at most 18 digits (no overflow); nullopt otherwise.
std::optional<uint64_t> parse_length(std::string_view s) {
    if (s.empty() || s.size() > 18 || !std::all_of(s.begin(), s.end(), is_digit))
        return std::nullopt;
    uint64_t n = 0;
    for (char c : s)
        n = n * 10 + static_cast<uint64_t>(c - '0');
    return n;
}

std::string shown(std::string_view line) {
    return quote(line.substr(0, 64)) + (line.size() > 64 ? "..." : "");
}

} // namespace

// -- status list -----------------------------------------------------------------------------

void StatusSet::add(int first, int last) {
    for (int code = first; code <= last; ++code)
        m_bits[idx(code) / 64] |= uint64_t{1} << (idx(code) % 64);
}

std::variant<StatusSet, std::string> parse_status_list(std::string_view list) {
    if (list.empty())
        return std::string("the status list is empty (as in 200-399 or 200,204)");
    StatusSet set;
    std::size_t start = 0;
    while (start <= list.size()) {
        std::size_t comma = std::min(list.find(',', start), list.size());
        std::string_view part = list.substr(start, comma - start);
        if (part.empty())
            return "empty entry in the status list " + quote(list);
        auto dash = part.find('-');
        std::string_view low = part.substr(0, dash);
        std::string_view high = dash == std::string_view::npos ? low : part.substr(dash + 1);
        auto first = parse_code(low);
        auto last = parse_code(high);
        if (!first || !last)
            return quote(part) + " is not a status code or range of them (100-599)";
        if (*first > *last)
            return "the range " + quote(part) + " ends before it starts";
        set.add(*first, *last);
        start = comma + 1;
    }
    set.m_text = std::string(list);
    return set;
}

// -- the request -----------------------------------------------------------------------------

std::optional<HttpMethod> parse_http_method(std::string_view name) {
    if (equals_ignoring_case(name, "GET"))
        return HttpMethod::get;
    if (equals_ignoring_case(name, "HEAD"))
        return HttpMethod::head;
    return std::nullopt;
}

std::string_view http_method_name(HttpMethod method) {
    return method == HttpMethod::head ? "HEAD" : "GET";
}

std::variant<HttpHeader, std::string> parse_http_header(std::string_view line) {
    if (line.find_first_of("\r\n") != std::string_view::npos)
        return "the header " + quote(line) + " contains CR or LF";
    auto colon = line.find(':');
    if (colon == std::string_view::npos)
        return "the header " + quote(line) + " is not 'Name: value'";
    std::string_view name = line.substr(0, colon);
    if (name.empty())
        return "the header " + quote(line) + " has an empty name";
    if (!is_token(name))
        return "the header name " + quote(name) + " is not a token (letters, digits, -, _ ...)";
    std::string_view value = trim(line.substr(colon + 1));
    if (!is_field_text(value))
        return "the header " + quote(line) + " contains a control character";
    for (std::string_view refused : {"Content-Length", "Transfer-Encoding", "Connection"})
        if (equals_ignoring_case(name, refused))
            return "the header " + std::string(refused) +
                   " cannot be set: the request has no body and always ends with "
                   "'Connection: close'";
    return HttpHeader{std::string(name), std::string(value)};
}

std::string build_http_request(const HttpRequest& request, std::string_view version) {
    // Host and User-Agent first, replaced by a header of the same name the user gave.
    std::vector<HttpHeader> headers = {{"Host", request.host},
                                       {"User-Agent", "tcpretry/" + std::string(version)},
                                       {"Connection", "close"}};
    for (const HttpHeader& extra : request.headers) {
        auto same = std::find_if(headers.begin(), headers.begin() + 2, [&](const HttpHeader& h) {
            return equals_ignoring_case(h.name, extra.name);
        });
        if (same != headers.begin() + 2)
            *same = extra;
        else
            headers.push_back(extra);
    }
    std::string out =
        std::string(http_method_name(request.method)) + " " + request.path + " HTTP/1.1\r\n";
    for (const HttpHeader& h : headers)
        out += h.name + ": " + h.value + "\r\n";
    return out + "\r\n";
}

// -- the response ----------------------------------------------------------------------------

HttpResponseParser::Status HttpResponseParser::fail(std::string message) {
    m_message = std::move(message);
    m_stage = Stage::finished;
    return m_status = Status::failed;
}

HttpResponseParser::Status HttpResponseParser::finish_message(bool complete) {
    m_body_complete = complete;
    m_stage = Stage::finished;
    return m_status = Status::done;
}

std::string HttpResponseParser::received() const {
    const std::string& shown = m_head_done ? m_body : m_start;
    return shown.substr(0, k_received_shown);
}

HttpResponseParser::Status HttpResponseParser::feed(std::string_view bytes) {
    m_bytes += bytes.size();
    if (m_start.size() < k_received_shown)
        m_start.append(bytes.substr(0, k_received_shown - m_start.size()));
    while (!bytes.empty() && m_status == Status::more) {
        bool body = m_stage == Stage::body_length || m_stage == Stage::body_eof ||
                    m_stage == Stage::chunk_data;
        bytes.remove_prefix(body ? feed_body(bytes) : feed_line(bytes));
    }
    return m_status;
}

HttpResponseParser::Status HttpResponseParser::finish() {
    if (m_status != Status::more)
        return m_status;
    switch (m_stage) {
    case Stage::status_line:
        if (m_bytes == 0)
            return fail("connection closed before any response");
        if (m_line.empty())
            return fail("connection closed after an interim " + std::to_string(m_code) +
                        " response");
        return fail("connection closed inside the status line");
    case Stage::header:
        return fail("connection closed inside the response headers");
    case Stage::body_eof:
        return finish_message(true);
    case Stage::body_length:
        return fail("connection closed after " + std::to_string(m_length - m_left) + " of " +
                    std::to_string(m_length) + " body bytes");
    default:
        return fail("connection closed inside the chunked body");
    }
}

// Line stages: up to and including the next LF, within the stage's limit.
std::size_t HttpResponseParser::feed_line(std::string_view bytes) {
    auto lf = bytes.find('\n');
    std::size_t take = lf == std::string_view::npos ? bytes.size() : lf + 1;
    switch (m_stage) {
    case Stage::status_line:
    case Stage::header:
        if (take > k_http_head_limit - m_head_used) {
            fail("headers longer than " + std::to_string(k_http_head_limit) + " bytes");
            return take;
        }
        m_head_used += take;
        break;
    case Stage::trailer:
        if (take > k_http_trailer_limit - m_trailer_used) {
            fail("bad chunked body: trailers longer than " + std::to_string(k_http_trailer_limit) +
                 " bytes");
            return take;
        }
        m_trailer_used += take;
        break;
    case Stage::chunk_size:
        if (m_line.size() + take > k_http_chunk_line_limit) {
            fail("bad chunked body: chunk-size line longer than " +
                 std::to_string(k_http_chunk_line_limit) + " bytes");
            return take;
        }
        break;
    default:
        break;
    }
    m_line.append(bytes.substr(0, take));
    // Fail at once on what cannot become the line it must be: a server that is not HTTP (an
    // SSH or SMTP banner) or chunk data longer than its size, without waiting for more.
    bool not_http =
        m_stage == Stage::status_line && std::string_view("HTTP/1.").substr(0, m_line.size()) !=
                                             std::string_view(m_line).substr(0, 7);
    bool chunk_too_long =
        m_stage == Stage::chunk_end && m_line != "\r" && m_line != "\r\n" && m_line != "\n";
    if (not_http)
        fail("not an HTTP/1.x response");
    else if (chunk_too_long)
        fail("bad chunked body: chunk data longer than its size");
    if (not_http || chunk_too_long)
        return take;
    if (lf == std::string_view::npos)
        return take;
    std::string_view line(m_line);
    line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r')
        line.remove_suffix(1);
    on_line(line);
    m_line.clear();
    return take;
}

void HttpResponseParser::on_line(std::string_view line) {
    switch (m_stage) {
    case Stage::status_line:
        return on_status_line(line);
    case Stage::header:
        return on_header_line(line);
    case Stage::chunk_size:
        return on_chunk_size_line(line);
    case Stage::chunk_end:
        m_stage = Stage::chunk_size;
        return;
    case Stage::trailer:
        return on_trailer_line(line);
    default:
        return;
    }
}

// "HTTP/1.1 200 OK": version, a space, three digits, then nothing or a space and the reason.
void HttpResponseParser::on_status_line(std::string_view line) {
    auto code = line.size() >= 12 ? parse_code(line.substr(9, 3)) : std::nullopt;
    bool ok = code && is_digit(line[7]) && line[8] == ' ' &&
              (line.size() == 12 || line[12] == ' ') && is_field_text(line);
    if (!ok) {
        fail("malformed status line " + shown(line));
        return;
    }
    m_minor = line[7] - '0';
    m_code = *code;
    m_reason = std::string(line.size() > 13 ? line.substr(13) : std::string_view());
    m_headers.clear();
    m_stage = Stage::header;
}

void HttpResponseParser::on_header_line(std::string_view line) {
    if (line.empty())
        return on_head_end();
    if (line.front() == ' ' || line.front() == '\t') {
        fail("obsolete header line folding " + shown(line));
        return;
    }
    auto header = split_header(line);
    if (!header || !is_field_text(header->value)) {
        fail("malformed header line " + shown(line));
        return;
    }
    m_headers.push_back(std::move(*header));
}

// The head is over: skip an interim response, or frame the body as the headers say.
void HttpResponseParser::on_head_end() {
    if (m_code < 200 && m_code != 101) {
        m_stage = Stage::status_line;
        return;
    }
    m_head_done = true;
    if (m_head || m_code < 200 || m_code == 204 || m_code == 304) {
        finish_message(true);
        return;
    }
    std::string encodings;
    std::optional<uint64_t> length;
    for (const HttpHeader& h : m_headers) {
        if (equals_ignoring_case(h.name, "Transfer-Encoding")) {
            encodings += "," + h.value;
        } else if (equals_ignoring_case(h.name, "Content-Length")) {
            // "10, 10" (a list of one value repeated) is one length; anything else is bad.
            std::string_view rest = h.value;
            while (true) {
                auto comma = std::min(rest.find(','), rest.size());
                auto n = parse_length(trim(rest.substr(0, comma)));
                if (!n || (length && *length != *n)) {
                    fail("bad Content-Length " + shown(h.value));
                    return;
                }
                length = n;
                if (comma == rest.size())
                    break;
                rest.remove_prefix(comma + 1);
            }
        }
    }
    if (!encodings.empty()) {
        // Transfer-Encoding wins over Content-Length; chunked must be the last coding,
        // otherwise the body runs to EOF (RFC 9112 6.3).
        std::string_view last = trim(std::string_view(encodings).substr(encodings.rfind(',') + 1));
        m_stage = equals_ignoring_case(last, "chunked") ? Stage::chunk_size : Stage::body_eof;
    } else if (length) {
        m_length = m_left = *length;
        if (m_left == 0)
            finish_message(true);
        else
            m_stage = Stage::body_length;
    } else {
        m_stage = Stage::body_eof;
    }
}

// "1a2b[ ;extension...]": the size in hex, then nothing or chunk extensions (ignored).
void HttpResponseParser::on_chunk_size_line(std::string_view line) {
    std::size_t digits = 0;
    uint64_t size = 0;
    while (digits < line.size() && hex_value(line[digits]) >= 0) {
        if (size > (uint64_t{1} << 56)) {
            fail("bad chunked body: chunk size " + shown(line) + " is too large");
            return;
        }
        size = size * 16 + static_cast<uint64_t>(hex_value(line[digits++]));
    }
    std::string_view rest = trim(line.substr(digits));
    if (digits == 0 || (!rest.empty() && rest.front() != ';') || !is_field_text(rest)) {
        fail("bad chunked body: bad chunk-size line " + shown(line));
        return;
    }
    if (size == 0) {
        m_stage = Stage::trailer;
    } else {
        m_left = size;
        m_stage = Stage::chunk_data;
    }
}

void HttpResponseParser::on_trailer_line(std::string_view line) {
    if (line.empty()) {
        finish_message(true);
        return;
    }
    auto header = split_header(line);
    if (!header || !is_field_text(header->value))
        fail("bad chunked body: malformed trailer line " + shown(line));
}

// Body stages: the bytes the framing says belong to the body.
std::size_t HttpResponseParser::feed_body(std::string_view bytes) {
    // No further than the kept body's limit, so what is read does not depend on the cut.
    std::size_t take = std::min(bytes.size(), k_http_body_limit - m_body.size());
    if (m_stage != Stage::body_eof)
        take = static_cast<std::size_t>(std::min<uint64_t>(m_left, take));
    keep_body(bytes.substr(0, take));
    if (m_stage != Stage::body_eof) {
        m_left -= take;
        if (m_left == 0 && m_stage == Stage::body_length) {
            finish_message(true);
            return take;
        }
        if (m_left == 0)
            m_stage = Stage::chunk_end;
    }
    // Enough for --expect: a readiness check reads no further into a large body.
    if (m_body.size() >= k_http_body_limit)
        finish_message(false);
    return take;
}

void HttpResponseParser::keep_body(std::string_view data) {
    m_body_bytes += data.size();
    if (m_body.size() < k_http_body_limit)
        m_body.append(data.substr(0, k_http_body_limit - m_body.size()));
}

// -- the verdict -----------------------------------------------------------------------------

HttpVerdict judge_http_response(const HttpResponseParser& response, const StatusSet& accepted,
                                const Matcher* expect) {
    using Kind = HttpVerdictKind;
    if (response.headers_complete() && !accepted.contains(response.code())) {
        std::string status = std::to_string(response.code());
        if (!response.reason().empty())
            status += " " + response.reason();
        return {Kind::status,
                "HTTP status " + shown(status) + " is not accepted (" + accepted.text() + ")"};
    }
    if (response.status() == HttpResponseParser::Status::failed)
        return {Kind::protocol, response.message()};
    if (response.status() == HttpResponseParser::Status::more)
        return {Kind::protocol, "response cut short"};
    if (expect && !expect->matches(response.body()))
        return {Kind::expect_mismatch, response.body().size() < k_http_body_limit
                                           ? std::string("body did not match")
                                           : "no match in the first " +
                                                 std::to_string(k_http_body_limit) +
                                                 " bytes of the body"};
    return {Kind::ready, {}};
}

} // namespace tcpretry::core
