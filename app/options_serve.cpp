// The exporter room of the option parser: --serve and its flags.
#include "app/options_internal.hpp"

#include "app/serve_query.hpp"

namespace tcpretry::app::options_internal {

using core::Duration;
using core::quote;

void add_serve_flags(CLI::App& app, Raw& r) {
    const char* g = "Exporter";
    option(app, r, r.serve, "--serve",
           "Run as a Prometheus probe exporter: GET http://ADDR:PORT/probe?target=HOST:PORT "
           "(no TARGET needed)",
           "ADDR:PORT", g);
    option(app, r, r.serve_allow, "--serve-allow",
           "Targets /probe may connect to: CIDRs, host names, *.suffix (comma-separated, "
           "repeatable; default: the TARGETs given, else any)",
           "LIST", g);
    r.serve_allow.opt->multi_option_policy(CLI::MultiOptionPolicy::Join);
    option(app, r, r.serve_timeout_offset, "--serve-timeout-offset",
           "A probe's deadline is the scrape timeout less DUR", "DUR", g);
    r.serve_timeout_offset.opt->default_str(dur(k_serve_timeout_offset));
}

// --serve: an exporter answers /probe until stopped, so what ends or reports a run has no
// place beside it.
std::optional<UsageError> check_serve(const Raw& r, Options& o) {
    if (!r.serve.given()) {
        for (const Flag* f : {&r.serve_allow, &r.serve_timeout_offset})
            if (auto e = unused(*f, "without --serve"))
                return e;
        return std::nullopt;
    }
    if (auto e = read_listen(r.serve, o.serve, 9115, true))
        return e;
    if (!o.command.empty())
        return UsageError{"-- COMMAND cannot be used with " + r.serve.name() +
                          " (an exporter does not end in success)"};
    for (const Flag* f : {&r.count, &r.interval, &r.timeout, &r.attempts, &r.initial, &r.max,
                          &r.multiplier, &r.jitter, &r.quorum, &r.metrics, &r.format})
        if (f->given())
            return UsageError{f->name() + " cannot be used with " + r.serve.name() +
                              (f == &r.metrics ? " (its /metrics is on the same port)"
                                               : " (each /probe is one round)")};
    for (const Switch* s : {&r.watch, &r.once, &r.any, &r.json, &r.timestamps})
        if (s->on)
            return UsageError{s->name() + " cannot be used with " + r.serve.name() +
                              " (each /probe is one round)"};
    if (r.serve_timeout_offset.given())
        if (auto e = read_duration(r.serve_timeout_offset, o.serve_timeout_offset))
            return e;
    AllowList check;
    for (const std::string& entry : split_allow_list(r.serve_allow.text)) {
        if (auto e = check.add(entry))
            return UsageError{*e};
        o.serve_allow.push_back(entry);
    }
    return std::nullopt;
}

} // namespace tcpretry::app::options_internal
