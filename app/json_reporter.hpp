// JSON Lines: one object per event, built with nlohmann_json (every string escaped).
// The schema is written down once, in docs/json-events.md.
#pragma once

#include "app/output.hpp"
#include "app/report.hpp"

#include <chrono>
#include <nlohmann/json.hpp>

namespace tcpretry::app {

inline constexpr int k_json_schema = 1;

using WallClock = std::chrono::system_clock;

// RFC 3339 UTC with milliseconds: "2026-11-27T03:08:14.123Z".
std::string rfc3339(WallClock::time_point t);

// mode: "wait", "watch" or "ping".
nlohmann::ordered_json start_json(const std::vector<std::string>& targets, WallClock::time_point t,
                                  std::string_view mode = "wait");
nlohmann::ordered_json event_json(const core::Event& e, std::string_view target,
                                  WallClock::time_point t);
nlohmann::ordered_json summary_json(const Summary& s, WallClock::time_point t);
// Ping statistics: sent, received, loss_percent, longest_failure_streak, connect_ms{...}.
void put_probe_stats(nlohmann::ordered_json& j, const core::ProbeStats& st);
nlohmann::ordered_json target_summary_json(std::string_view target, const core::WatchStats& st,
                                           WallClock::time_point t);

// One line, never throwing: invalid UTF-8 becomes U+FFFD.
std::string encode_line(const nlohmann::ordered_json& j);

class JsonReporter : public Reporter {
  public:
    JsonReporter(Output& out, std::vector<std::string> targets, std::string mode = "wait")
        : m_out(out), m_targets(std::move(targets)), m_mode(std::move(mode)) {}
    void start() override;
    void on_event(const core::Event& e) override;
    void target_summary(std::size_t target, const core::WatchStats& stats) override;
    void probe_summary(std::size_t target, const core::ProbeStats& stats, bool interim) override;
    void summary(const Summary& s) override;
    void add_target(const core::Target& target) override { m_targets.push_back(target.text); }

  private:
    Output& m_out;
    std::vector<std::string> m_targets;
    std::string m_mode;
};

} // namespace tcpretry::app
