#include "daemon/loop_parts.h"

#include <unistd.h>

#include <cstdlib>

#include "daemon/control_connection.h"
#include "daemon/cpu_wake_latency.h"
#include "daemon/executor_runs.h"
#include "daemon/writer.h"

namespace rowsched::daemon {

namespace {
std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}
// Runs queued or executing from which a burst is under way (a staggered 2,000 fires/s keeps about 70).
constexpr size_t kBusyRuns = 128;
TimePoint system_now() { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }
}  // namespace

LoopParts production_loop_parts(const Options& options, const std::string& dsn, const run::HandlerRegistry& handlers) {
  LoopParts p;
  p.host = host_name();
  p.instance = options.instance.empty() ? p.host + "-" + std::to_string(getpid()) : options.instance;
  p.clock = system_now;
  auto waiter = std::make_unique<SignalWaiter>();
  SignalWaiter* wake = waiter.get();
  p.waiter = std::move(waiter);
  p.store = std::make_unique<ControlConnection>(dsn, options.schema, p.instance);
  auto runs = std::make_unique<ExecutorRuns>(options.workers, dsn, handlers, system_now,
                                          [wake](Duration after) { wake->wake_after(after); },
                                          static_cast<size_t>(options.owner_connections),
                                          options.max_owner_connections > 0
                                              ? static_cast<size_t>(options.max_owner_connections)
                                              : run::Executor::default_max_owner_connections(),
                                          from_seconds(options.owner_idle_timeout));
  // Bookkeeping waits while a burst's runs start (up to Writer::kMaxHold): they need the CPUs now, it
  // does not. The loop destroys the writer before the runs.
  ExecutorRuns* busy = runs.get();
  p.writer = std::make_unique<Writer>(dsn, options.schema, p.instance, system_now,
                                      [busy] { return busy->busy() >= kBusyRuns; });
  p.runs = std::move(runs);
  p.pruner = [dsn, options, instance = p.instance](Metrics& metrics) {
    return std::make_unique<HistoryPruner>(dsn, options.schema, instance, from_seconds(options.history_max_age_days * 86400.0),
                                           options.history_per_job, from_seconds(options.prune_interval), metrics);
  };
  if (const auto usec = parse_cpu_wake_latency(options.cpu_wake_latency)) {
    auto request = std::make_shared<CpuWakeLatency>(usec);
    p.hold_cpu_wake = [request](bool want) { request->hold(want); };
  }
  if (const char* id = std::getenv("ROWSCHED_TEST_THROW_ON_APPLY"); id && *id) p.throw_on_apply = id;
  return p;
}

}  // namespace rowsched::daemon
