#include "app/run.hpp"

#include "app/human_reporter.hpp"
#include "app/json_reporter.hpp"
#include "app/metrics.hpp"
#include "app/options.hpp"
#include "app/output.hpp"
#include "core/prober.hpp"
#include "core/tcp_client.hpp"
#include "core/loop.hpp"
#include "core/resolver.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <poll.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

namespace tcpretry::app {

namespace {

// One run: the loop, one TcpClient per target, the deadline and the signals. The core's
// events go to the reporter; whether the run is over is decided later, from the loop, so no
// client is stopped from inside its own callback.
class Session final : public core::EventSink {
  public:
    Session(const Options& options, Reporter& reporter, Output& out, Metrics* metrics);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() override;

    // Runs until the outcome is known; returns the exit status and the result.
    std::pair<int, Result> run();

  private:
    void on_event(const core::Event& e) override;
    void decide();
    void finish(Result result, int exit_code);
    void report_summaries();
    void report_probe_summaries(bool interim);
    bool pinging() const { return m_options.count.has_value(); }
    std::size_t connected_count() const;
    static void on_signal(evutil_socket_t signal, short, void* arg);
    static void on_decide(evutil_socket_t, short, void* arg);
    static void on_output_gone(evutil_socket_t fd, short, void* arg);

    const Options& m_options;
    Reporter& m_reporter;
    Output& m_out;
    Metrics* m_metrics; // counted when wanted (--format prometheus, --metrics-listen)
    core::Loop m_loop;
    core::Resolver m_resolver;
    core::Gate m_gate;
    std::vector<std::unique_ptr<core::TcpClient>> m_clients; // wait and watch modes
    std::vector<std::unique_ptr<core::Prober>> m_probers;    // ping mode
    core::EventPtr m_sigquit; // ping mode: interim statistics
    core::EventPtr m_sigint;
    core::EventPtr m_sigterm;
    core::EventPtr m_decide;
    core::EventPtr m_output_watch; // a pipe's reader going away, noticed without writing
    core::Timer m_deadline;
    core::Timer m_tick; // the reporter's once-a-second redraw
    core::TimePoint m_start;
    std::optional<MetricsServer> m_metrics_server;
    std::optional<std::pair<int, Result>> m_outcome;
    std::size_t m_closing = 0; // clients still closing their connections
};

Session::Session(const Options& options, Reporter& reporter, Output& out, Metrics* metrics)
    : m_options(options), m_reporter(reporter), m_out(out), m_metrics(metrics), m_resolver(m_loop, options.resolver),
      m_gate(m_loop, options.parallel),
      m_deadline(m_loop, [this] { finish(Result::timeout, k_exit_timeout); }),
      m_tick(m_loop, [this] {
          m_reporter.tick();
          m_tick.start(std::chrono::seconds(1));
      }) {
    uint64_t seed = options.seed ? *options.seed : std::random_device{}();
    core::ClientOptions client;
    client.hold = options.watch;
    client.stable_after = options.stable_after;
    client.keepalive = options.keepalive;
    client.recheck = options.recheck;
    core::ProbeOptions probe;
    probe.count = options.count.value_or(0);
    probe.interval = options.interval;
    for (std::size_t i = 0; i < options.targets.size(); ++i) {
        core::ConnectorOptions co;
        co.connect_timeout = options.connect_timeout;
        co.max_rounds = options.attempts;
        co.backoff = options.backoff;
        co.seed = seed + i;
        co.family = options.family;
        co.source = options.source;
        co.check = options.check;
        co.gate = &m_gate;
        if (pinging())
            m_probers.push_back(std::make_unique<core::Prober>(m_loop, m_resolver,
                                                               options.targets[i], i, co, probe,
                                                               *this));
        else
            m_clients.push_back(std::make_unique<core::TcpClient>(
                m_loop, m_resolver, options.targets[i], i, co, client, *this));
    }
    // A quiet watch may write nothing for hours: notice `| head -1` having closed the pipe
    // when it happens (the write end of a pipe reports an error then), not at the next line.
    struct stat st{};
    int out_fd = fileno(out.file());
    if (fstat(out_fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
        m_output_watch.reset(
            event_new(m_loop.base(), out_fd, EV_READ | EV_PERSIST, &Session::on_output_gone, this));
        if (m_output_watch)
            event_add(m_output_watch.get(), nullptr);
    }
    if (options.metrics_listen)
        m_metrics_server.emplace(m_loop, *options.metrics_listen, *m_metrics);
    if (pinging()) {
        m_sigquit.reset(evsignal_new(m_loop.base(), SIGQUIT, &Session::on_signal, this));
        if (!m_sigquit || event_add(m_sigquit.get(), nullptr) != 0)
            throw std::runtime_error("cannot set up signal handling");
    }
    m_sigint.reset(evsignal_new(m_loop.base(), SIGINT, &Session::on_signal, this));
    m_sigterm.reset(evsignal_new(m_loop.base(), SIGTERM, &Session::on_signal, this));
    m_decide.reset(event_new(m_loop.base(), -1, 0, &Session::on_decide, this));
    if (!m_sigint || !m_sigterm || !m_decide || event_add(m_sigint.get(), nullptr) != 0 ||
        event_add(m_sigterm.get(), nullptr) != 0)
        throw std::runtime_error("cannot set up signal handling");
}

Session::~Session() {
    // Everything is stopped; let the loop run once more without blocking: evdns delivers
    // the callbacks of cancelled queries from the loop, and they free what the queries held.
    event_base_loop(m_loop.base(), EVLOOP_NONBLOCK);
    m_clients.clear();
}

std::pair<int, Result> Session::run() {
    m_start = core::Clock::now();
    m_reporter.start();
    for (const auto& w : m_options.warnings) {
        core::Event e;
        e.type = core::EventType::warning;
        e.message = w;
        on_event(e);
    }
    if (m_options.timeout)
        m_deadline.start(*m_options.timeout);
    m_tick.start(std::chrono::seconds(1));
    for (auto& c : m_clients)
        c->start();
    for (auto& p : m_probers)
        p->start();
    m_loop.run();
    return m_outcome.value_or(std::pair{k_exit_internal, Result::interrupted});
}

void Session::on_event(const core::Event& e) {
    if (m_metrics)
        m_metrics->on_event(e);
    m_reporter.on_event(e);
    if (m_out.broken() || e.type == core::EventType::connected ||
        e.type == core::EventType::gave_up || e.type == core::EventType::probe)
        event_active(m_decide.get(), EV_TIMEOUT, 0);
}

std::size_t Session::connected_count() const {
    return static_cast<std::size_t>(std::count_if(
        m_clients.begin(), m_clients.end(), [](const auto& c) { return c->connected(); }));
}

void Session::decide() {
    if (m_out.broken())
        return finish(Result::interrupted, k_exit_sigpipe);
    if (pinging()) {
        bool all_done = std::all_of(m_probers.begin(), m_probers.end(),
                                    [](const auto& p) { return p->done(); });
        if (all_done)
            finish(Result::ok, k_exit_ok); // finish() judges the answers
        return;
    }
    auto gave_up = static_cast<std::size_t>(
        std::count_if(m_clients.begin(), m_clients.end(), [](const auto& c) {
            return c->connector().state() == core::Connector::State::gave_up;
        }));
    std::size_t n = m_clients.size();
    if (m_options.watch) {
        // A watch ends when stopped, or when no target has anything left to try.
        if (gave_up == n)
            finish(Result::gave_up, k_exit_failed);
        return;
    }
    if (connected_count() >= m_options.needed)
        finish(Result::ok, k_exit_ok);
    else if (n - gave_up < m_options.needed) // too few left to reach it
        finish(Result::gave_up, k_exit_failed);
}

void Session::finish(Result result, int exit_code) {
    if (m_outcome)
        return;
    m_deadline.cancel();
    m_tick.cancel();
    if (m_options.watch && exit_code != k_exit_sigpipe && result != Result::gave_up) {
        // Stopping is how a watch normally ends: the status says whether the targets the
        // condition needs were connected at that moment.
        bool ok = connected_count() >= m_options.needed;
        result = ok ? Result::ok : Result::disconnected;
        exit_code = ok ? k_exit_ok : k_exit_failed;
    }
    if (pinging() && exit_code != k_exit_sigpipe) {
        // However it ended: did every target answer at least one probe?
        bool all_answered = std::all_of(m_probers.begin(), m_probers.end(),
                                        [](const auto& p) { return p->stats().received() > 0; });
        if (!all_answered)
            result = Result::failed;
        else if (result == Result::timeout || result == Result::interrupted)
            result = Result::ok;
        exit_code = all_answered ? k_exit_ok : k_exit_failed;
    }
    m_outcome = std::pair{exit_code, result};
    if (exit_code != k_exit_sigpipe) // nobody is reading: end quietly
        report_summaries();
    for (auto& p : m_probers)
        p->stop();

    // Held connections are half-closed and given a moment for the peer's EOF.
    m_closing = m_clients.size();
    if (m_closing == 0)
        m_loop.exit();
    for (auto& c : m_clients) {
        c->stop([this] {
            if (--m_closing == 0)
                m_loop.exit();
        });
    }
}

void Session::report_probe_summaries(bool interim) {
    for (std::size_t i = 0; i < m_probers.size(); ++i)
        m_reporter.probe_summary(i, m_probers[i]->stats(), interim);
}

void Session::report_summaries() {
    Summary s;
    s.result = m_outcome->second;
    s.exit_code = m_outcome->first;
    s.targets = m_options.targets.size();
    if (pinging()) {
        report_probe_summaries(false);
        core::ProbeStats all;
        for (const auto& p : m_probers) {
            all.merge(p->stats());
            s.connected += p->stats().received() > 0;
        }
        s.probes = std::move(all);
    }
    for (std::size_t i = 0; i < m_clients.size(); ++i) {
        const core::TcpClient& c = *m_clients[i];
        s.attempts += c.connector().rounds();
        s.failures += c.connector().failed_rounds();
        s.connected += c.connected();
        if (m_options.watch)
            m_reporter.target_summary(i, c.stats());
    }
    s.elapsed = core::Clock::now() - m_start;
    m_reporter.summary(s);
    if (m_out.broken())
        m_outcome = std::pair{k_exit_sigpipe, s.result};
}

void Session::on_signal(evutil_socket_t signal, short, void* arg) {
    auto* self = static_cast<Session*>(arg);
    if (signal == SIGQUIT) // as fping: interim statistics, then go on
        return self->report_probe_summaries(true);
    self->finish(Result::interrupted, signal == SIGINT ? k_exit_sigint : k_exit_sigterm);
}

void Session::on_decide(evutil_socket_t, short, void* arg) {
    static_cast<Session*>(arg)->decide();
}

void Session::on_output_gone(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<Session*>(arg);
    pollfd p{fd, POLLOUT, 0};
    if (poll(&p, 1, 0) == 1 && (p.revents & (POLLERR | POLLHUP))) {
        event_del(self->m_output_watch.get());
        self->m_out.mark_broken();
        self->decide();
    }
}

bool want_color(const Options& o, const Output& out) {
    switch (o.color) {
    case ColorMode::always:
        return true;
    case ColorMode::never:
        return false;
    case ColorMode::automatic:
        break;
    }
    const char* no_color = std::getenv("NO_COLOR");
    return out.is_terminal() && (no_color == nullptr || *no_color == '\0');
}

// Replaces this process with COMMAND; returns only when that failed.
int exec_command(const std::vector<std::string>& command) {
    std::vector<char*> argv;
    for (const auto& a : command)
        argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    std::signal(SIGPIPE, SIG_DFL); // an ignored signal would stay ignored in COMMAND
    std::fflush(stdout);
    std::fflush(stderr);
    execvp(argv[0], argv.data());
    int err = errno;
    int status = err == ENOENT || err == ENOTDIR ? k_exit_not_found : k_exit_not_executable;
    std::fprintf(stderr, "tcpretry: cannot run '%s': %s\n", command[0].c_str(),
                 status == k_exit_not_found ? "command not found" : std::strerror(err));
    return status;
}

} // namespace

// libevent's last complaint, for the one line we print if it gives up on us.
std::string g_libevent_complaint;

// libevent logs to stderr by itself ("[warn] ..."): keep it quiet, remember the latest.
void on_libevent_log(int severity, const char* msg) {
    if (severity >= EVENT_LOG_WARN && msg)
        g_libevent_complaint = msg;
}

// libevent calls this, then exit(1), when it cannot go on (e.g. no descriptor for its signal
// pipe): say so in one line and end with 125, "tcpretry itself failed".
[[noreturn]] void on_libevent_fatal(int) {
    std::fprintf(stderr, "tcpretry: the event loop failed: %s\n",
                 g_libevent_complaint.empty() ? "internal libevent error"
                                              : g_libevent_complaint.c_str());
    std::fflush(stdout);
    _exit(k_exit_internal);
}

// Each attempt in flight holds a descriptor: allow as many as the hard limit lets us.
void raise_descriptor_limit() {
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
}

int run(int argc, char** argv) {
    // Writes to a closed pipe must fail with EPIPE (reported as 141), not kill us.
    std::signal(SIGPIPE, SIG_IGN);

    ParseResult parsed = parse_options(argc, argv);
    if (auto* early = std::get_if<EarlyExit>(&parsed)) {
        std::fputs(early->text.c_str(), stdout);
        return k_exit_ok;
    }
    if (auto* err = std::get_if<UsageError>(&parsed)) {
        std::fprintf(stderr, "tcpretry: %s\n", err->message.c_str());
        return k_exit_usage;
    }
    const Options& options = std::get<Options>(parsed);
    raise_descriptor_limit();
    event_set_log_callback(on_libevent_log);
    event_set_fatal_callback(on_libevent_fatal);

    // With a COMMAND, stdout belongs to it: all our output goes to stderr.
    Output out(options.command.empty() ? stdout : stderr);
    Output err(stderr);
    std::vector<std::string> texts;
    for (const auto& t : options.targets)
        texts.push_back(t.text);
    std::optional<Metrics> metrics;
    if (options.format == Format::prometheus || options.metrics_listen)
        metrics.emplace(texts);
    std::unique_ptr<Reporter> reporter;
    if (options.format == Format::json) {
        reporter = std::make_unique<JsonReporter>(out, std::move(texts),
                                                  options.count ? "ping"
                                                  : options.watch ? "watch"
                                                                  : "wait");
    } else if (options.format == Format::prometheus) {
        reporter = std::make_unique<PrometheusReporter>(out, *metrics);
    } else {
        reporter = std::make_unique<HumanReporter>(
            out, err, options.targets,
            HumanStyle{options.verbosity, want_color(options, out), options.watch,
                       out.is_terminal(), options.targets.size() > k_fleet_threshold,
                       out.is_terminal(),
                       options.timestamps.value_or(options.watch && !out.is_terminal())});
    }

    std::pair<int, Result> outcome;
    try {
        Session session(options, *reporter, out, metrics ? &*metrics : nullptr);
        outcome = session.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tcpretry: %s\n", e.what());
        return k_exit_internal;
    }
    if (outcome.second == Result::ok && !options.command.empty())
        return exec_command(options.command);
    return outcome.first;
}

} // namespace tcpretry::app
