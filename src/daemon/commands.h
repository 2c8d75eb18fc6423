// The two database commands behind the command line, and the options of `rowsched run`.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "daemon/web_options.h"
#include "run/handler.h"

namespace rowsched::daemon {

struct Options {
  std::string dsn;              // empty: $DATABASE_URL, then libpq's defaults
  std::string schema = "public";
  std::string instance;         // empty: <hostname>-<pid>
  std::string timezone = "UTC";
  double misfire_grace_time = 1.0;   // seconds, for rows that do not set it
  double shutdown_timeout = 30.0;    // seconds running jobs get to finish on SIGTERM
  double resync_interval = 30.0;     // seconds between (job_id, version) comparisons
  int workers = 4;                   // executor threads
  int owner_connections = 8;         // idle sessions logged in as job owners kept open (store/sql_session.h)
  int max_owner_connections = 0;     // pipelined owner connections open at once; 0: 4 per CPU, 8..32 (store/owner_pipelines.h)
  double owner_idle_timeout = 60.0;  // seconds an owner session stays open idle
  int start_nice = -10;              // nice value of the threads that start runs (base/start_priority.h); 0: as is
  std::string cpu_wake_latency = "off";  // "off" or microseconds: a PM QoS request while runs are due (cpu_wake_latency.h)
  double heartbeat_interval = 1.0;   // seconds between scheduler_instance heartbeats
  double lost_after = 10.0;          // seconds without heartbeat before an instance's runs are lost
  double history_max_age_days = 30;  // job_run rows finished longer ago are pruned
  int history_per_job = 1000;        // finished job_run rows kept per job
  double prune_interval = 60.0;      // seconds between pruning batches
  std::string log_level = "info";
  std::string log_format = "text";   // text or json (one JSON object per line)
  std::string metrics_addr;          // HOST:PORT of /metrics, /healthz, /readyz; empty: no endpoint
  double unhealthy_after = 60.0;     // seconds not ready after which /healthz answers 503
  std::string config;                // --config FILE (docs/operations.md, "Configuration")
  run::HandlerConfig handlers;       // --allow-exec, --exec-cwd, --allow-http (docs/handlers.md)
  std::vector<std::string> plugins;  // --plugin: shared libraries registering more handlers
  WebOptions web;                    // --web-addr, --web-token-file, --web-hide-args (docs/web.md)
};

// Registers --log-level and --log-format on `cmd` (run and migrate), storing into `opt`.
void add_logging_options(CLI::App& cmd, Options& opt);

// Registers the options of `rowsched run` on `cmd`, storing into `opt`.
void add_run_options(CLI::App& cmd, Options& opt);

// The handlers of `rowsched run`: the built-ins limited by the allowlists of `opt`, then every
// --plugin in order. Throws run::HandlerSetupError naming the option and value that cannot work.
run::HandlerRegistry make_handler_registry(const Options& opt);

// `rowsched migrate`: applies the embedded migrations. Returns the process exit code.
int migrate(const Options& opt);

// `rowsched run`: runs the scheduler until SIGTERM/SIGINT. Returns the process exit code.
int run(const Options& opt);

// `rowsched status`: prints the job_status table (status_table.h). Returns the process exit code.
int status(const Options& opt);

}  // namespace rowsched::daemon
