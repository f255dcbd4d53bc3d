// Prometheus metrics (escape_label_value, Metrics::encode after synthetic events) and the
// --targets-file parser (parse_targets_file), both of issue 4.
#include "app/metrics.hpp"
#include "app/options.hpp"

#include <chrono>
#include <doctest/doctest.h>
#include <sstream>
#include <string>
#include <variant>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono_literals;

namespace {

core::Event make_event(core::EventType type, std::size_t target) {
    core::Event e;
    e.type = type;
    e.target = target;
    return e;
}

core::Event attempt(std::size_t target) {
    return make_event(core::EventType::attempt, target);
}

core::Event failed(std::size_t target, core::ErrorClass error) {
    auto e = make_event(core::EventType::failed, target);
    e.error = error;
    return e;
}

core::Event connected(std::size_t target, core::Duration d) {
    auto e = make_event(core::EventType::connected, target);
    e.duration = d;
    return e;
}

core::Event probe_ok(std::size_t target, unsigned seq, core::Duration d) {
    auto e = make_event(core::EventType::probe, target);
    e.seq = seq;
    e.ok = true;
    e.duration = d;
    return e;
}

core::Event probe_failed(std::size_t target, unsigned seq, core::ErrorClass error) {
    auto e = make_event(core::EventType::probe, target);
    e.seq = seq;
    e.ok = false;
    e.error = error;
    return e;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);)
        out.push_back(line);
    return out;
}

bool has_line(const std::string& text, const std::string& line) {
    for (const auto& l : lines_of(text))
        if (l == line)
            return true;
    return false;
}

std::size_t count_lines_starting(const std::string& text, const std::string& prefix) {
    std::size_t n = 0;
    for (const auto& l : lines_of(text))
        if (l.rfind(prefix, 0) == 0)
            ++n;
    return n;
}

// The bucket bounds as the exposition writes them.
const std::vector<std::string> k_le = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025",
                                       "0.005",  "0.01",    "0.025",  "0.05",  "0.1",
                                       "0.25",   "0.5",     "1",      "2.5"};

std::string bucket(const std::string& target, const std::string& le, int n) {
    return "tcpretry_connect_duration_seconds_bucket{target=\"" + target + "\",le=\"" + le +
           "\"} " + std::to_string(n);
}

} // namespace

TEST_CASE("escape_label_value: backslash, double quote and newline") {
    CHECK(escape_label_value("") == "");
    CHECK(escape_label_value("db:5432") == "db:5432");
    CHECK(escape_label_value("a\\b") == "a\\\\b");
    CHECK(escape_label_value("say \"hi\"") == "say \\\"hi\\\"");
    CHECK(escape_label_value("two\nlines") == "two\\nlines");
    CHECK(escape_label_value("\\\"\n") == "\\\\\\\"\\n");
    CHECK(escape_label_value("\\n") == "\\\\n"); // a backslash then n, not a newline
    // Nothing else is touched: tabs, carriage returns, UTF-8, brackets, percent signs.
    CHECK(escape_label_value("\t\r") == "\t\r");
    CHECK(escape_label_value("h\xc3\xb6st:80") == "h\xc3\xb6st:80");
    CHECK(escape_label_value("[fe80::1%eth0]:22") == "[fe80::1%eth0]:22");
}

TEST_CASE("k_connect_buckets: increasing, loopback to WAN") {
    REQUIRE(k_connect_buckets.size() == k_le.size());
    for (std::size_t i = 1; i < k_connect_buckets.size(); ++i)
        CHECK(k_connect_buckets[i - 1] < k_connect_buckets[i]);
    CHECK(k_connect_buckets.front() <= 0.0001); // loopback: ~0.1 ms
    CHECK(k_connect_buckets.back() >= 1.0);     // WAN: seconds
}

TEST_CASE("Metrics::encode: HELP and TYPE once per family, before its samples") {
    Metrics m({"a:1", "b:2"});
    std::string text = m.encode();
    REQUIRE_FALSE(text.empty());
    CHECK(text.back() == '\n');
    const std::vector<std::pair<std::string, std::string>> families = {
        {"tcpretry_up", "gauge"},
        {"tcpretry_probe_success", "gauge"},
        {"tcpretry_attempts_total", "counter"},
        {"tcpretry_failures_total", "counter"},
        {"tcpretry_connect_duration_seconds", "histogram"},
    };
    for (const auto& [name, type] : families) {
        CAPTURE(name);
        CHECK(count_lines_starting(text, "# HELP " + name + " ") == 1);
        CHECK(has_line(text, "# TYPE " + name + " " + type));
        auto type_at = text.find("# TYPE " + name + " ");
        auto sample_at = text.find("\n" + name + "{");
        if (sample_at != std::string::npos)
            CHECK(type_at < sample_at);
    }
    // Before any event: down, nothing counted, an empty histogram.
    CHECK(has_line(text, "tcpretry_up{target=\"a:1\"} 0"));
    CHECK(has_line(text, "tcpretry_probe_success{target=\"b:2\"} 0"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"a:1\"} 0"));
    CHECK(count_lines_starting(text, "tcpretry_failures_total{") == 0);
    CHECK(has_line(text, bucket("a:1", "+Inf", 0)));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"b:2\"} 0"));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_sum{target=\"b:2\"} 0"));
}

TEST_CASE("Metrics::encode: wait mode attempts, failures by error and a connect") {
    Metrics m({"db:5432", "cache:6379"});
    for (int i = 0; i < 3; ++i)
        m.on_event(attempt(0));
    m.on_event(failed(0, core::ErrorClass::refused));
    m.on_event(failed(0, core::ErrorClass::refused));
    m.on_event(connected(0, 300us));
    m.on_event(attempt(1));
    m.on_event(failed(1, core::ErrorClass::timeout));
    m.on_event(attempt(1));
    m.on_event(failed(1, core::ErrorClass::unreachable));
    std::string text = m.encode();
    CAPTURE(text);
    CHECK(has_line(text, "tcpretry_up{target=\"db:5432\"} 1"));
    CHECK(has_line(text, "tcpretry_up{target=\"cache:6379\"} 0"));
    CHECK(has_line(text, "tcpretry_probe_success{target=\"db:5432\"} 1"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"db:5432\"} 3"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"cache:6379\"} 2"));
    CHECK(has_line(text, "tcpretry_failures_total{target=\"db:5432\",error=\"refused\"} 2"));
    CHECK(has_line(text, "tcpretry_failures_total{target=\"cache:6379\",error=\"timeout\"} 1"));
    CHECK(has_line(text, "tcpretry_failures_total{target=\"cache:6379\",error=\"unreachable\"} 1"));
    CHECK(count_lines_starting(text, "tcpretry_failures_total{") == 3);
    // 0.3 ms lands in le=0.0005 and every bucket above it.
    for (std::size_t i = 0; i < k_le.size(); ++i) {
        CAPTURE(k_le[i]);
        CHECK(has_line(text, bucket("db:5432", k_le[i], i >= 2 ? 1 : 0)));
        CHECK(has_line(text, bucket("cache:6379", k_le[i], 0)));
    }
    CHECK(has_line(text, bucket("db:5432", "+Inf", 1)));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"db:5432\"} 1"));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_sum{target=\"db:5432\"} 0.0003"));
}

TEST_CASE("Metrics::encode: the histogram is cumulative; +Inf and _count count everything") {
    Metrics m({"t:1"});
    // 50 us, exactly 1 ms (a bound is inclusive), 2 ms, 40 ms, 3 s (beyond the last bound).
    for (core::Duration d : {core::Duration(50us), core::Duration(1ms), core::Duration(2ms),
                             core::Duration(40ms), core::Duration(3s)})
        m.on_event(connected(0, d));
    std::string text = m.encode();
    CAPTURE(text);
    const std::vector<int> want = {1, 1, 1, 2, 3, 3, 3, 3, 4, 4, 4, 4, 4, 4};
    for (std::size_t i = 0; i < k_le.size(); ++i) {
        CAPTURE(k_le[i]);
        CHECK(has_line(text, bucket("t:1", k_le[i], want[i])));
    }
    CHECK(has_line(text, bucket("t:1", "+Inf", 5)));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"t:1\"} 5"));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_sum{target=\"t:1\"} 3.04305"));
    // The buckets come in increasing order of le, +Inf last.
    auto at = [&](const std::string& le) { return text.find(",le=\"" + le + "\"}"); };
    for (std::size_t i = 1; i < k_le.size(); ++i)
        CHECK(at(k_le[i - 1]) < at(k_le[i]));
    CHECK(at(k_le.back()) < at("+Inf"));
}

TEST_CASE("Metrics::encode: ping probes set up/probe_success from the last probe") {
    Metrics m({"p:1"});
    m.on_event(probe_ok(0, 1, 200us));
    m.on_event(probe_ok(0, 2, 400us));
    m.on_event(probe_failed(0, 3, core::ErrorClass::refused));
    std::string text = m.encode();
    CAPTURE(text);
    CHECK(has_line(text, "tcpretry_up{target=\"p:1\"} 0"));
    CHECK(has_line(text, "tcpretry_probe_success{target=\"p:1\"} 0"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"p:1\"} 3"));
    CHECK(has_line(text, "tcpretry_failures_total{target=\"p:1\",error=\"refused\"} 1"));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"p:1\"} 2"));
    CHECK(has_line(text, bucket("p:1", "0.00025", 1)));
    CHECK(has_line(text, bucket("p:1", "0.0005", 2)));
    CHECK(has_line(text, bucket("p:1", "+Inf", 2)));
    m.on_event(probe_ok(0, 4, 100us));
    text = m.encode();
    CHECK(has_line(text, "tcpretry_up{target=\"p:1\"} 1"));
    CHECK(has_line(text, "tcpretry_probe_success{target=\"p:1\"} 1"));
    CHECK(has_line(text, bucket("p:1", "0.0001", 1)));
    CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"p:1\"} 3"));
}

TEST_CASE("Metrics::encode: a watch-mode outage takes the target down, a recycle does not") {
    Metrics m({"w:1"});
    m.on_event(attempt(0));
    m.on_event(connected(0, 1ms));
    CHECK(has_line(m.encode(), "tcpretry_up{target=\"w:1\"} 1"));
    auto recycled = make_event(core::EventType::disconnected, 0);
    recycled.outage = false;
    m.on_event(recycled);
    m.on_event(connected(0, 1ms));
    std::string text = m.encode();
    CHECK(has_line(text, "tcpretry_up{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_recycled_total{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_outages_total{target=\"w:1\"} 0"));

    auto outage = make_event(core::EventType::disconnected, 0);
    outage.outage = true;
    m.on_event(outage);
    text = m.encode();
    CHECK(has_line(text, "tcpretry_up{target=\"w:1\"} 0"));
    CHECK(has_line(text, "tcpretry_disconnects_total{target=\"w:1\"} 2"));
    CHECK(has_line(text, "tcpretry_recycled_total{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_outages_total{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_connections_total{target=\"w:1\"} 2"));
}

TEST_CASE("Metrics::encode: label values are escaped in every sample") {
    // Targets cannot hold these characters, but the encoder must not rely on that.
    std::string raw = "we\"ird\\name\nhere";
    std::string escaped = "we\\\"ird\\\\name\\nhere";
    Metrics m({raw});
    m.on_event(attempt(0));
    m.on_event(failed(0, core::ErrorClass::refused));
    m.on_event(connected(0, 1ms));
    std::string text = m.encode();
    CAPTURE(text);
    CHECK(text.find(raw) == std::string::npos);
    CHECK(has_line(text, "tcpretry_up{target=\"" + escaped + "\"} 1"));
    CHECK(
        has_line(text, "tcpretry_failures_total{target=\"" + escaped + "\",error=\"refused\"} 1"));
    CHECK(has_line(text, bucket(escaped, "+Inf", 1)));
    // Every line is a comment or a sample: no raw newline split a label value.
    for (const auto& line : lines_of(text)) {
        CAPTURE(line);
        CHECK((line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0 ||
               line.rfind("tcpretry_", 0) == 0));
    }
}

TEST_CASE("Metrics: events about the run or an unknown target are ignored") {
    Metrics m({"x:1"});
    std::string before = m.encode();
    auto w = make_event(core::EventType::warning, 0);
    w.message = "out of file descriptors";
    m.on_event(w);
    m.on_event(attempt(7)); // no such target
    m.on_event(make_event(core::EventType::retry, 0));
    m.on_event(make_event(core::EventType::gave_up, 0));
    CHECK(m.encode() == before);
}

TEST_CASE("Metrics::encode: rounds_total counts rounds, attempts_total address attempts") {
    Metrics m({"db:5432", "p:1"});
    // Round 1 tries two addresses and fails; round 2 fails to resolve (no attempt); round 3
    // connects on its first address.
    for (std::size_t i = 0; i < 2; ++i) {
        auto a = attempt(0);
        a.attempt = 1;
        m.on_event(a);
        auto f = failed(0, core::ErrorClass::refused);
        f.attempt = 1;
        m.on_event(f);
    }
    auto retry = make_event(core::EventType::retry, 0);
    retry.attempt = 2; // the round to come: not begun yet
    m.on_event(retry);
    CHECK(has_line(m.encode(), "tcpretry_rounds_total{target=\"db:5432\"} 1"));
    auto resolve = failed(0, core::ErrorClass::resolve);
    resolve.attempt = 2;
    m.on_event(resolve);
    auto a3 = attempt(0);
    a3.attempt = 3;
    m.on_event(a3);
    auto c = connected(0, 1ms);
    c.attempt = 3;
    m.on_event(c);
    // Ping: each probe is a round of one connect.
    m.on_event(probe_ok(1, 1, 1ms));
    m.on_event(probe_failed(1, 2, core::ErrorClass::timeout));
    std::string text = m.encode();
    CAPTURE(text);
    CHECK(has_line(text, "tcpretry_rounds_total{target=\"db:5432\"} 3"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"db:5432\"} 3"));
    CHECK(has_line(text, "tcpretry_rounds_total{target=\"p:1\"} 2"));
    CHECK(has_line(text, "tcpretry_attempts_total{target=\"p:1\"} 2"));
    CHECK(has_line(text, "# TYPE tcpretry_rounds_total counter"));
    // The HELP lines say which is which.
    CHECK(text.find("# HELP tcpretry_attempts_total Connect attempts started, one per address") !=
          std::string::npos);
    CHECK(text.find("# HELP tcpretry_rounds_total Rounds begun") != std::string::npos);
    // attempts_total comes first, rounds_total right after it.
    CHECK(text.find("# HELP tcpretry_attempts_total") < text.find("# HELP tcpretry_rounds_total"));
}

TEST_CASE("Metrics: up and probe_success read the run's board") {
    Board board(1);
    Metrics m({"w:1"}, &board);
    auto c = connected(0, 1ms);
    m.on_event(c); // the run feeds the board, not Metrics
    CHECK(has_line(m.encode(), "tcpretry_up{target=\"w:1\"} 0"));
    board.on_event(c);
    std::string text = m.encode();
    CHECK(has_line(text, "tcpretry_up{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_probe_success{target=\"w:1\"} 1"));
    CHECK(has_line(text, "tcpretry_connections_total{target=\"w:1\"} 1"));
}

// -- --targets-file --------------------------------------------------------------------------

namespace {

std::vector<std::string> texts(std::string_view file) {
    auto r = parse_targets_file(file, "t.txt");
    if (auto* e = std::get_if<UsageError>(&r)) {
        FAIL("unexpected usage error: " << e->message);
        return {};
    }
    std::vector<std::string> out;
    for (const auto& t : std::get<std::vector<core::Target>>(r))
        out.push_back(t.text);
    return out;
}

std::string error_of(std::string_view file, std::string_view name = "t.txt") {
    auto r = parse_targets_file(file, name);
    if (!std::holds_alternative<UsageError>(r)) {
        FAIL("expected a usage error");
        return {};
    }
    return std::get<UsageError>(r).message;
}

using Texts = std::vector<std::string>;

} // namespace

TEST_CASE("parse_targets_file: one target a line") {
    CHECK(texts("a:1\nb:2\n") == Texts{"a:1", "b:2"});
    CHECK(texts("a:1\nb:2") == Texts{"a:1", "b:2"}); // no final newline
    CHECK(texts("") == Texts{});
    CHECK(texts("\n\n") == Texts{});
}

TEST_CASE("parse_targets_file: comments, blank lines and surrounding spaces") {
    std::string_view file = "# the fleet\n"
                            "\n"
                            "   db:5432   \n"
                            "\tcache:6379\t# redis\n"
                            "#web:80\n"
                            "   \t  \n"
                            "[::1]:22 # ssh on v6\n"
                            "#\n";
    CHECK(texts(file) == Texts{"db:5432", "cache:6379", "[::1]:22"});
    auto r = parse_targets_file(file, "f");
    REQUIRE(std::holds_alternative<std::vector<core::Target>>(r));
    const auto& targets = std::get<std::vector<core::Target>>(r);
    REQUIRE(targets.size() == 3);
    CHECK(targets[0].host == "db");
    CHECK(targets[0].port == 5432);
    CHECK(targets[2].host == "::1");
    CHECK(targets[2].port == 22);
}

TEST_CASE("parse_targets_file: CRLF line ends") {
    CHECK(texts("a:1\r\nb:2\r\n") == Texts{"a:1", "b:2"});
    CHECK(texts("# c\r\n\r\n  a:1  \r\nb:2 # x\r\n") == Texts{"a:1", "b:2"});
    CHECK(texts("a:1\r\n\r\n") == Texts{"a:1"});
}

TEST_CASE("parse_targets_file: a bad line is a usage error naming file and line") {
    std::string m = error_of("# header\n\na:1\nnot a target\nb:2\n", "hosts.txt");
    CHECK(m.rfind("hosts.txt:4: ", 0) == 0);
    CHECK(m.find("not a target") != std::string::npos);
    CHECK(m.find('\n') == std::string::npos);

    m = error_of("a:1\r\n\r\nb:99999\r\n", "win.txt");
    CHECK(m.rfind("win.txt:3: ", 0) == 0);
    CHECK(m.find("99999") != std::string::npos);
    CHECK(m.find('\r') == std::string::npos);

    m = error_of("x", "stdin");
    CHECK(m.rfind("stdin:1: ", 0) == 0);

    // Only the first bad line is reported.
    m = error_of("a:1\nbad1\nbad2\n");
    CHECK(m.rfind("t.txt:2: ", 0) == 0);
    CHECK(m.find("bad2") == std::string::npos);
}

TEST_CASE("parse_targets_file: the same rules as TARGET arguments") {
    CHECK(error_of("host-without-port\n").rfind("t.txt:1: ", 0) == 0);
    CHECK(error_of("h:0\n").rfind("t.txt:1: ", 0) == 0);
    CHECK(error_of("a:1\n[::1:80\n").rfind("t.txt:2: ", 0) == 0);
    CHECK(error_of("a b:80\n").rfind("t.txt:1: ", 0) == 0); // inner space
    CHECK(texts("localhost:ssh\n") == Texts{"localhost:ssh"});
}

TEST_CASE("Metrics::encode: TLS handshake histogram, certificate expiry and version") {
    Metrics m({"db:443", "plain:80"});
    SUBCASE("without TLS there are no TLS families") {
        m.on_event(connected(1, 1ms));
        std::string text = m.encode();
        CHECK(text.find("tcpretry_tls_") == std::string::npos);
    }
    SUBCASE("a handshake: its time, the certificate's not_after, the version") {
        core::CertFacts cert;
        cert.not_after_unix = 1796083200;
        core::TlsInfo tls;
        tls.version = "TLSv1.3";
        tls.cert = cert;
        auto c = connected(0, 300us);
        c.tls_time = 3ms;
        c.tls = tls;
        m.on_event(c);
        auto p = probe_ok(0, 2, 200us);
        p.tls_time = 30ms;
        p.tls = tls;
        m.on_event(p);
        m.on_event(connected(1, 1ms)); // no TLS: no TLS series for it
        std::string text = m.encode();
        CAPTURE(text);
        const std::string h = "tcpretry_tls_handshake_duration_seconds";
        CHECK(count_lines_starting(text, "# TYPE " + h + " histogram") == 1);
        CHECK(has_line(text, h + "_bucket{target=\"db:443\",le=\"0.0025\"} 0"));
        CHECK(has_line(text, h + "_bucket{target=\"db:443\",le=\"0.005\"} 1"));
        CHECK(has_line(text, h + "_bucket{target=\"db:443\",le=\"0.05\"} 2"));
        CHECK(has_line(text, h + "_bucket{target=\"db:443\",le=\"+Inf\"} 2"));
        CHECK(has_line(text, h + "_count{target=\"db:443\"} 2"));
        CHECK(has_line(text, h + "_sum{target=\"db:443\"} 0.033"));
        CHECK(text.find(h + "_count{target=\"plain:80\"}") == std::string::npos);
        CHECK(has_line(text, "# TYPE tcpretry_tls_cert_not_after_timestamp_seconds gauge"));
        CHECK(has_line(
            text, "tcpretry_tls_cert_not_after_timestamp_seconds{target=\"db:443\"} 1796083200"));
        CHECK(has_line(text, "# TYPE tcpretry_tls_version_info gauge"));
        CHECK(has_line(text, "tcpretry_tls_version_info{target=\"db:443\",version=\"TLSv1.3\"} 1"));
        CHECK(count_lines_starting(text, "tcpretry_tls_version_info{") == 1);
        // The connect histogram still counts both targets.
        CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"db:443\"} 2"));
        CHECK(has_line(text, "tcpretry_connect_duration_seconds_count{target=\"plain:80\"} 1"));
    }
    SUBCASE("a certificate that fails verification still sets its expiry") {
        auto f = failed(0, core::ErrorClass::tls_verify);
        f.cert.emplace();
        f.cert->not_after_unix = 1700000000;
        m.on_event(f);
        std::string text = m.encode();
        CHECK(has_line(
            text, "tcpretry_tls_cert_not_after_timestamp_seconds{target=\"db:443\"} 1700000000"));
        CHECK(text.find("tcpretry_tls_handshake_duration_seconds") == std::string::npos);
        CHECK(text.find("tcpretry_tls_version_info") == std::string::npos);
    }
}
