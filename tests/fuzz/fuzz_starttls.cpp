// The STARTTLS reply parsers (core::StartTls): the first byte picks the protocol, the second
// how the rest (what the server sends) is cut into pieces. Never crash; buffers stay bounded;
// a finished opening stays finished; the outcome does not depend on how the bytes were cut
// (fed whole or in pieces: the same status and words, bytes after the go-ahead an injection
// either way); a failure says why in one clean line.
#include "core/starttls.hpp"
#include "fuzz_support.hpp"

#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

struct Outcome {
    core::StartTls::Status status = core::StartTls::Status::more;
    std::string message;
    bool injection = false; // done with bytes left over, or failed for them
};

bool is_injection(const std::string& message) {
    return message.starts_with("server sent ") &&
           message.find("more bytes after its go-ahead") != std::string::npos;
}

Outcome play(core::StartTlsProtocol protocol, std::string_view server, std::size_t piece) {
    core::StartTls s(protocol);
    std::size_t sent = s.take_output().size();
    while (!server.empty() && s.status() == core::StartTls::Status::more) {
        std::size_t n = std::min(piece, server.size());
        s.feed(server.substr(0, n));
        server.remove_prefix(n);
        sent += s.take_output().size();
        require(s.received().size() <= core::k_starttls_reply_limit + core::k_starttls_line_limit,
                "received() is bounded");
    }
    require(sent <= 64, "the client sends a few short commands only");
    Outcome out{s.status(), s.message()};
    if (s.status() == core::StartTls::Status::done && !server.empty()) {
        out.status = core::StartTls::Status::failed;
        out.injection = true;
    }
    if (s.status() == core::StartTls::Status::failed) {
        out.injection = is_injection(s.message());
        require(!s.message().empty(), "a failure says why");
        require(fuzz::has_no_control(s.message()), "a failure's message is one clean line");
    } else {
        require(s.message().empty(), "no message without a failure");
    }
    // Finished stays finished, whatever comes next.
    core::StartTls::Status before = s.status();
    if (before != core::StartTls::Status::more) {
        require(s.feed("220 STARTTLS\r\n+OK\r\nS") == before, "a finished opening stays so");
        require(s.take_output().empty(), "nothing to send once finished");
    }
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    auto protocol = static_cast<core::StartTlsProtocol>(data[0] % 5);
    std::size_t piece = 1 + data[1] % 13;
    std::string_view server = fuzz::as_text(data + 2, size - 2);
    Outcome whole = play(protocol, server, server.size() + 1);
    Outcome cut = play(protocol, server, piece);
    Outcome bytes = play(protocol, server, 1);
    for (const Outcome* o : {&cut, &bytes}) {
        require(o->status == whole.status, "the status does not depend on the cut");
        require(o->injection == whole.injection, "an injection is one however cut");
        require(o->injection || o->message == whole.message, "the words do not depend on the cut");
    }
    return 0;
}
