#include "app/run.hpp"

#include "app/board.hpp"
#include "app/human_reporter.hpp"
#include "app/json_reporter.hpp"
#include "app/metrics_server.hpp"
#include "app/options.hpp"
#include "app/output.hpp"
#include "app/serve.hpp"
#include "core/loop.hpp"
#include "core/prober.hpp"
#include "core/resolver.hpp"
#include "core/tcp_client.hpp"

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <poll.h>
#include <random>
#include <sstream>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <unordered_map>

namespace tcpretry::app {

namespace {

// One run: the loop, one TcpClient (or Prober) per target, the deadline and the signals. The
// core's events go to the board, then the reporters; whether the run is over is decided later,
// from the loop, so no client is stopped from inside its own callback.
class Session final : public core::EventSink {
  public:
    Session(const Options& options, Board& board, Reporter& reporter, Output& out,
            Metrics* metrics);
    Session(const Session&) = delete;
    Session& operator=(const Session&) = delete;
    ~Session() override;

    // Runs until the outcome is known.
    Outcome run();

  private:
    void make_targets();
    void make_target(const core::Target& target, std::size_t index,
                     std::shared_ptr<const core::ConnectorOptions> options);
    void reload();
    void add_target(const core::Target& target);
    void remove_target(std::size_t index);
    void warn(std::string message);
    void watch_output();
    void handle_signals();
    void on_event(const core::Event& e) override;
    Facts facts(Stop stop) const;
    void decide();
    void stop(Stop how);
    void finish(const Facts& facts, const Outcome& outcome);
    void close();
    void report_summaries();
    void report_probe_summaries(bool interim);
    bool pinging() const { return m_options.mode == Mode::ping; }
    static void on_signal(evutil_socket_t signal, short, void* arg);
    static void on_output_gone(evutil_socket_t fd, short, void* arg);

    const Options& m_options;
    Board& m_board; // fed here, once per event, before the reporters
    Reporter& m_reporter;
    Output& m_out;
    Metrics* m_metrics; // counted when wanted (--format prometheus, --metrics-listen)
    core::Loop m_loop;
    core::Resolver m_resolver;
    core::Gate m_gate;
    std::vector<std::unique_ptr<core::TcpClient>> m_clients; // wait and watch modes
    std::vector<std::unique_ptr<core::Prober>> m_probers;    // ping mode
    // How targets are made, kept for the ones a reload adds.
    uint64_t m_seed = 0;
    std::shared_ptr<const core::ConnectorOptions> m_shared_co;
    std::shared_ptr<const core::ClientOptions> m_shared_client;
    core::ProbeOptions m_probe;
    // The --targets-file's live targets: their indexes and texts (a reload compares texts).
    // SIGHUP re-reads --targets-file in watch and ping modes.
    bool reloads() const { return m_options.targets_file && m_options.mode != Mode::wait; }
    std::vector<std::size_t> m_file_slots;
    std::vector<std::string> m_file_texts;
    core::EventPtr m_sigquit; // ping mode: interim statistics
    core::EventPtr m_sighup;  // watch and ping modes with a --targets-file: reload it
    core::EventPtr m_sigint;
    core::EventPtr m_sigterm;
    core::Deferred m_decide;       // decide(), from the loop: never inside a client's callback
    core::EventPtr m_output_watch; // a pipe's reader going away, noticed without writing
    core::Timer m_deadline;
    core::Timer m_tick; // the reporter's once-a-second redraw
    core::TimePoint m_start;
    std::optional<MetricsServer> m_metrics_server;
    std::optional<Outcome> m_outcome;
    std::size_t m_closing = 0; // clients still closing their connections
};

Session::Session(const Options& options, Board& board, Reporter& reporter, Output& out,
                 Metrics* metrics)
    : m_options(options), m_board(board), m_reporter(reporter), m_out(out), m_metrics(metrics),
      m_resolver(m_loop, options.resolver), m_gate(m_loop, options.parallel),
      m_deadline(m_loop, [this] { stop(Stop::deadline); }), m_tick(m_loop, [this] {
          m_reporter.tick();
          (void)m_tick.start(std::chrono::seconds(1)); // unarmed: the redraw stops, no more
      }) {
    make_targets();
    watch_output();
    if (options.metrics_listen)
        m_metrics_server.emplace(m_loop, *options.metrics_listen, *m_metrics);
    handle_signals();
}

// One TcpClient a target (wait, watch), or one Prober (ping).
void Session::make_targets() {
    m_seed = m_options.seed ? *m_options.seed : std::random_device{}();
    core::ClientOptions client;
    client.hold = m_options.mode == Mode::watch;
    client.stable_after = m_options.stable_after;
    client.keepalive = m_options.keepalive;
    client.recheck = m_options.recheck;
    m_probe.count = m_options.count;
    m_probe.interval = m_options.interval;
    core::ConnectorOptions co;
    co.connect_timeout = m_options.connect_timeout;
    co.max_rounds = m_options.attempts;
    co.backoff = m_options.backoff;
    co.family = m_options.family;
    co.source = m_options.source;
    co.check = m_options.check;
    co.gate = &m_gate;
    co.invert = m_options.invert;
    // One copy of the Connector options for the whole fleet; each target its own seed.
    m_shared_co = std::make_shared<const core::ConnectorOptions>(co);
    m_shared_client = std::make_shared<const core::ClientOptions>(client);
    if (pinging())
        m_probers.reserve(m_options.targets.size());
    else
        m_clients.reserve(m_options.targets.size());
    auto own = m_options.target_checks.begin(); // HTTP TARGETs' checks, in target order
    for (std::size_t i = 0; i < m_options.targets.size(); ++i) {
        auto options = m_shared_co;
        if (own != m_options.target_checks.end() && own->first == i) {
            core::ConnectorOptions mine = co;
            mine.check = (own++)->second;
            options = std::make_shared<const core::ConnectorOptions>(std::move(mine));
        }
        make_target(m_options.targets[i], i, std::move(options));
    }
    // What a SIGHUP reload compares the file with; only where SIGHUP reloads (not in wait mode,
    // whose fleets of 10,000 targets would pay a copy of every line).
    for (std::size_t i = 0; reloads() && i < m_options.file_count; ++i) {
        m_file_slots.push_back(m_options.file_first + i);
        m_file_texts.push_back(m_options.targets[m_options.file_first + i].text);
    }
}

// `options`: the fleet's shared Connector options, or a target's own.
void Session::make_target(const core::Target& target, std::size_t index,
                          std::shared_ptr<const core::ConnectorOptions> options) {
    if (pinging()) {
        core::ConnectorOptions probe_options = *options;
        probe_options.seed = m_seed + index;
        m_probers.push_back(std::make_unique<core::Prober>(m_loop, m_resolver, target, index,
                                                           probe_options, m_probe, *this));
    } else {
        m_clients.push_back(std::make_unique<core::TcpClient>(m_loop, m_resolver, target, index,
                                                              std::move(options), m_seed + index,
                                                              m_shared_client, *this));
    }
}

// A quiet watch may write nothing for hours: notice `| head -1` having closed the pipe when it
// happens (the write end of a pipe reports an error then), not at the next line.
void Session::watch_output() {
    struct stat st {};
    int out_fd = fileno(m_out.file());
    if (fstat(out_fd, &st) != 0 || !S_ISFIFO(st.st_mode))
        return;
    m_output_watch.reset(
        event_new(m_loop.base(), out_fd, EV_READ | EV_PERSIST, &Session::on_output_gone, this));
    if (m_output_watch)
        event_add(m_output_watch.get(), nullptr);
}

void Session::handle_signals() {
    if (pinging()) {
        m_sigquit.reset(evsignal_new(m_loop.base(), SIGQUIT, &Session::on_signal, this));
        if (!m_sigquit || event_add(m_sigquit.get(), nullptr) != 0)
            throw std::runtime_error("cannot set up signal handling");
    }
    // Wait mode, or no file to re-read: SIGHUP keeps its default (it ends tcpretry).
    if (reloads()) {
        m_sighup.reset(evsignal_new(m_loop.base(), SIGHUP, &Session::on_signal, this));
        if (!m_sighup || event_add(m_sighup.get(), nullptr) != 0)
            throw std::runtime_error("cannot set up signal handling");
    }
    m_sigint.reset(evsignal_new(m_loop.base(), SIGINT, &Session::on_signal, this));
    m_sigterm.reset(evsignal_new(m_loop.base(), SIGTERM, &Session::on_signal, this));
    if (!m_sigint || !m_sigterm || event_add(m_sigint.get(), nullptr) != 0 ||
        event_add(m_sigterm.get(), nullptr) != 0)
        throw std::runtime_error("cannot set up signal handling");
}

Session::~Session() {
    // Everything is stopped; let the loop run once more without blocking: evdns delivers
    // the callbacks of cancelled queries from the loop, and they free what the queries held.
    event_base_loop(m_loop.base(), EVLOOP_NONBLOCK);
    m_clients.clear();
}

Outcome Session::run() {
    m_start = core::Clock::now();
    m_reporter.start();
    for (const auto& w : m_options.warnings) {
        core::Event e;
        e.type = core::EventType::warning;
        e.message = w;
        on_event(e);
    }
    if (m_options.timeout && !m_deadline.start(*m_options.timeout))
        throw std::runtime_error("cannot arm the --timeout deadline");
    (void)m_tick.start(std::chrono::seconds(1)); // unarmed: no redraw, the run goes on
    for (auto& c : m_clients)
        c->start();
    for (auto& p : m_probers)
        p->start();
    m_loop.run();
    return m_outcome.value_or(Outcome{Result::interrupted, k_exit_internal, false});
}

void Session::on_event(const core::Event& e) {
    m_board.on_event(e);
    if (m_metrics)
        m_metrics->on_event(e);
    m_reporter.on_event(e);
    bool decisive = m_out.broken() || e.type == core::EventType::connected ||
                    e.type == core::EventType::closed || e.type == core::EventType::gave_up ||
                    e.type == core::EventType::probe;
    if (decisive && !m_decide.pending())
        m_decide = m_loop.defer([this] { decide(); });
}

Facts Session::facts(Stop stop) const {
    Facts f;
    f.stop = stop;
    f.targets = m_board.live();
    // All targets (the default) are the live ones; --any or --quorum N, at most that many.
    f.needed = m_options.needed >= m_options.targets.size()
                   ? m_board.live()
                   : std::min(m_options.needed, m_board.live());
    f.up = m_board.up_count();
    f.gave_up = m_board.count(TargetState::gave_up);
    f.probes_done = pinging();
    for (std::size_t i = 0; i < m_probers.size(); ++i)
        f.probes_done = f.probes_done && (m_board.at(i).removed || m_probers[i]->done());
    f.command = !m_options.command.empty();
    return f;
}

// Whether the targets (or a closed output) have ended the run.
void Session::decide() {
    Facts f = facts(m_out.broken() ? Stop::output_closed : Stop::none);
    if (auto outcome = exit_status(m_options.mode, f))
        finish(f, *outcome);
}

// The deadline, a signal or the output closing ends the run, whatever the targets say.
void Session::stop(Stop how) {
    Facts f = facts(how);
    if (auto outcome = exit_status(m_options.mode, f))
        finish(f, *outcome);
}

void Session::finish(const Facts& facts, const Outcome& outcome) {
    if (m_outcome)
        return;
    m_deadline.cancel();
    m_tick.cancel();
    m_outcome = outcome;
    if (facts.stop != Stop::output_closed) { // nobody is reading: end quietly
        report_summaries();
        if (m_out.broken()) {
            Facts lost = facts;
            lost.summary_lost = true;
            m_outcome = exit_status(m_options.mode, lost);
        }
    }
    close();
}

// Probes stop; held connections are half-closed and given a moment for the peer's EOF.
void Session::close() {
    for (auto& p : m_probers)
        p->stop();
    m_closing = m_board.live();
    if (m_closing == 0 || m_clients.empty())
        m_loop.break_loop();
    for (std::size_t i = 0; i < m_clients.size(); ++i) {
        if (m_board.at(i).removed) // stopped when removed
            continue;
        m_clients[i]->stop([this] {
            if (--m_closing == 0)
                m_loop.break_loop();
        });
    }
}

void Session::report_probe_summaries(bool interim) {
    for (std::size_t i = 0; i < m_probers.size(); ++i)
        if (!m_board.at(i).removed) // its summary came with its removal
            m_reporter.probe_summary(i, m_probers[i]->stats(), interim);
}

void Session::report_summaries() {
    Summary s;
    s.result = m_outcome->result;
    s.exit_code = m_outcome->status;
    s.targets = m_board.live();
    s.connected = m_board.up_count();
    if (pinging()) {
        report_probe_summaries(false);
        core::ProbeStats all;
        for (const auto& p : m_probers)
            all.merge(p->stats());
        s.probes = std::move(all);
    }
    for (std::size_t i = 0; i < m_clients.size(); ++i) {
        const core::TcpClient& c = *m_clients[i];
        s.attempts += c.connector().rounds();
        s.failures += c.connector().failed_rounds();
        if (m_options.mode == Mode::watch && !m_board.at(i).removed)
            m_reporter.target_summary(i, c.stats());
    }
    s.elapsed = core::Clock::now() - m_start;
    m_reporter.summary(s);
}

void Session::warn(std::string message) {
    core::Event e;
    e.type = core::EventType::warning;
    e.message = std::move(message);
    on_event(e);
}

// SIGHUP: the --targets-file again. Targets are matched by their text, one for one: a kept
// one goes on untouched (its connection, its statistics); the others are removed, and the
// new ones take new indexes. A file that cannot be read or parsed changes nothing.
void Session::reload() {
    if (m_outcome)
        return;
    const std::string& path = *m_options.targets_file;
    std::ifstream in(path);
    if (!in)
        return warn("--targets-file reload: cannot read '" + path + "': " + std::strerror(errno) +
                    "; the targets stay as they were");
    std::ostringstream text;
    text << in.rdbuf();
    auto parsed = parse_targets_file(text.str(), path);
    if (auto* e = std::get_if<UsageError>(&parsed))
        return warn("--targets-file reload: " + e->message + "; the targets stay as they were");
    auto& listed = std::get<std::vector<core::Target>>(parsed);
    if (listed.empty() && m_board.live() == m_file_slots.size()) // nothing would be left
        return warn("--targets-file reload: " + path +
                    " lists no targets; the targets stay as they were");
    std::unordered_map<std::string, std::vector<std::size_t>> current; // text -> positions
    for (std::size_t k = m_file_texts.size(); k-- > 0;)
        current[m_file_texts[k]].push_back(k);
    std::vector<bool> kept(m_file_slots.size(), false);
    std::vector<core::Target> added;
    for (auto& t : listed) {
        auto it = current.find(t.text);
        if (it == current.end() || it->second.empty()) {
            added.push_back(std::move(t));
            continue;
        }
        kept[it->second.back()] = true;
        it->second.pop_back();
    }
    std::vector<std::size_t> slots;
    std::vector<std::string> texts;
    for (std::size_t k = 0; k < m_file_slots.size(); ++k) {
        if (!kept[k]) {
            remove_target(m_file_slots[k]);
            continue;
        }
        slots.push_back(m_file_slots[k]);
        texts.push_back(m_file_texts[k]);
    }
    m_file_slots = std::move(slots);
    m_file_texts = std::move(texts);
    for (const auto& t : added)
        add_target(t);
    if (!m_decide.pending())
        m_decide = m_loop.defer([this] { decide(); });
}

// A new target: the next index, on the board, in the metrics and the reporter, then started.
void Session::add_target(const core::Target& target) {
    std::size_t index = m_board.add_target();
    if (m_metrics)
        m_metrics->add_target(target.text);
    m_reporter.add_target(target);
    make_target(target, index, m_shared_co);
    m_file_slots.push_back(index);
    m_file_texts.push_back(target.text);
    if (pinging())
        m_probers.back()->start();
    else
        m_clients.back()->start();
}

// A target gone from the file stops; a `removed` event and its final summary say so. Its
// index stays taken: no other target's index changes.
void Session::remove_target(std::size_t index) {
    if (pinging())
        m_probers[index]->stop();
    else
        m_clients[index]->stop([] {}); // its connection half-closes on its own
    core::Event e;
    e.type = core::EventType::removed;
    e.target = index;
    on_event(e);
    if (pinging())
        m_reporter.probe_summary(index, m_probers[index]->stats(), false);
    else if (m_options.mode == Mode::watch)
        m_reporter.target_summary(index, m_clients[index]->stats());
}

void Session::on_signal(evutil_socket_t signal, short, void* arg) {
    auto* self = static_cast<Session*>(arg);
    if (signal == SIGQUIT) // as fping: interim statistics, then go on
        return self->report_probe_summaries(true);
    if (signal == SIGHUP)
        return self->reload();
    self->stop(signal == SIGINT ? Stop::sigint : Stop::sigterm);
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

std::vector<std::string> target_texts(const Options& o) {
    std::vector<std::string> texts;
    for (const auto& t : o.targets)
        texts.push_back(t.text);
    return texts;
}

std::unique_ptr<Reporter> make_reporter(const Options& o, const Board& board,
                                        const std::optional<Metrics>& metrics, Output& out,
                                        Output& err) {
    if (o.format == Format::json)
        return std::make_unique<JsonReporter>(out, target_texts(o), std::string(mode_name(o.mode)));
    if (o.format == Format::prometheus)
        return std::make_unique<PrometheusReporter>(out, err, *metrics);
    bool watch = o.mode == Mode::watch;
    HumanStyle style{o.verbosity,
                     want_color(o, out),
                     watch,
                     out.is_terminal(),
                     o.targets.size() > k_fleet_threshold,
                     out.is_terminal(),
                     o.timestamps.value_or(watch && !out.is_terminal())};
    style.invert = o.invert;
    return std::make_unique<HumanReporter>(out, err, std::span<const core::Target>(o.targets),
                                           style, core::Clock::now, std::chrono::system_clock::now,
                                           &board);
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
    if (options.serve) {
        try {
            return serve(options);
        } catch (const std::exception& e) {
            std::fprintf(stderr, "tcpretry: %s\n", e.what());
            return k_exit_internal;
        }
    }

    // With a COMMAND, stdout belongs to it: all our output goes to stderr.
    Output out(options.command.empty() ? stdout : stderr);
    Output err(stderr);
    Board board(options.targets.size());
    std::optional<Metrics> metrics;
    if (options.format == Format::prometheus || options.metrics_listen)
        metrics.emplace(target_texts(options), &board);
    std::unique_ptr<Reporter> reporter = make_reporter(options, board, metrics, out, err);

    Outcome outcome;
    try {
        Session session(options, board, *reporter, out, metrics ? &*metrics : nullptr);
        outcome = session.run();
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tcpretry: %s\n", e.what());
        return k_exit_internal;
    }
    if (outcome.run_command)
        return exec_command(options.command);
    return outcome.status;
}

} // namespace tcpretry::app
