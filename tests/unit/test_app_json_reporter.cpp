// JSON Lines: the fields of each event, numbers as numbers, hostile strings, RFC 3339 time.
#include "app/json_reporter.hpp"

#include "app/options.hpp"
#include "support.hpp"

#include <algorithm>
#include <cerrno>
#include <doctest/doctest.h>
#include <event2/util.h>
#include <string>
#include <vector>

using namespace tcpretry;
using namespace tcpretry::app;
using namespace std::chrono;
using namespace std::chrono_literals;
using namespace std::string_literals;
using tcpretry::test::MemoryFile;

namespace {

using Keys = std::vector<std::string>;

// Keys in order, as written.
Keys keys_of(const nlohmann::ordered_json& j) {
    Keys out;
    for (auto it = j.begin(); it != j.end(); ++it)
        out.push_back(it.key());
    return out;
}

// The fields are all there, in this order, starting with event and time. Later
// issues may add fields (readers ignore what they do not know), so others are allowed.
void check_fields(const nlohmann::ordered_json& j, const Keys& required, const Keys& absent = {}) {
    Keys keys = keys_of(j);
    CAPTURE(j.dump());
    REQUIRE(keys.size() >= 2);
    CHECK(keys[0] == "event");
    CHECK(keys[1] == "time");
    std::size_t at = 0;
    for (const auto& k : keys)
        if (at < required.size() && k == required[at])
            ++at;
    CHECK(at == required.size()); // every required field, in order
    for (const auto& k : absent) {
        CAPTURE(k);
        CHECK_FALSE(j.contains(k));
    }
}

// 2026-11-27T03:08:14.123Z
WallClock::time_point known_time() {
    return sys_days{year{2026} / November / 27} + 3h + 8min + 14s + 123ms;
}

core::Endpoint endpoint(std::string address, uint16_t port, core::Family family) {
    return core::Endpoint{std::move(address), port, family};
}

core::Event make(core::EventType type) {
    core::Event e;
    e.type = type;
    e.target = 0;
    e.attempt = 2;
    return e;
}

// encode_line, then parse it back; checks the line is one line.
nlohmann::json round_trip(const nlohmann::ordered_json& j) {
    std::string line;
    REQUIRE_NOTHROW(line = encode_line(j));
    CHECK(line.find('\n') == std::string::npos);
    CHECK(line.find('\r') == std::string::npos);
    CHECK(line.find('\0') == std::string::npos);
    nlohmann::json parsed;
    REQUIRE_NOTHROW(parsed = nlohmann::json::parse(line));
    return parsed;
}

} // namespace

TEST_CASE("rfc3339: UTC with milliseconds") {
    struct Row {
        WallClock::time_point t;
        std::string text;
    };
    const std::vector<Row> rows{
        {known_time(), "2026-11-27T03:08:14.123Z"},
        {WallClock::time_point{}, "1970-01-01T00:00:00.000Z"},
        {known_time() + 999us, "2026-11-27T03:08:14.123Z"}, // truncated, not rounded
        {sys_days{year{2000} / February / 29} + 23h + 59min + 59s + 999ms,
         "2000-02-29T23:59:59.999Z"},
        {sys_days{year{2038} / January / 19} + 3h + 14min + 8s, "2038-01-19T03:14:08.000Z"},
        {WallClock::time_point{} - 1ms, "1969-12-31T23:59:59.999Z"},
    };
    for (const auto& row : rows) {
        CAPTURE(row.text);
        CHECK(rfc3339(row.t) == row.text);
    }
}

TEST_CASE("JSON start event") {
    auto j = start_json({"db:5432", "[::1]:80"}, known_time());
    check_fields(j, Keys{"event", "time", "version", "schema", "targets"}, Keys{"target"});
    auto p = round_trip(j);
    CHECK(p["event"] == "start");
    CHECK(p["time"] == "2026-11-27T03:08:14.123Z");
    CHECK(p["version"] == version());
    CHECK(p["schema"].is_number_integer());
    CHECK(p["schema"] == 1);
    REQUIRE(p["targets"].is_array());
    CHECK(p["targets"] == nlohmann::json::array({"db:5432", "[::1]:80"}));
    CHECK_FALSE(p.contains("target"));
}

TEST_CASE("JSON attempt event") {
    SUBCASE("IPv4") {
        auto e = make(core::EventType::attempt);
        e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
        auto j = event_json(e, "db:5432", known_time());
        check_fields(j, Keys{"event", "time", "target", "attempt", "address", "port", "family"},
                     Keys{"error", "errno", "delay_ms"});
        auto p = round_trip(j);
        CHECK(p["event"] == "attempt");
        CHECK(p["time"] == "2026-11-27T03:08:14.123Z");
        CHECK(p["target"] == "db:5432");
        CHECK(p["attempt"].is_number_integer());
        CHECK(p["attempt"] == 2);
        CHECK(p["address"] == "10.0.0.5");
        CHECK(p["port"].is_number_integer());
        CHECK(p["port"] == 5432);
        CHECK(p["family"] == "ipv4");
    }
    SUBCASE("IPv6") {
        auto e = make(core::EventType::attempt);
        e.address = endpoint("::1", 80, core::Family::ipv6);
        auto p = round_trip(event_json(e, "[::1]:80", known_time()));
        CHECK(p["address"] == "::1");
        CHECK(p["family"] == "ipv6");
    }
}

TEST_CASE("JSON failed event") {
    SUBCASE("refused") {
        auto e = make(core::EventType::failed);
        e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
        e.error = core::ErrorClass::refused;
        e.code = core::ErrorCode::sys(ECONNREFUSED);
        e.message = "connection refused";
        e.duration = 213us;
        auto j = event_json(e, "db:5432", known_time());
        check_fields(j, Keys{"event", "time", "target", "attempt", "address", "port", "error",
                             "errno", "message", "duration_ms"});
        auto p = round_trip(j);
        CHECK(p["event"] == "failed");
        CHECK(p["attempt"] == 2);
        CHECK(p["port"].is_number_integer());
        CHECK(p["error"] == "refused");
        CHECK(p["errno"] == "ECONNREFUSED");
        CHECK(p["message"] == "connection refused");
        CHECK(p["duration_ms"].is_number());
        CHECK(p["duration_ms"].get<double>() == doctest::Approx(0.213));
    }
    SUBCASE("timeout from our own timer still names ETIMEDOUT") {
        auto e = make(core::EventType::failed);
        e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
        e.error = core::ErrorClass::timeout;
        e.code = core::ErrorCode::sys(ETIMEDOUT);
        e.message = "timed out after 3 s";
        e.duration = 3s;
        auto p = round_trip(event_json(e, "db:5432", known_time()));
        CHECK(p["error"] == "timeout");
        CHECK(p["errno"] == "ETIMEDOUT");
        CHECK(p["duration_ms"].get<double>() == doctest::Approx(3000));
    }
    SUBCASE("resolve: no address, no port") {
        auto e = make(core::EventType::failed);
        e.error = core::ErrorClass::resolve;
        e.code = core::ErrorCode::resolver(EVUTIL_EAI_NONAME);
        e.message = "name does not exist (NXDOMAIN)";
        e.duration = 1500us;
        auto j = event_json(e, "db:5432", known_time());
        check_fields(
            j,
            Keys{"event", "time", "target", "attempt", "error", "errno", "message", "duration_ms"},
            Keys{"address", "port", "family"});
        auto p = round_trip(j);
        CHECK(p["error"] == "resolve");
        CHECK(p["errno"] == "EAI_NONAME");
        CHECK(p["duration_ms"].get<double>() == doctest::Approx(1.5));
    }
    SUBCASE("self_connect: no errno") {
        auto e = make(core::EventType::failed);
        e.address = endpoint("127.0.0.1", 40000, core::Family::ipv4);
        e.error = core::ErrorClass::self_connect;
        e.message = "connected to itself";
        auto j = event_json(e, "127.0.0.1:40000", known_time());
        check_fields(j,
                     Keys{"event", "time", "target", "attempt", "address", "port", "error",
                          "message", "duration_ms"},
                     Keys{"errno"});
        auto p = round_trip(j);
        CHECK(p["error"] == "self_connect");
        CHECK_FALSE(p.contains("errno"));
    }
    SUBCASE("every error class has its name") {
        for (const auto& row : std::vector<std::pair<core::ErrorClass, std::string>>{
                 {core::ErrorClass::refused, "refused"},
                 {core::ErrorClass::timeout, "timeout"},
                 {core::ErrorClass::unreachable, "unreachable"},
                 {core::ErrorClass::reset, "reset"},
                 {core::ErrorClass::local, "local"},
                 {core::ErrorClass::fatal, "fatal"},
                 {core::ErrorClass::resolve, "resolve"},
                 {core::ErrorClass::self_connect, "self_connect"}}) {
            CAPTURE(row.second);
            auto e = make(core::EventType::failed);
            e.error = row.first;
            CHECK(round_trip(event_json(e, "db:1", known_time()))["error"] == row.second);
        }
    }
}

TEST_CASE("JSON retry event") {
    auto e = make(core::EventType::retry);
    e.attempt = 3;
    e.delay = 200ms;
    auto j = event_json(e, "db:5432", known_time());
    check_fields(j, Keys{"event", "time", "target", "attempt", "delay_ms"},
                 Keys{"address", "port", "error", "errno"});
    auto p = round_trip(j);
    CHECK(p["event"] == "retry");
    CHECK(p["attempt"] == 3);
    CHECK(p["delay_ms"].is_number());
    CHECK(p["delay_ms"].get<double>() == doctest::Approx(200));
}

TEST_CASE("JSON connected event") {
    auto e = make(core::EventType::connected);
    e.attempt = 4;
    e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
    e.local = endpoint("10.0.0.9", 51234, core::Family::ipv4);
    e.duration = 400us;
    e.waited = 700ms;
    auto j = event_json(e, "db:5432", known_time());
    check_fields(j,
                 Keys{"event", "time", "target", "attempt", "address", "port", "local_address",
                      "local_port", "connect_ms", "waited_ms"},
                 Keys{"error", "errno", "delay_ms"});
    auto p = round_trip(j);
    CHECK(p["event"] == "connected");
    CHECK(p["attempt"] == 4);
    CHECK(p["address"] == "10.0.0.5");
    CHECK(p["port"] == 5432);
    CHECK(p["local_address"] == "10.0.0.9");
    CHECK(p["local_port"].is_number_integer());
    CHECK(p["local_port"] == 51234);
    CHECK(p["connect_ms"].is_number());
    CHECK(p["connect_ms"].get<double>() == doctest::Approx(0.4));
    CHECK(p["waited_ms"].get<double>() == doctest::Approx(700));
}

TEST_CASE("JSON gave_up event") {
    auto e = make(core::EventType::gave_up);
    e.attempt = 3;
    e.error = core::ErrorClass::refused;
    e.message = "no attempts left";
    auto j = event_json(e, "db:5432", known_time());
    check_fields(j, Keys{"event", "time", "target", "attempts", "reason"},
                 Keys{"address", "port", "attempt"});
    auto p = round_trip(j);
    CHECK(p["event"] == "gave_up");
    CHECK(p["attempts"].is_number_integer());
    CHECK(p["attempts"] == 3);
    CHECK(p["reason"] == "refused");
}

TEST_CASE("JSON summary") {
    Summary s;
    s.result = Result::gave_up;
    s.attempts = 7;
    s.failures = 6;
    s.targets = 2;
    s.connected = 1;
    s.elapsed = 1234567us;
    s.exit_code = 1;
    auto j = summary_json(s, known_time());
    // No `target`: the summary is about the whole run.
    check_fields(j,
                 Keys{"event", "time", "result", "attempts", "failures", "elapsed_ms", "exit_code"},
                 Keys{"target"});
    auto p = round_trip(j);
    CHECK(p["event"] == "summary");
    CHECK_FALSE(p.contains("target"));
    CHECK(p["result"] == "gave_up");
    CHECK(p["attempts"] == 7);
    CHECK(p["failures"] == 6);
    CHECK(p["elapsed_ms"].is_number());
    CHECK(p["elapsed_ms"].get<double>() == doctest::Approx(1234.567));
    CHECK(p["exit_code"].is_number_integer());
    CHECK(p["exit_code"] == 1);

    for (const auto& row :
         std::vector<std::pair<Result, std::string>>{{Result::ok, "ok"},
                                                     {Result::gave_up, "gave_up"},
                                                     {Result::timeout, "timeout"},
                                                     {Result::interrupted, "interrupted"}}) {
        CAPTURE(row.second);
        s.result = row.first;
        CHECK(round_trip(summary_json(s, known_time()))["result"] == row.second);
        CHECK(result_name(row.first) == row.second);
    }
}

TEST_CASE("JSON: hostile strings never throw and stay one line") {
    const std::vector<std::string> hostile{
        "db\"quoted\":1",
        "back\\slash:1",
        "new\nline:1",
        "cr\rlf\r\n:1",
        "nul\0byte:1"s,
        "ctrl\x01\x02\x1b[31m\x7f:1",
        "tab\there",
        "\xe2\x80\xa8 line separator \xe2\x80\xa9",
        "</script><script>alert(1)</script>",
        "{\"event\":\"summary\"}",
    };
    for (const auto& s : hostile) {
        CAPTURE(s);
        auto e = make(core::EventType::failed);
        e.address = endpoint(s, 1, core::Family::ipv4);
        e.error = core::ErrorClass::fatal;
        e.code = core::ErrorCode::sys(EIO);
        e.message = s;
        auto p = round_trip(event_json(e, s, known_time()));
        // Valid UTF-8 comes back exactly.
        CHECK(p["target"] == s);
        CHECK(p["message"] == s);
        CHECK(p["address"] == s);
        CHECK(p["event"] == "failed");
    }
    auto start = round_trip(start_json(hostile, known_time()));
    CHECK(start["targets"].size() == hostile.size());
    CHECK(start["targets"][4] == hostile[4]);
}

TEST_CASE("JSON: invalid UTF-8 becomes U+FFFD, never an exception") {
    const std::string replacement = "\xef\xbf\xbd";
    const std::vector<std::string> invalid{
        "d\xff"
        "b:1",                 // a stray byte
        "d\xc3:1",             // truncated
        "d\xc0\xaf:1",         // overlong '/'
        "d\xe0\x80\xaf:1",     // overlong, three bytes
        "d\xed\xa0\x80:1",     // a surrogate
        "d\xf4\x90\x80\x80:1", // beyond U+10FFFF
        "\x80\x80\x80",
        "\xfe\xff",
    };
    for (const auto& s : invalid) {
        CAPTURE(s);
        auto e = make(core::EventType::failed);
        e.error = core::ErrorClass::resolve;
        e.code = core::ErrorCode::resolver(EVUTIL_EAI_NONAME);
        e.message = "cannot resolve " + s;
        auto j = event_json(e, s, known_time());
        CHECK_NOTHROW(encode_line(j));
        auto p = round_trip(j);
        std::string target = p["target"];
        std::string message = p["message"];
        CHECK(target.find(replacement) != std::string::npos);
        CHECK(message.find(replacement) != std::string::npos);
        CHECK(message.rfind("cannot resolve ", 0) == 0);
        CHECK(p["event"] == "failed");
        CHECK(p["errno"] == "EAI_NONAME");
    }
    auto start = round_trip(start_json(invalid, known_time()));
    CHECK(start["targets"].size() == invalid.size());
}

TEST_CASE("JsonReporter writes one flushed line per event") {
    MemoryFile file;
    Output out(file.file());
    std::vector<std::string> targets{"db:5432", "new\nline:1"};
    JsonReporter reporter(out, targets);

    reporter.start();
    CHECK(file.lines().size() == 1); // flushed at once

    auto e = make(core::EventType::attempt);
    e.target = 1;
    e.attempt = 1;
    e.address = endpoint("127.0.0.1", 1, core::Family::ipv4);
    reporter.on_event(e);
    CHECK(file.lines().size() == 2);

    auto f = make(core::EventType::failed);
    f.target = 0;
    f.attempt = 1;
    f.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
    f.error = core::ErrorClass::refused;
    f.code = core::ErrorCode::sys(ECONNREFUSED);
    f.message = "connection refused";
    reporter.on_event(f);

    Summary s;
    s.result = Result::ok;
    s.exit_code = 0;
    reporter.summary(s);

    auto lines = file.lines();
    REQUIRE(lines.size() == 4);
    CHECK(file.text().back() == '\n');
    std::vector<nlohmann::json> parsed;
    for (const auto& line : lines) {
        CAPTURE(line);
        REQUIRE_NOTHROW(parsed.push_back(nlohmann::json::parse(line)));
        CHECK(parsed.back().contains("time"));
        std::string time = parsed.back()["time"];
        CHECK(time.size() == 24);
        CHECK(time.back() == 'Z');
    }
    CHECK(parsed[0]["event"] == "start");
    CHECK(parsed[0]["targets"][1] == "new\nline:1");
    CHECK(parsed[1]["event"] == "attempt");
    CHECK(parsed[1]["target"] == "new\nline:1");
    CHECK(parsed[2]["event"] == "failed");
    CHECK(parsed[2]["target"] == "db:5432");
    CHECK(parsed[3]["event"] == "summary");
    CHECK(parsed[3]["result"] == "ok");
}

TEST_CASE("JSON connected and failed events with TLS") {
    core::CertFacts cert;
    cert.subject = "CN=db.example";
    cert.issuer = "CN=Example CA";
    cert.serial = "1f";
    cert.not_before = "2026-01-01T00:00:00Z";
    cert.not_after = "2027-01-01T00:00:00Z";
    cert.days_left = 31;
    cert.dns_names = {"db.example"};
    cert.sha256 = std::string(64, 'a');
    auto e = make(core::EventType::connected);
    e.attempt = 1;
    e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
    core::TlsInfo info;
    info.version = "TLSv1.3";
    info.cipher = "TLS_AES_128_GCM_SHA256";
    info.sni = "db.example";
    info.verified = true;
    info.cert = cert;
    e.tls = info;
    auto p = round_trip(event_json(e, "db:5432", known_time()));
    REQUIRE(p.contains("tls"));
    CHECK(p["tls"]["version"] == "TLSv1.3");
    CHECK(p["tls"]["alpn"].is_null());
    CHECK(p["tls"]["sni"] == "db.example");
    CHECK(p["tls"]["verified"] == true);
    CHECK_FALSE(p["tls"].contains("verify_errno"));
    CHECK(p["tls"]["cert"]["days_left"] == 31);
    CHECK(p["tls"]["cert"]["dns_names"] == nlohmann::json::array({"db.example"}));
    CHECK(p["tls"]["cert"]["ip_addresses"] == nlohmann::json::array());

    auto f = make(core::EventType::failed);
    f.attempt = 1;
    f.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
    f.error = core::ErrorClass::tls_verify;
    f.code = core::ErrorCode::x509(10); // X509_V_ERR_CERT_HAS_EXPIRED
    f.message = "certificate expired 3 days ago";
    f.cert = cert;
    auto q = round_trip(event_json(f, "db:5432", known_time()));
    CHECK(q["error"] == "tls_verify");
    CHECK(q["errno"] == "X509_V_ERR_CERT_HAS_EXPIRED");
    CHECK(q["cert"]["subject"] == "CN=db.example");
    CHECK_FALSE(q.contains("tls"));
}

TEST_CASE("JSON phase times and the failed phase") {
    SUBCASE("connected through a name with TLS: resolve_ms, connect_ms, tls_ms, check_ms") {
        auto e = make(core::EventType::connected);
        e.attempt = 1;
        e.address = endpoint("10.0.0.5", 443, core::Family::ipv4);
        e.resolve_time = 1200us;
        e.duration = 400us;
        e.tls_time = 2500us;
        e.check = 2600us;
        e.tls = core::TlsInfo{};
        auto j = event_json(e, "db:443", known_time());
        check_fields(j, Keys{"resolve_ms", "connect_ms", "tls_ms", "check_ms", "waited_ms"});
        auto p = round_trip(j);
        CHECK(p["resolve_ms"].get<double>() == doctest::Approx(1.2));
        CHECK(p["tls_ms"].get<double>() == doctest::Approx(2.5));
        CHECK(p["check_ms"].get<double>() == doctest::Approx(2.6));
    }
    SUBCASE("an IP literal without TLS: no resolve_ms, no tls_ms") {
        auto e = make(core::EventType::connected);
        e.address = endpoint("10.0.0.5", 5432, core::Family::ipv4);
        auto j = event_json(e, "10.0.0.5:5432", known_time());
        check_fields(j, Keys{"connect_ms"}, Keys{"resolve_ms", "tls_ms", "check_ms", "phase"});
    }
    SUBCASE("probe: ok with its phase times; failed with its phase") {
        auto ok = make(core::EventType::probe);
        ok.ok = true;
        ok.seq = 1;
        ok.duration = 300us;
        ok.tls_time = 1500us;
        ok.check = 1600us;
        auto p = round_trip(event_json(ok, "db:443", known_time()));
        CHECK(p["tls_ms"].get<double>() == doctest::Approx(1.5));
        CHECK_FALSE(p.contains("phase"));

        auto bad = make(core::EventType::probe);
        bad.seq = 2;
        bad.error = core::ErrorClass::timeout;
        bad.code = core::ErrorCode::sys(ETIMEDOUT);
        bad.message = "TLS handshake timed out after 1 s";
        bad.phase = core::Phase::tls;
        bad.resolve_time = 100us;
        auto q = round_trip(event_json(bad, "db:443", known_time()));
        CHECK(q["phase"] == "tls");
        CHECK(q["resolve_ms"].get<double>() == doctest::Approx(0.1));
        CHECK_FALSE(q.contains("tls_ms"));
    }
    SUBCASE("every phase has its name on a failed event") {
        for (const auto& row :
             std::vector<std::pair<core::Phase, std::string>>{{core::Phase::resolve, "resolve"},
                                                              {core::Phase::connect, "connect"},
                                                              {core::Phase::starttls, "starttls"},
                                                              {core::Phase::tls, "tls"},
                                                              {core::Phase::check, "check"}}) {
            CAPTURE(row.second);
            auto e = make(core::EventType::failed);
            e.phase = row.first;
            CHECK(round_trip(event_json(e, "db:1", known_time()))["phase"] == row.second);
        }
    }
}

TEST_CASE("JSON ping summary: handshake statistics beside the connect ones") {
    core::ProbeStats plain;
    plain.add_success(1ms);
    nlohmann::ordered_json j;
    put_probe_stats(j, plain);
    CHECK(j.contains("connect_ms"));
    CHECK_FALSE(j.contains("tls_ms"));

    core::ProbeStats tls;
    tls.add_success(1ms, 4ms);
    tls.add_success(3ms, 6ms);
    nlohmann::ordered_json k;
    put_probe_stats(k, tls);
    auto p = round_trip(k);
    REQUIRE(p.contains("tls_ms"));
    for (const char* f : {"min", "avg", "max", "mdev", "p50", "p90", "p99"}) {
        CAPTURE(f);
        CHECK(p["tls_ms"][f].is_number());
    }
    CHECK(p["tls_ms"]["min"].get<double>() == doctest::Approx(4));
    CHECK(p["tls_ms"]["avg"].get<double>() == doctest::Approx(5));
    CHECK(p["tls_ms"]["max"].get<double>() == doctest::Approx(6));
    CHECK(p["connect_ms"]["max"].get<double>() == doctest::Approx(3));
}
