// Ping mode: a fresh connect to one target every interval, each probe one Connector round
// (no backoff), closed right after (after the --send/--expect check when given).
#pragma once

#include "core/connector.hpp"
#include "core/stats.hpp"

#include <list>
#include <memory>

namespace tcpretry::core {

struct ProbeOptions {
    unsigned count = 0; // 0: until stopped
    Duration interval = k_probe_interval;
};

class Prober {
  public:
    // `connector` describes one probe; its max_rounds is forced to 1.
    Prober(Loop& loop, Resolver& resolver, Target target, std::size_t index,
           ConnectorOptions connector, ProbeOptions options, EventSink& sink);
    ~Prober();
    Prober(const Prober&) = delete;
    Prober& operator=(const Prober&) = delete;

    void start();
    void stop(); // probes in flight end silently
    // Every probe was sent and has an outcome.
    bool done() const;
    const ProbeStats& stats() const { return m_stats; }

  private:
    struct Probe;
    void send_next();
    void on_probe_event(Probe& p, const Event& e);
    void reap();
    void warn(std::string message);

    Loop& m_loop;
    Resolver& m_resolver;
    Target m_target;
    std::size_t m_index;
    ConnectorOptions m_connector;
    ProbeOptions m_options;
    EventSink& m_sink;
    ProbeStats m_stats;
    unsigned m_seq = 0;
    bool m_stopped = false;
    TimePoint m_first{};
    std::list<std::unique_ptr<Probe>> m_in_flight;
    std::list<std::unique_ptr<Probe>> m_finished; // freed from the loop, not their callbacks
    Timer m_next;
    Deferred m_reap;
};

} // namespace tcpretry::core
