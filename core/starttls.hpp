// The plain-text openings before a STARTTLS handshake (--starttls PROTO), as pure state
// machines over bytes: no socket, no clock. The caller sends take_output(), feeds what it
// receives, and starts TLS once feed() says done.
//
//   smtp      220 greeting (multi-line allowed) -> EHLO name -> 250 reply listing STARTTLS ->
//             STARTTLS -> 220
//   imap      * OK greeting -> A1 CAPABILITY -> * CAPABILITY ... STARTTLS, A1 OK ->
//             A2 STARTTLS -> A2 OK
//   pop3      +OK greeting -> CAPA -> +OK list with STLS ending in "." (a -ERR to CAPA: STLS
//             is tried anyway) -> STLS -> +OK
//   ftp       220 greeting (after any 1yz) -> AUTH TLS -> 234
//   postgres  SSLRequest (length 8, code 80877103) -> 'S' (go on with TLS); 'N' refuses
//
// A server that refuses, does not offer STARTTLS, answers out of protocol, or sends anything
// after its go-ahead (bytes that would be read as if they came over TLS: an injection) fails
// the opening, with its reply kept as received(). Every buffer is bounded: a line over
// k_starttls_line_limit or a reply over k_starttls_reply_limit bytes fails.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace tcpretry::core {

enum class StartTlsProtocol { smtp, imap, pop3, ftp, postgres };

// "smtp", "imap", "pop3", "ftp", "postgres"; nullopt for anything else.
std::optional<StartTlsProtocol> parse_starttls_protocol(std::string_view name);
std::string_view starttls_protocol_name(StartTlsProtocol protocol);

inline constexpr std::size_t k_starttls_line_limit = 4096;   // one line, with its CRLF
inline constexpr std::size_t k_starttls_reply_limit = 16384; // one reply, all its lines

class StartTls {
  public:
    enum class Status { more, done, failed };

    // `client_name` is what EHLO says (SMTP only).
    explicit StartTls(StartTlsProtocol protocol, std::string client_name = "localhost");

    // The bytes to send now: the first command (or SSLRequest) before anything was fed, then
    // each command once the reply before it arrived. Empty when there is nothing to send.
    std::string take_output();

    // Takes received bytes, in pieces of any size. After done or failed it changes nothing.
    Status feed(std::string_view bytes);

    Status status() const { return m_status; }
    StartTlsProtocol protocol() const { return m_protocol; }
    // failed: why, one line ("server does not offer STARTTLS (EHLO reply: 250 mail.example)")
    const std::string& message() const { return m_message; }
    // failed: the server's reply in question, raw (at most the reply and line limits)
    const std::string& received() const { return m_reply; }

  private:
    enum class Stage { greeting, capabilities, command, finished };

    Status fail(std::string message);
    Status done(std::size_t leftover);
    Status feed_postgres(std::string_view bytes);
    // Lines of the text protocols: each complete line (without CR LF) goes to on_line.
    Status on_line(std::string_view line, std::size_t leftover);
    Status on_smtp_or_ftp_line(std::string_view line, std::size_t leftover);
    Status on_imap_line(std::string_view line, std::size_t leftover);
    Status on_pop3_line(std::string_view line, std::size_t leftover);
    void send(std::string command);

    StartTlsProtocol m_protocol;
    std::string m_client_name;
    Stage m_stage = Stage::greeting;
    Status m_status = Status::more;
    std::string m_output;
    std::string m_line;  // the line being received
    std::string m_reply; // the reply being received: its lines, raw
    std::string m_message;
    int m_reply_code = -1;  // smtp, ftp: the code of a multi-line reply under way
    bool m_offered = false; // the capability list named STARTTLS / STLS
    bool m_in_list = false; // pop3: inside CAPA's multi-line list
};

} // namespace tcpretry::core
