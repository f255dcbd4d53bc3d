// --serve's pure parts: the /probe query, --serve-allow, and the blackbox-style answer.
#include "app/probe_metrics.hpp"
#include "app/serve_query.hpp"

#include <doctest/doctest.h>
#include <string>
#include <variant>

using namespace tcpretry;
using namespace tcpretry::app;

namespace {

ProbeQuery good(std::string_view query) {
    auto r = parse_probe_query(query);
    const auto* q = std::get_if<ProbeQuery>(&r);
    if (!q)
        FAIL_CHECK("rejected " << query << ": " << std::get<QueryError>(r).message);
    return q ? *q : ProbeQuery{};
}

std::string bad(std::string_view query) {
    auto r = parse_probe_query(query);
    const auto* e = std::get_if<QueryError>(&r);
    if (!e)
        FAIL_CHECK("accepted " << query);
    return e ? e->message : "";
}

core::Target target(std::string_view text) {
    return std::get<core::Target>(core::parse_target(text));
}

} // namespace

TEST_CASE("percent_decode: escapes and '+', nothing on a broken escape") {
    CHECK(percent_decode("a%3Ab+c") == "a:b c");
    CHECK(percent_decode("%5B%3a%3a1%5D") == "[::1]");
    CHECK(percent_decode("") == "");
    CHECK_FALSE(percent_decode("%"));
    CHECK_FALSE(percent_decode("%4"));
    CHECK_FALSE(percent_decode("%zz"));
    CHECK_FALSE(percent_decode("ab%"));
}

TEST_CASE("parse_probe_query: one target, validated like a command-line target") {
    ProbeQuery q = good("target=127.0.0.1:5432");
    CHECK(q.target.host == "127.0.0.1");
    CHECK(q.target.port == 5432);
    CHECK_FALSE(q.module);
    q = good("module=tcp_connect&target=db.example%3A443&debug=true");
    CHECK(q.target.host == "db.example");
    CHECK(q.target.port == 443);
    CHECK(q.module == "tcp_connect");
    CHECK(good("target=%5B%3A%3A1%5D%3A22&&").target.host == "::1");
    CHECK(good("target=localhost:ssh").target.port == 22);
}

TEST_CASE("parse_probe_query: a bad query names its problem") {
    CHECK(bad("").find("missing parameter 'target'") != std::string::npos);
    CHECK(bad("module=x").find("missing parameter 'target'") != std::string::npos);
    CHECK(bad("target=").find("missing parameter 'target'") != std::string::npos);
    CHECK(bad("target=a:1&target=b:2").find("more than once") != std::string::npos);
    CHECK(bad("target=db.example").find("target: ") == 0);
    CHECK(bad("target=db.example:0").find("target: ") == 0);
    CHECK(bad("target=a%0Ab:1").find("target: ") == 0);
    CHECK(bad("target=%zz").find("percent-encoding") != std::string::npos);
    CHECK(bad(std::string(k_max_probe_query + 1, 'a')).find("longer than") != std::string::npos);
}

TEST_CASE("parse_cidr: networks and single addresses, host bits cleared") {
    auto c = parse_cidr("10.1.2.3/8");
    REQUIRE(c);
    CHECK(c->prefix == 8);
    CHECK(c->contains(*core::parse_numeric_address("10.200.0.1", 1)));
    CHECK_FALSE(c->contains(*core::parse_numeric_address("11.0.0.1", 1)));
    CHECK_FALSE(c->contains(*core::parse_numeric_address("::ffff:10.0.0.1", 1)));
    auto one = parse_cidr("192.0.2.7");
    REQUIRE(one);
    CHECK(one->prefix == 32);
    CHECK(one->contains(*core::parse_numeric_address("192.0.2.7", 80)));
    CHECK_FALSE(one->contains(*core::parse_numeric_address("192.0.2.6", 80)));
    auto odd = parse_cidr("172.16.0.0/12");
    REQUIRE(odd);
    CHECK(odd->contains(*core::parse_numeric_address("172.31.255.255", 1)));
    CHECK_FALSE(odd->contains(*core::parse_numeric_address("172.32.0.0", 1)));
    auto v6 = parse_cidr("fd00::/8");
    REQUIRE(v6);
    CHECK(v6->contains(*core::parse_numeric_address("fd12::1", 1)));
    CHECK_FALSE(v6->contains(*core::parse_numeric_address("fe80::1", 1)));
    CHECK(parse_cidr("::/0")->contains(*core::parse_numeric_address("2001:db8::1", 1)));
    for (const char* no : {"", "10.0.0.0/", "10.0.0.0/33", "::1/129", "10.0.0.0/-1", "10.0.0/8",
                           "db.example", "10.0.0.0/8x", "10.0.0.0/0008"})
        CHECK_MESSAGE(!parse_cidr(no), no);
}

TEST_CASE("AllowList: CIDRs, names, name suffixes and the given targets") {
    AllowList allow;
    CHECK(allow.empty());
    CHECK_FALSE(allow.add("127.0.0.0/8"));
    CHECK_FALSE(allow.add("DB.example"));
    CHECK_FALSE(allow.add("*.svc.example"));
    allow.add_target(target("cache.example:6379"));
    CHECK(allow.allows_target(target("127.0.0.1:22")));
    CHECK_FALSE(allow.allows_target(target("10.0.0.1:22")));
    CHECK(allow.allows_target(target("db.example:5432")));
    CHECK(allow.allows_target(target("Db.Example:1")));
    CHECK_FALSE(allow.allows_target(target("xdb.example:5432")));
    CHECK(allow.allows_target(target("a.svc.example:80")));
    CHECK(allow.allows_target(target("b.a.svc.example:80")));
    CHECK_FALSE(allow.allows_target(target("svc.example:80")));
    CHECK(allow.allows_target(target("cache.example:6379")));
    CHECK_FALSE(allow.allows_target(target("cache.example:6380")));
    CHECK(allow.allows_address(*core::parse_numeric_address("127.1.2.3", 1)));
    CHECK_FALSE(allow.allows_address(*core::parse_numeric_address("::1", 1)));
    auto err = allow.add("not a host");
    REQUIRE(err);
    CHECK(err->find("--serve-allow: 'not a host'") == 0);
    CHECK(allow.add("*."));
    CHECK(allow.add("10.0.0.0/40"));
}

TEST_CASE("ip_addr_hash is FNV-1a over the address text, as blackbox_exporter hashes it") {
    CHECK(ip_addr_hash("") == 2166136261u);
    CHECK(ip_addr_hash("a") == 0xe40c292cu);
    CHECK(ip_addr_hash("127.0.0.1") == 144953630u);
}

TEST_CASE("encode_probe: blackbox names, then tcpretry's own") {
    ProbeResult r;
    r.success = true;
    r.duration_seconds = 0.00125;
    r.dns_seconds = 0.0001;
    r.address = core::Endpoint{"127.0.0.1", 80, core::Family::ipv4};
    r.tls_version = "TLSv1.3";
    r.cert_not_after = 1800000000;
    r.phases = {{"resolve", 0.0001}, {"connect", 0.0002}, {"tls", 0.0009}};
    std::string text = encode_probe(r);
    CHECK(text.find("# TYPE probe_success gauge\nprobe_success 1\n") != std::string::npos);
    CHECK(text.find("probe_duration_seconds 0.00125\n") != std::string::npos);
    CHECK(text.find("probe_dns_lookup_time_seconds 0.0001\n") != std::string::npos);
    CHECK(text.find("probe_ip_protocol 4\n") != std::string::npos);
    CHECK(text.find("probe_ip_addr_hash 144953630\n") != std::string::npos);
    CHECK(text.find("probe_tls_version_info{version=\"TLS 1.3\"} 1\n") != std::string::npos);
    CHECK(text.find("probe_ssl_earliest_cert_expiry 1.8e+09\n") != std::string::npos);
    CHECK(text.find("tcpretry_probe_phase_seconds{phase=\"tls\"} 0.0009\n") != std::string::npos);
    CHECK(text.find("probe_failed_due_to_regex 0\n") != std::string::npos);
    CHECK(text.find("tcpretry_probe_error_info") == std::string::npos);
    CHECK(text.find("module_ignored") == std::string::npos);

    ProbeResult f;
    f.error_class = "refused";
    f.module_ignored = true;
    text = encode_probe(f);
    CHECK(text.find("probe_success 0\n") != std::string::npos);
    CHECK(text.find("tcpretry_probe_error_info{class=\"refused\"} 1\n") != std::string::npos);
    CHECK(text.find("tcpretry_probe_module_ignored 1\n") != std::string::npos);
    CHECK(text.find("probe_ip_protocol") == std::string::npos);
    CHECK(text.find("probe_dns_lookup_time_seconds") == std::string::npos);
}
