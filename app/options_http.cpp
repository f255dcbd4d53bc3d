// The HTTP room of the option parser: http:// and https:// TARGETs and --http-*.
#include "app/options_internal.hpp"

#include "core/http.hpp"
#include "core/url.hpp"

namespace tcpretry::app::options_internal {

using core::Duration;
using core::quote;

void add_http_flags(CLI::App& app, Raw& r) {
    const char* g = "HTTP (http:// and https:// TARGETs)";
    option(app, r, r.http_method, "--http-method", "The request's method: GET or HEAD", "METHOD",
           g);
    r.http_method.opt->default_str("GET");
    option(app, r, r.http_header, "--http-header",
           "Add a request header 'Name: value' (repeatable; Host and User-Agent replace ours)",
           "HEADER", g);
    r.http_header.opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    option(app, r, r.http_status, "--http-status",
           "Ready on these statuses: codes and ranges, e.g. 200,204 or 200-299,401 (redirects "
           "are not followed)",
           "LIST", g);
    r.http_status.opt->default_str(std::string(core::k_http_status_default));
}

// Whether any TARGET word is an HTTP URL (`https_only`: an https:// one): decided before the
// TARGETs are read, for the flags an HTTP TARGET makes valid alone.
bool any_url_word(const Raw& r, bool https_only) {
    for (const auto* words : {&r.words, &r.env_words})
        for (const std::string& w : *words)
            if (core::is_http_url(w) &&
                (!https_only || (w.size() > 8 && (w[4] == 's' || w[4] == 'S') && w[5] == ':')))
                return true;
    return false;
}

// The URL TARGET `text`: its host and port (or socket) become the target, the URL is kept
// for its request.
std::optional<UsageError> add_url(const std::string& text, std::string_view source, Options& o) {
    std::string where = source.empty() ? "" : std::string(source) + ": ";
    auto parsed = core::parse_url(text);
    if (auto* e = std::get_if<core::TargetError>(&parsed))
        return UsageError{where + e->message};
    auto& url = std::get<core::Url>(parsed);
    if (url.is_unix()) {
        // HTTP over a Unix socket: the connect is a unix: TARGET's.
        auto target = core::make_unix_target(url.unix_path, url.text);
        if (auto* e = std::get_if<core::TargetError>(&target))
            return UsageError{where + e->message};
        o.targets.push_back(std::get<core::Target>(std::move(target)));
    } else {
        o.targets.push_back(url.tcp);
    }
    o.urls.emplace_back(o.targets.size() - 1, std::move(url));
    return std::nullopt;
}

namespace {

// What an HTTP TARGET cannot be used with.
std::optional<UsageError> check_http_mode(const Raw& r, const Options& o) {
    std::string first = quote(o.urls.front().second.text);
    if (r.watch.on)
        return UsageError{r.watch.name() + " cannot hold an HTTP TARGET (" + first +
                          "): its request closes the connection; use --count to check it "
                          "again and again"};
    if (o.invert)
        return UsageError{r.invert.name() + " cannot be used with an HTTP TARGET (" + first + ")"};
    if (r.starttls.given())
        return UsageError{r.starttls.name() + " cannot be used with an HTTP TARGET (" + first +
                          ")"};
    if (r.send.given())
        return UsageError{r.send.name() + " cannot be used with an HTTP TARGET (" + first +
                          "): the request is made for it"};
    if (r.dialogue.size() > 1)
        return UsageError{r.expect.name() + " is given once with an HTTP TARGET (" + first +
                          "): it matches the response body"};
    return std::nullopt;
}

// The request's parts from --http-method and --http-header.
std::optional<UsageError> read_http_request(const Raw& r, core::HttpRequest& request) {
    if (r.http_method.given()) {
        auto method = core::parse_http_method(r.http_method.text);
        if (!method)
            return invalid(r.http_method, "GET or HEAD");
        request.method = *method;
    }
    std::vector<std::string> lines = r.http_header.opt->results();
    if (lines.empty() && r.http_header.given())
        lines.push_back(r.http_header.text); // from TCPRETRY_HTTP_HEADER
    for (const std::string& line : lines) {
        auto header = core::parse_http_header(line);
        if (auto* e = std::get_if<std::string>(&header))
            return UsageError{r.http_header.name() + ": invalid value " + quote(line) + " (" + *e +
                              ")"};
        request.headers.push_back(std::get<core::HttpHeader>(std::move(header)));
    }
    return std::nullopt;
}

} // namespace

// --http-*: each HTTP TARGET's own check (its request; TLS for https; --expect on the body).
std::optional<UsageError> check_http(const Raw& r, Options& o) {
    if (o.urls.empty()) {
        for (const Flag* f : {&r.http_method, &r.http_header, &r.http_status})
            if (f->given())
                return UsageError{f->name() + " needs an http:// or https:// TARGET"};
        return std::nullopt;
    }
    if (auto e = check_http_mode(r, o))
        return e;
    core::HttpRequest request;
    if (auto e = read_http_request(r, request))
        return e;
    auto accepted = core::parse_status_list(r.http_status.given() ? r.http_status.text
                                                                  : core::k_http_status_default);
    if (auto* e = std::get_if<std::string>(&accepted))
        return invalid(r.http_status, *e);
    core::CheckOptions base;
    base.timeout = o.connect_timeout;
    if (o.check) {
        base.timeout = o.check->timeout;
        base.expect = o.check->expect;
    } else if (r.expect_timeout.given()) {
        if (auto e = read_duration(r.expect_timeout, base.timeout, true))
            return e;
    }
    base.http.emplace();
    base.http->head = request.method == core::HttpMethod::head;
    base.http->accepted = std::get<core::StatusSet>(std::move(accepted));
    for (const auto& [index, url] : o.urls) {
        core::CheckOptions c = base;
        request.path = url.path;
        request.host = url.host_header;
        c.http->request = core::build_http_request(request, version());
        if (url.tls())
            c.tls = o.url_tls;
        o.target_checks.emplace_back(index, std::move(c));
    }
    return std::nullopt;
}

} // namespace tcpretry::app::options_internal
