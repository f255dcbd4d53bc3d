// The /probe query (app::parse_probe_query) and --serve-allow (app::AllowList): never crash;
// an error is one clean line (it is the 400 answer's body); an accepted query names a target
// that parses again, as a command-line TARGET, to the same host and port; percent_decode never
// grows the text; an allow list's verdict on a target does not depend on the host's case.
#include "app/serve_query.hpp"
#include "fuzz_support.hpp"

#include <algorithm>
#include <cctype>
#include <string>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

void check_query(std::string_view text) {
    auto parsed = app::parse_probe_query(text);
    if (auto* e = std::get_if<app::QueryError>(&parsed)) {
        require(!e->message.empty() && fuzz::has_no_control(e->message) &&
                    e->message.size() < 5 * app::k_max_probe_query + 200,
                "an error is one clean line of bounded length");
        return;
    }
    const auto& q = std::get<app::ProbeQuery>(parsed);
    require(text.size() <= app::k_max_probe_query, "an accepted query is within the limit");
    require(fuzz::has_no_control(q.target.text), "the target's text is clean");
    auto again = core::parse_target(q.target.text);
    auto* t = std::get_if<core::Target>(&again);
    require(t != nullptr, "an accepted target parses again as a TARGET");
    require(t->host == q.target.host && t->port == q.target.port,
            "parsed again, the same host and port");
}

void check_allow(std::string_view text) {
    // The first line: --serve-allow entries; the rest: a query to judge with them.
    auto nl = text.find('\n');
    std::string_view list = text.substr(0, nl);
    std::string_view query = nl == std::string_view::npos ? "" : text.substr(nl + 1);
    app::AllowList allow;
    for (const auto& entry : app::split_allow_list(list)) {
        if (auto e = allow.add(entry))
            require(fuzz::has_no_control(*e) || !fuzz::has_no_control(entry),
                    "an entry's error is clean unless the entry was not");
    }
    auto parsed = app::parse_probe_query(query);
    if (auto* q = std::get_if<app::ProbeQuery>(&parsed)) {
        core::Target upper = q->target;
        std::transform(upper.host.begin(), upper.host.end(), upper.host.begin(),
                       [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
        if (!upper.numeric)
            require(allow.allows_target(upper) == allow.allows_target(q->target),
                    "names are judged without regard to case");
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    std::string_view text = fuzz::as_text(data, size);
    check_query(text);
    if (auto decoded = app::percent_decode(text))
        require(decoded->size() <= text.size(), "decoding never grows the text");
    check_allow(text);
    return 0;
}
