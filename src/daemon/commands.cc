// Options of `rowsched run`, and the migrate/run commands: logging set-up, signal masking, and the
// hand-over to store::apply_migrations or SchedulerLoop.
#include "daemon/commands.h"

#include <signal.h>

#include <iostream>

#include <spdlog/spdlog.h>

#include "base/start_priority.h"
#include "daemon/cpu_wake_latency.h"
#include "daemon/liveness_line.h"
#include "daemon/logging.h"
#include "daemon/metrics.h"
#include "daemon/metrics_server.h"
#include "daemon/scheduler_loop.h"
#include "daemon/status_table.h"
#include "daemon/web_server.h"
#include "daemon/worker_queue_table.h"
#include "run/plugin_loader.h"
#include "store/dsn.h"
#include "store/migrations.h"
#include "store/status.h"
#include "trigger/time.h"

namespace rowsched::daemon {

void add_logging_options(CLI::App& cmd, Options& opt) {
  cmd.add_option("--log-level", opt.log_level, "trace, debug, info, warn, error")
      ->capture_default_str()->check(CLI::IsMember({"trace", "debug", "info", "warn", "error"}));
  cmd.add_option("--log-format", opt.log_format, "text, or json: one object per line with time, level and message")
      ->capture_default_str()->check(CLI::IsMember({"text", "json"}));
}

void add_run_options(CLI::App& cmd, Options& opt) {
  cmd.add_option("--instance", opt.instance, "Name of this instance in job_run and scheduler_instance (default: <hostname>-<pid>)");
  cmd.add_option("--timezone", opt.timezone, "Time zone for jobs whose trigger_kwargs have no timezone")->capture_default_str();
  cmd.add_option("--misfire-grace-time", opt.misfire_grace_time,
                 "Seconds a fire may be late and still run, for jobs that do not set misfire_grace_time")
      ->capture_default_str()->check(CLI::Range(0.0, 1e9));
  cmd.add_option("--shutdown-timeout", opt.shutdown_timeout, "Seconds running jobs get to finish on SIGTERM/SIGINT")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  cmd.add_option("--resync-interval", opt.resync_interval,
                 "Seconds between the (job_id, version) comparisons that repair a lost notification")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  cmd.add_option("--workers", opt.workers, "Executor threads (jobs that can run at the same time)")
      ->capture_default_str()->check(CLI::Range(1, 1024));
  cmd.add_option("--owner-connections", opt.owner_connections,
                 "Idle sessions logged in as job owners (for sql and notify jobs) kept open for reuse, over all "
                 "owners; 0 opens a new session for every run (docs/security.md)")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  cmd.add_option("--max-owner-connections", opt.max_owner_connections,
                 "Most connections logged in as job owners open at once for pipelined sql and notify runs, over "
                 "all owners; 0: 4 per CPU, at least 8, at most 32 (docs/operations.md)")
      ->capture_default_str()->check(CLI::Range(0, 10000));
  cmd.add_option("--owner-idle-timeout", opt.owner_idle_timeout,
                 "Seconds a session logged in as a job owner stays open with nothing to run (a session an owner's "
                 "next run needs within 150 ms is kept)")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  cmd.add_option("--start-nice", opt.start_nice,
                 "Nice value of the threads that start runs at their instant, from -20 to 0 (0 leaves them at the "
                 "daemon's priority); needs CAP_SYS_NICE or a nice limit, else they keep it (docs/operations.md)")
      ->capture_default_str()->check(CLI::Range(-20, 0));
  cmd.add_option("--cpu-wake-latency", opt.cpu_wake_latency,
                 "While a run is due within a second, ask the kernel to keep idle CPUs able to wake within this "
                 "many microseconds (0: idle CPUs poll); off leaves their idle states to the system. Needs write "
                 "access to /dev/cpu_dma_latency (docs/operations.md)")
      ->capture_default_str()
      ->check([](const std::string& text) {
        try {
          parse_cpu_wake_latency(text);
          return std::string();
        } catch (const std::invalid_argument& e) {
          return std::string(e.what());
        }
      });
  cmd.add_option("--heartbeat-interval", opt.heartbeat_interval, "Seconds between heartbeats in scheduler_instance")
      ->capture_default_str()->check(CLI::Range(0.05, 3600.0));
  cmd.add_option("--lost-after", opt.lost_after,
                 "Seconds without a heartbeat after which another instance's running jobs are marked lost")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  cmd.add_option("--history-max-age", opt.history_max_age_days, "Days of finished job_run rows to keep")
      ->capture_default_str()->check(CLI::Range(0.0, 36500.0));
  cmd.add_option("--history-per-job", opt.history_per_job, "Finished job_run rows to keep per job")
      ->capture_default_str()->check(CLI::Range(1, 100000000));
  cmd.add_option("--prune-interval", opt.prune_interval, "Seconds between job_run pruning batches")
      ->capture_default_str()->check(CLI::Range(0.1, 86400.0));
  add_logging_options(cmd, opt);
  cmd.add_option("--metrics-addr", opt.metrics_addr,
                 "HOST:PORT to serve /metrics (Prometheus), /healthz and /readyz on, e.g. 127.0.0.1:9187; "
                 "default: no endpoint")
      ->check(CLI::Validator(
          [](std::string& v) {
            return v.empty() || parse_listen_address(v) ? std::string()
                                                        : "\"" + v + "\" is not HOST:PORT (e.g. 127.0.0.1:9187, [::1]:9187, :9187)";
          },
          "HOST:PORT"));
  cmd.add_option("--unhealthy-after", opt.unhealthy_after,
                 "Seconds /readyz may stay not ready (a database fault) before /healthz answers 503")
      ->capture_default_str()->check(CLI::Range(0.0, 86400.0));
  cmd.add_option("--allow-exec", opt.handlers.allow_exec,
                 "Programs `exec` jobs may run: an absolute path or a glob over absolute paths ('/opt/jobs/bin/*'); "
                 "repeatable. None by default")
      ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--exec-cwd", opt.handlers.exec_cwd, "Working directory of `exec` jobs")->capture_default_str();
  cmd.add_option("--allow-http", opt.handlers.allow_http,
                 "Hosts `http` jobs may request: host, host:port or *.example.com; repeatable. None by default")
      ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  cmd.add_option("--plugin", opt.plugins, "A shared library registering more handlers (docs/handlers.md); repeatable")
      ->expected(1)->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  add_web_options(cmd, opt.web);
}

run::HandlerRegistry make_handler_registry(const Options& opt) {
  auto registry = run::HandlerRegistry::with_builtins(opt.handlers);
  for (const auto& path : opt.plugins) {
    const auto names = run::load_plugin(path, registry);
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    spdlog::info("plugin {}: handlers {}", path, list);
  }
  auto allowed = [](const std::vector<std::string>& v) {
    std::string out;
    for (const auto& s : v) out += (out.empty() ? "" : " ") + s;
    return out.empty() ? std::string("nothing") : out;
  };
  spdlog::info("exec may run: {} (in {}); http may request: {}", allowed(opt.handlers.allow_exec), opt.handlers.exec_cwd,
               allowed(opt.handlers.allow_http));
  return registry;
}

namespace {
void set_up_logging(const Options& opt) { daemon::set_up_logging(opt.log_level, opt.log_format); }
}  // namespace

int migrate(const Options& opt) {
  set_up_logging(opt);
  const std::string dsn = store::resolve_dsn(opt.dsn);
  try {
    const auto applied = store::apply_migrations(dsn, opt.schema);
    if (applied.empty()) spdlog::info("schema {} is up to date", opt.schema);
    for (const auto& name : applied) spdlog::info("applied migration {} to schema {}", name, opt.schema);
    return 0;
  } catch (const std::exception& e) {
    spdlog::error("migrate failed on {}: {}", store::redact_dsn(dsn), e.what());
    return 1;
  }
}

int run(const Options& opt) {
  set_up_logging(opt);
  if (!find_zone(opt.timezone)) {
    spdlog::error("--timezone \"{}\" is not a known IANA time zone; allowed: e.g. UTC, Europe/Berlin", opt.timezone);
    return 2;
  }
  // Block the shutdown signals in every thread (threads inherit the mask); the loop reads them from
  // a signalfd, so no handler and no global state is needed.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // Before any thread that starts runs exists (the executor's, the owner pipelines').
  if (const auto refused = base::set_start_nice(opt.start_nice))
    spdlog::info("the threads that start runs keep the daemon's priority: raising them to nice {} was refused ({}). "
                 "Under a busy CPU a run may then start a millisecond or two after its instant; grant CAP_SYS_NICE "
                 "or a nice limit (systemd: LimitNICE={}), or pass --start-nice 0 to leave it (docs/operations.md)",
                 opt.start_nice, *refused, opt.start_nice);
  else if (base::start_nice() < 0)
    spdlog::info("the threads that start runs run at nice {}", base::start_nice());
  Metrics metrics;
  std::unique_ptr<MetricsServer> metrics_server;
  if (!opt.metrics_addr.empty()) {
    try {
      metrics_server = std::make_unique<MetricsServer>(*parse_listen_address(opt.metrics_addr), metrics,
                                                      std::chrono::duration<double>(opt.unhealthy_after));
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    spdlog::info("serving /metrics, /healthz and /readyz on {}", opt.metrics_addr);
  }
  std::unique_ptr<WebServer> web_server;
  if (!opt.web.addr.empty()) {
    const ListenAddress web_address = *parse_web_address(opt.web.addr);
    WebServerConfig web{web_address, store::resolve_dsn(opt.dsn), opt.schema, std::nullopt,
                        opt.web.hide_args, *find_zone(opt.timezone)};
    try {
      if (!opt.web.token_file.empty()) web.token = read_web_token(opt.web.token_file);
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 2;
    }
    try {
      web_server = std::make_unique<WebServer>(std::move(web), [] {
        return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
      });
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      return 1;
    }
    spdlog::info("serving the web page on http://{}:{}/{}{}", web_address.host, web_address.port, opt.web.token_file.empty() ? "" : " (token required)",
                 opt.web.hide_args ? " (func_args hidden)" : "");
  }
  std::unique_ptr<SchedulerLoop> loop;
  try {
    loop = std::make_unique<SchedulerLoop>(opt, store::resolve_dsn(opt.dsn), metrics);
  } catch (const run::HandlerSetupError& e) {
    spdlog::error("{}", e.what());
    return 2;
  }
  return loop->run();
}

int status(const Options& opt) {
  const auto zone = find_zone(opt.timezone);
  if (!zone) {
    std::cerr << "rowsched status: --timezone \"" << opt.timezone << "\" is not a known IANA time zone; allowed: e.g. UTC, Europe/Berlin\n";
    return 2;
  }
  const std::string dsn = store::resolve_dsn(opt.dsn);
  try {
    auto jobs = store::load_job_status(dsn, opt.schema);
    const auto live = store::load_live_instances(dsn, opt.schema);
    mark_not_firing(jobs, live);
    std::cout << format_liveness_line(live) << "\n" << format_status_table(std::move(jobs), *zone);
    // Worker queues (sql/010_workers.sql): after the jobs, when there are any.
    if (const auto queues = format_worker_queue_table(store::load_worker_queues(dsn, opt.schema),
                                                      store::load_unserved_jobs(dsn, opt.schema));
        !queues.empty())
      std::cout << "\n" << queues;
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "rowsched status: " << store::redact_dsn(dsn.empty() ? "(libpq defaults)" : dsn) << ": " << e.what() << "\n";
    return 1;
  }
}

}  // namespace rowsched::daemon
