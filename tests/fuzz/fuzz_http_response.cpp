// The HTTP response parser (core::HttpResponseParser): the first byte says HEAD or GET and
// whether EOF follows, the second how the rest (what the server sends) is cut into pieces.
// Never crash; the kept body and received() stay bounded; a finished parse stays finished;
// the outcome (status, code, reason, body, message) does not depend on the cut; a failure
// says why in one clean line; done means the head was read; the verdict agrees.
#include "core/http.hpp"
#include "fuzz_support.hpp"

#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;
using Status = core::HttpResponseParser::Status;

namespace {

struct Outcome {
    Status status = Status::more;
    int code = 0;
    std::string reason;
    std::string body;
    bool complete = false;
    uint64_t body_bytes = 0;
    std::string message;
    std::string received;

    bool operator==(const Outcome&) const = default;
};

// The verdict agrees with the parse, and says why in one clean line.
void check_verdict(const core::HttpResponseParser& p) {
    static const auto accepted = std::get<core::StatusSet>(core::parse_status_list("200-399"));
    core::HttpVerdict v = core::judge_http_response(p, accepted);
    bool ok_status = p.code() >= 200 && p.code() <= 399;
    if (v.kind == core::HttpVerdictKind::ready) {
        require(p.status() == Status::done && ok_status,
                "ready means done with an accepted status");
        require(v.message.empty(), "ready has no message");
    } else {
        require(!v.message.empty() && fuzz::has_no_control(v.message),
                "a verdict says why in one clean line");
        require(v.kind != core::HttpVerdictKind::status || !ok_status,
                "a status failure has a status outside the list");
    }
}

Outcome play(std::string_view server, std::size_t piece, bool head, bool eof) {
    core::HttpResponseParser p(head);
    std::string_view rest = server;
    while (!rest.empty()) {
        std::size_t n = std::min(piece, rest.size());
        Status before = p.status();
        Status after = p.feed(rest.substr(0, n));
        require(before == Status::more || after == before, "a finished parse stays so");
        rest.remove_prefix(n);
        require(p.body().size() <= core::k_http_body_limit, "the kept body is bounded");
        require(p.received().size() <= core::k_received_shown, "received() is bounded");
    }
    require(p.bytes_received() == server.size(), "every byte fed is counted");
    if (eof)
        p.finish();
    Outcome out{p.status(),        p.code(),       p.reason(),  p.body(),
                p.body_complete(), p.body_bytes(), p.message(), p.received()};
    if (p.status() == Status::failed) {
        require(!p.message().empty(), "a failure says why");
        require(fuzz::has_no_control(p.message()), "a failure's message is one clean line");
    } else {
        require(p.message().empty(), "no message without a failure");
    }
    if (p.status() == Status::done) {
        require(p.headers_complete(), "done means the head was read");
        require(p.code() >= 100 && p.code() <= 599, "done has a status code");
        require(!head || p.body().empty(), "HEAD has no body");
    }
    if (eof)
        require(p.status() != Status::more, "EOF ends the parse");
    check_verdict(p);
    return out;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    if (size < 2)
        return 0;
    bool head = data[0] & 1;
    bool eof = data[0] & 2;
    std::size_t piece = 1 + data[1] % 17;
    std::string_view server = fuzz::as_text(data + 2, size - 2);
    Outcome whole = play(server, server.size() + 1, head, eof);
    Outcome cut = play(server, piece, head, eof);
    require(cut == whole, "the outcome does not depend on the cut");
    if (server.size() <= 4096) {
        Outcome bytes = play(server, 1, head, eof);
        require(bytes == whole, "the outcome does not depend on the cut (byte by byte)");
    }
    return 0;
}
