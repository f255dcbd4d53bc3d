// What the option parser's rooms share: the table of flags as CLI11 collected them, and the
// helpers that turn a flag's text into a value or a usage error naming it. options.cpp holds
// the parser and the general flags; options_http.cpp, options_tls.cpp and options_serve.cpp
// each add and check their own group. Not for use outside the parser.
#pragma once

#include "app/options.hpp"

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tcpretry::app::options_internal {

// One option's text as given, on the command line or in its TCPRETRY_ variable. CLI11 only
// collects; the validators below decide, and their messages name where the text came from.
struct Flag {
    CLI::Option* opt = nullptr;
    std::string text;
    std::string env; // the variable the text came from; empty: the command line (or nothing)
    bool given() const { return !env.empty() || opt->count() > 0; }
    std::string name() const { return env.empty() ? opt->get_name() : env; }
};

// A switch (no value): on when given on the command line or by its variable.
struct Switch {
    CLI::Option* opt = nullptr;
    bool on = false;
    std::string env;
    std::string name() const { return env.empty() ? opt->get_name() : env; }
};

// Every flag of the command line, as CLI11 collected it, by help group.
struct Raw {
    // Retry
    Flag timeout, attempts, connect_timeout, initial, max, multiplier, jitter, seed, quorum,
        parallel, targets_file;
    Switch once, all, any, invert;
    // Watch and check
    Switch watch;
    Flag stable_after, keepalive, recheck, send, expect, expect_timeout;
    // HTTP
    Flag http_method, http_header, http_status;
    // TLS
    Switch tls, insecure;
    Flag ca_file, ca_path, sni, tls_min_version, alpn, client_cert, client_key, cert_min_days,
        starttls;
    // Ping
    Flag count, interval;
    // Network
    Switch only4, only6;
    Flag source, resolver;
    // Output
    Switch json, quiet, verbose, timestamps, no_timestamps;
    Flag format, metrics, color;
    // Exporter
    Flag serve, serve_allow, serve_timeout_offset;
    // Left over after the flags: the TARGETs (and unknown options); then TCPRETRY_TARGETS.
    std::vector<std::string> words, env_words;
    // --send (false) and --expect (true) as given on the command line, in order: a dialogue.
    std::vector<std::pair<bool, std::string>> dialogue;
    // The table of options, as added: what the environment pass and the help's list of
    // variables walk. --help and --version are not in it.
    std::vector<Flag*> flags;
    std::vector<Switch*> switches;
};

extern const char* const k_duration_hint;

// "--quiet and --verbose exclude each other", naming each by where it came from.
template <class A, class B> UsageError excluding(const A& a, const B& b) {
    return UsageError{a.name() + " and " + b.name() + " exclude each other"};
}

// The one shape of an invalid-value message: "--multiplier: invalid value '2000' (1 to 1000)".
UsageError invalid(const Flag& f, std::string_view hint);

// A DUR flag that was given; `positive` rejects 0.
std::optional<UsageError> read_duration(const Flag& f, core::Duration& out, bool positive = false);

// Defaults shown in --help come from the constants the code uses, so they cannot drift.
std::string dur(core::Duration d);

// A listening address (--metrics-listen, --serve): ADDR:PORT, or :PORT for all addresses.
// `any_port_ok`: ADDR:0 lets the kernel pick (--serve says which on stderr; --metrics-listen
// does not, so there port 0 is refused).
std::optional<UsageError> read_listen(const Flag& f, std::optional<core::SockAddr>& out,
                                      unsigned example_port, bool any_port_ok);

// Adds an option that takes a value to the parser and to the table.
void option(CLI::App& app, Raw& r, Flag& f, const std::string& names, const std::string& help,
            const char* type, const char* group);

// Adds a switch to the parser and to the table.
void flag(CLI::App& app, Raw& r, Switch& s, const std::string& names, const std::string& help,
          const char* group);

// A flag the chosen mode would ignore is a mistake worth hearing about.
std::optional<UsageError> unused(const Flag& f, const char* mode);

// --- HTTP --------------------------------------------------------------------------------

void add_http_flags(CLI::App& app, Raw& r);

// Whether any TARGET word is an HTTP URL (`https_only`: an https:// one): decided before the
// TARGETs are read, for the flags an HTTP TARGET makes valid alone.
bool any_url_word(const Raw& r, bool https_only);

// The URL TARGET `text`: its host and port (or socket) become the target, the URL is kept
// for its request.
std::optional<UsageError> add_url(const std::string& text, std::string_view source, Options& o);

// --http-*: each HTTP TARGET's own check (its request; TLS for https; --expect on the body).
std::optional<UsageError> check_http(const Raw& r, Options& o);

// --- TLS ---------------------------------------------------------------------------------

void add_tls_flags(CLI::App& app, Raw& r);

// --tls and its options (after check_check: the TLS layer joins the --send/--expect check).
// The context (trust store, client certificate) is made here, once: a file that cannot be
// loaded is a usage error naming its flag.
std::optional<UsageError> check_tls(const Raw& r, Options& o);

// --- Exporter ----------------------------------------------------------------------------

void add_serve_flags(CLI::App& app, Raw& r);

// --serve: an exporter answers /probe until stopped, so what ends or reports a run has no
// place beside it.
std::optional<UsageError> check_serve(const Raw& r, Options& o);

} // namespace tcpretry::app::options_internal
