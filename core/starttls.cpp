#include "core/starttls.hpp"

#include <utility>

namespace tcpretry::core {

namespace {

constexpr std::size_t k_excerpt = 120;

// A reply line as messages quote it: at most k_excerpt bytes, control bytes as '?'.
std::string excerpt(std::string_view line) {
    std::string out;
    for (char c : line.substr(0, k_excerpt)) {
        auto u = static_cast<unsigned char>(c);
        out += u < 0x20 || u == 0x7f ? '?' : c;
    }
    if (line.size() > k_excerpt)
        out += "...";
    return out;
}

char upper(char c) {
    return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}

bool equals_ci(std::string_view a, std::string_view b) {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (upper(a[i]) != upper(b[i]))
            return false;
    return true;
}

bool starts_with_ci(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && equals_ci(s.substr(0, prefix.size()), prefix);
}

// Whether a space-separated token of `s` is `word` (case-insensitive).
bool has_token(std::string_view s, std::string_view word) {
    std::size_t i = 0;
    while (i < s.size()) {
        while (i < s.size() && s[i] == ' ')
            ++i;
        std::size_t end = s.find(' ', i);
        if (end == std::string_view::npos)
            end = s.size();
        if (equals_ci(s.substr(i, end - i), word))
            return true;
        i = end;
    }
    return false;
}

// Whether the first space-separated token of `s` is `word` (case-insensitive): a capability
// line's keyword ("STARTTLS", "STLS"), not a parameter of another one.
bool first_token_is(std::string_view s, std::string_view word) {
    return equals_ci(s.substr(0, s.find(' ')), word);
}

// The three-digit code of an SMTP / FTP reply line and what follows it: ' ' or end (a last
// line) or '-' (more follow); -1 when the line does not start so.
int reply_code(std::string_view line, char& separator) {
    if (line.size() < 3)
        return -1;
    int code = 0;
    for (std::size_t i = 0; i < 3; ++i) {
        if (line[i] < '0' || line[i] > '9')
            return -1;
        code = code * 10 + (line[i] - '0');
    }
    separator = line.size() > 3 ? line[3] : ' ';
    if (separator != ' ' && separator != '-')
        return -1;
    return code;
}

// Each line of a raw reply, without its line end.
template <typename F> void for_each_line(std::string_view reply, F f) {
    while (!reply.empty()) {
        std::size_t nl = reply.find('\n');
        std::string_view line = reply.substr(0, nl);
        if (!line.empty() && line.back() == '\r')
            line.remove_suffix(1);
        f(line);
        if (nl == std::string_view::npos)
            break;
        reply.remove_prefix(nl + 1);
    }
}

} // namespace

std::optional<StartTlsProtocol> parse_starttls_protocol(std::string_view name) {
    for (auto p : {StartTlsProtocol::smtp, StartTlsProtocol::imap, StartTlsProtocol::pop3,
                   StartTlsProtocol::ftp, StartTlsProtocol::postgres})
        if (name == starttls_protocol_name(p))
            return p;
    return std::nullopt;
}

std::string_view starttls_protocol_name(StartTlsProtocol protocol) {
    switch (protocol) {
    case StartTlsProtocol::smtp:
        return "smtp";
    case StartTlsProtocol::imap:
        return "imap";
    case StartTlsProtocol::pop3:
        return "pop3";
    case StartTlsProtocol::ftp:
        return "ftp";
    case StartTlsProtocol::postgres:
        return "postgres";
    }
    return "smtp";
}

StartTls::StartTls(StartTlsProtocol protocol, std::string client_name)
    : m_protocol(protocol), m_client_name(std::move(client_name)) {
    if (protocol == StartTlsProtocol::postgres) {
        // SSLRequest: Int32 length 8, Int32 code 80877103 (1234 << 16 | 5679), big-endian.
        m_output.assign("\x00\x00\x00\x08\x04\xd2\x16\x2f", 8);
        m_stage = Stage::command;
    }
}

std::string StartTls::take_output() {
    return std::exchange(m_output, std::string());
}

StartTls::Status StartTls::fail(std::string message) {
    m_status = Status::failed;
    m_stage = Stage::finished;
    m_message = std::move(message);
    m_output.clear();
    return m_status;
}

StartTls::Status StartTls::done(std::size_t leftover) {
    if (leftover > 0)
        return fail("server sent " + std::to_string(leftover) +
                    " more bytes after its go-ahead (before the TLS handshake)");
    m_status = Status::done;
    m_stage = Stage::finished;
    return m_status;
}

void StartTls::send(std::string command) {
    m_output += command;
    m_reply.clear();
    m_reply_code = -1;
}

StartTls::Status StartTls::feed(std::string_view bytes) {
    if (m_status != Status::more)
        return m_status;
    if (m_protocol == StartTlsProtocol::postgres)
        return feed_postgres(bytes);
    while (!bytes.empty()) {
        std::size_t nl = bytes.find('\n');
        std::size_t take = nl == std::string_view::npos ? bytes.size() : nl + 1;
        if (m_line.size() + take > k_starttls_line_limit) {
            m_reply += m_line;
            m_reply += bytes.substr(0, std::min(take, k_starttls_line_limit - m_line.size()));
            return fail("server sent a line over " + std::to_string(k_starttls_line_limit) +
                        " bytes");
        }
        m_line += bytes.substr(0, take);
        bytes.remove_prefix(take);
        if (nl == std::string_view::npos)
            break;
        if (m_reply.size() + m_line.size() > k_starttls_reply_limit) {
            return fail("server sent a reply over " + std::to_string(k_starttls_reply_limit) +
                        " bytes");
        }
        m_reply += m_line;
        std::string line = std::exchange(m_line, std::string());
        line.pop_back(); // '\n'
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (on_line(line, bytes.size()) != Status::more)
            return m_status;
    }
    return m_status;
}

StartTls::Status StartTls::feed_postgres(std::string_view bytes) {
    if (bytes.empty())
        return m_status;
    m_reply.append(bytes.substr(0, k_starttls_reply_limit));
    switch (bytes[0]) {
    case 'S':
        return done(bytes.size() - 1);
    case 'N':
        return fail("server does not support SSL (answered 'N' to SSLRequest)");
    case 'E':
        return fail("server answered SSLRequest with an error");
    default:
        return fail("not a PostgreSQL reply to SSLRequest");
    }
}

StartTls::Status StartTls::on_line(std::string_view line, std::size_t leftover) {
    switch (m_protocol) {
    case StartTlsProtocol::smtp:
    case StartTlsProtocol::ftp:
        return on_smtp_or_ftp_line(line, leftover);
    case StartTlsProtocol::imap:
        return on_imap_line(line, leftover);
    case StartTlsProtocol::pop3:
        return on_pop3_line(line, leftover);
    case StartTlsProtocol::postgres:
        break;
    }
    return m_status;
}

// SMTP (RFC 5321) and FTP (RFC 959) replies: "220 text", or "220-text" ... "220 text".
// FTP allows other lines inside a multi-line reply; SMTP servers send none, so one rule reads
// both.
StartTls::Status StartTls::on_smtp_or_ftp_line(std::string_view line, std::size_t leftover) {
    bool smtp = m_protocol == StartTlsProtocol::smtp;
    char separator = ' ';
    int code = reply_code(line, separator);
    if (m_reply_code < 0) {
        if (code < 0)
            return fail(std::string(smtp ? "not an SMTP reply: " : "not an FTP reply: ") +
                        excerpt(line));
        if (separator == '-') {
            m_reply_code = code;
            return m_status;
        }
    } else if (code != m_reply_code || separator == '-') {
        return m_status; // inside a multi-line reply
    }
    switch (m_stage) {
    case Stage::greeting:
        if (!smtp && code >= 100 && code < 200) { // 120: ready in a while; the 220 follows
            m_reply.clear();
            m_reply_code = -1;
            return m_status;
        }
        if (code != 220)
            return fail("server refused the session: " + excerpt(line));
        if (smtp) {
            send("EHLO " + m_client_name + "\r\n");
            m_stage = Stage::capabilities;
        } else {
            send("AUTH TLS\r\n");
            m_stage = Stage::command;
        }
        return m_status;
    case Stage::capabilities: {
        if (code != 250)
            return fail("EHLO refused: " + excerpt(line));
        bool offered = false;
        for_each_line(m_reply, [&](std::string_view l) {
            if (l.size() > 4 && first_token_is(l.substr(4), "STARTTLS"))
                offered = true;
        });
        if (!offered)
            return fail("server does not offer STARTTLS");
        send("STARTTLS\r\n");
        m_stage = Stage::command;
        return m_status;
    }
    case Stage::command:
        if (code == (smtp ? 220 : 234))
            return done(leftover);
        return fail(std::string(smtp ? "STARTTLS refused: " : "AUTH TLS refused: ") +
                    excerpt(line));
    case Stage::finished:
        break;
    }
    return m_status;
}

// IMAP (RFC 9051): untagged "* ..." lines, then the command's tagged "A1 OK".
StartTls::Status StartTls::on_imap_line(std::string_view line, std::size_t leftover) {
    switch (m_stage) {
    case Stage::greeting:
        if (starts_with_ci(line, "* OK")) {
            send("A1 CAPABILITY\r\n");
            m_stage = Stage::capabilities;
            return m_status;
        }
        if (starts_with_ci(line, "* PREAUTH"))
            return fail("server pre-authenticated the session (STARTTLS is not allowed): " +
                        excerpt(line));
        if (starts_with_ci(line, "* BYE"))
            return fail("server refused the session: " + excerpt(line));
        return fail("not an IMAP greeting: " + excerpt(line));
    case Stage::capabilities:
        if (starts_with_ci(line, "* CAPABILITY ") && has_token(line.substr(13), "STARTTLS"))
            m_offered = true;
        if (starts_with_ci(line, "* BYE"))
            return fail("server closed the session: " + excerpt(line));
        if (!line.starts_with("A1 "))
            return m_status;
        if (!starts_with_ci(line.substr(3), "OK"))
            return fail("CAPABILITY refused: " + excerpt(line));
        if (!m_offered)
            return fail("server does not offer STARTTLS");
        send("A2 STARTTLS\r\n");
        m_stage = Stage::command;
        return m_status;
    case Stage::command:
        if (starts_with_ci(line, "* BYE"))
            return fail("server closed the session: " + excerpt(line));
        if (!line.starts_with("A2 "))
            return m_status;
        if (starts_with_ci(line.substr(3), "OK"))
            return done(leftover);
        return fail("STARTTLS refused: " + excerpt(line));
    case Stage::finished:
        break;
    }
    return m_status;
}

// POP3 (RFC 1939, RFC 2449 CAPA, RFC 2595 STLS): "+OK" / "-ERR"; CAPA's list ends with ".".
StartTls::Status StartTls::on_pop3_line(std::string_view line, std::size_t leftover) {
    switch (m_stage) {
    case Stage::greeting:
        if (starts_with_ci(line, "+OK")) {
            send("CAPA\r\n");
            m_stage = Stage::capabilities;
            return m_status;
        }
        if (starts_with_ci(line, "-ERR"))
            return fail("server refused the session: " + excerpt(line));
        return fail("not a POP3 greeting: " + excerpt(line));
    case Stage::capabilities:
        if (!m_in_list) {
            if (starts_with_ci(line, "+OK")) {
                m_in_list = true;
                return m_status;
            }
            if (starts_with_ci(line, "-ERR")) { // no CAPA (RFC 1939 only): try STLS anyway
                send("STLS\r\n");
                m_stage = Stage::command;
                return m_status;
            }
            return fail("not a POP3 reply to CAPA: " + excerpt(line));
        }
        if (line != ".") {
            if (first_token_is(line, "STLS"))
                m_offered = true;
            return m_status;
        }
        if (!m_offered)
            return fail("server does not offer STLS");
        send("STLS\r\n");
        m_stage = Stage::command;
        return m_status;
    case Stage::command:
        if (starts_with_ci(line, "+OK"))
            return done(leftover);
        return fail("STLS refused: " + excerpt(line));
    case Stage::finished:
        break;
    }
    return m_status;
}

} // namespace tcpretry::core
