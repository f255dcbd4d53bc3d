// The JSON Lines encoder (app::event_json / start_json / summary_json / target_summary_json,
// then app::encode_line): any bytes in any string field, every event type, any numbers. Each
// object must encode without throwing to exactly one line that nlohmann::json parses back;
// when every string is valid UTF-8 the line must carry the object unchanged.
#include "app/json_reporter.hpp"
#include "fuzz_support.hpp"

#include <fuzzer/FuzzedDataProvider.h>
#include <string>
#include <vector>

using namespace tcpretry;
using tcpretry::fuzz::require;

namespace {

template <typename Enum> Enum pick(FuzzedDataProvider& in, Enum last) {
    return static_cast<Enum>(in.ConsumeIntegralInRange<int>(0, static_cast<int>(last)));
}

std::string text(FuzzedDataProvider& in) {
    return in.ConsumeRandomLengthString(256);
}

core::Duration duration(FuzzedDataProvider& in) {
    return core::Duration(in.ConsumeIntegral<core::Duration::rep>());
}

core::Endpoint endpoint(FuzzedDataProvider& in) {
    core::Endpoint e;
    e.address = text(in);
    e.port = in.ConsumeIntegral<uint16_t>();
    e.family = in.ConsumeBool() ? core::Family::ipv6 : core::Family::ipv4;
    return e;
}

// Wall-clock times a run can meet: any system_clock time from 1970 on (its nanosecond count
// ends in 2262).
app::WallClock::time_point wall_time(FuzzedDataProvider& in) {
    auto ns = in.ConsumeIntegralInRange<app::WallClock::rep>(0, INT64_MAX);
    return app::WallClock::time_point(app::WallClock::duration(ns));
}

core::Event make_event(FuzzedDataProvider& in) {
    core::Event e;
    e.type = pick(in, core::EventType::probe);
    e.target = in.ConsumeIntegral<std::size_t>();
    e.attempt = in.ConsumeIntegral<unsigned>();
    if (in.ConsumeBool())
        e.address = endpoint(in);
    if (in.ConsumeBool())
        e.local = endpoint(in);
    e.error = pick(in, core::ErrorClass::expect_timeout);
    e.code.domain = pick(in, core::ErrorCode::Domain::resolver);
    e.code.value = in.ConsumeIntegral<int>();
    e.message = text(in);
    e.received = text(in);
    e.duration = duration(in);
    e.waited = duration(in);
    if (in.ConsumeBool())
        e.check = duration(in);
    e.delay = duration(in);
    e.connection = in.ConsumeIntegral<unsigned>();
    e.seq = in.ConsumeIntegral<unsigned>();
    e.ok = in.ConsumeBool();
    e.reason = pick(in, core::DisconnectReason::error);
    e.uptime = duration(in);
    e.bytes_received = in.ConsumeIntegral<uint64_t>();
    return e;
}

core::ProbeStats probe_stats(FuzzedDataProvider& in) {
    core::ProbeStats st;
    auto n = in.ConsumeIntegralInRange<int>(0, 80); // past k_history, so the history wraps
    for (int i = 0; i < n; ++i) {
        if (in.ConsumeBool())
            st.add_success(
                core::Duration(in.ConsumeIntegralInRange<int64_t>(0, 3'600'000'000'000LL)));
        else
            st.add_failure();
    }
    return st;
}

app::Summary summary(FuzzedDataProvider& in) {
    app::Summary s;
    s.result = pick(in, app::Result::failed);
    s.attempts = in.ConsumeIntegral<unsigned>();
    s.failures = in.ConsumeIntegral<unsigned>();
    s.targets = in.ConsumeIntegral<std::size_t>();
    s.connected = in.ConsumeIntegral<std::size_t>();
    s.elapsed = duration(in);
    s.exit_code = in.ConsumeIntegral<int>();
    if (in.ConsumeBool())
        s.probes = probe_stats(in);
    return s;
}

core::WatchStats watch_stats(FuzzedDataProvider& in) {
    core::WatchStats st;
    st.connections = in.ConsumeIntegral<unsigned>();
    st.disconnects = in.ConsumeIntegral<unsigned>();
    st.connected = in.ConsumeBool();
    // As TcpClient keeps them: nothing negative, up within elapsed.
    st.elapsed = core::Duration(in.ConsumeIntegralInRange<int64_t>(0, INT64_MAX / 2));
    st.up = core::Duration(in.ConsumeIntegralInRange<int64_t>(0, st.elapsed.count()));
    st.longest_up = core::Duration(in.ConsumeIntegralInRange<int64_t>(0, st.up.count()));
    st.longest_down = core::Duration(in.ConsumeIntegralInRange<int64_t>(0, st.elapsed.count()));
    return st;
}

void check_line(const nlohmann::ordered_json& j) {
    std::string line;
    try {
        line = app::encode_line(j);
    } catch (...) {
        fuzz::fail("encode_line never throws");
    }
    require(!line.empty(), "a JSON line is not empty");
    require(line.find('\n') == std::string::npos, "a JSON line holds no newline");
    // JSON escapes U+0000-U+001F; DEL and U+2028 may stay raw and are no line break here.
    for (char c : line)
        require(static_cast<unsigned char>(c) >= 0x20, "a JSON line holds no raw control byte");

    nlohmann::json back;
    try {
        back = nlohmann::json::parse(line);
    } catch (...) {
        fuzz::fail("a JSON line parses back");
    }
    require(back.is_object(), "a JSON line is an object");
    require(back.contains("event") && back["event"].is_string(), "every line has an event");
    require(back.contains("time") && back["time"].is_string(), "every line has a time");

    // Where every string is valid UTF-8 nothing is replaced: the line is the object itself.
    std::string strict;
    try {
        strict = j.dump();
    } catch (const nlohmann::json::type_error&) {
        return; // invalid UTF-8 somewhere: replaced by U+FFFD, checked above
    }
    require(line == strict, "valid UTF-8 is written unchanged");
    require(nlohmann::ordered_json::parse(line) == j, "the line round-trips to the object");
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
    FuzzedDataProvider in(data, size);
    switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 0: {
        core::Event e = make_event(in);
        std::string target = text(in);
        check_line(app::event_json(e, target, wall_time(in)));
        break;
    }
    case 1: {
        std::vector<std::string> targets(in.ConsumeIntegralInRange<std::size_t>(0, 8));
        for (auto& t : targets)
            t = text(in);
        check_line(app::start_json(targets, wall_time(in)));
        break;
    }
    case 2: {
        app::Summary s = summary(in);
        check_line(app::summary_json(s, wall_time(in)));
        break;
    }
    case 3: {
        std::string target = text(in);
        core::WatchStats st = watch_stats(in);
        check_line(app::target_summary_json(target, st, wall_time(in)));
        break;
    }
    }
    return 0;
}
