// A handler is what a job's `func` names: code that runs one fire with the row's func_args. Handlers
// are registered by name in a HandlerRegistry (built-ins: sql, log, notify, exec, http; plugins add
// more, see run/plugin_loader.h); the registry also validates func_args when a row is loaded, so a
// bad row is `invalid` before it ever fires.
//
// Thread safety: a Handler is shared by all executor threads; what a run needs beyond its request
// (the sessions logged in as job owners) comes through the WorkerContext passed to run().
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/time.h"

namespace rowsched::store {
class SqlSession;
}

namespace rowsched::run {

// One claimed fire to execute.
struct RunRequest {
  int64_t run_id = 0;
  std::string job_id;
  TimePoint scheduled_for{};
  int attempt = 1;
  std::string func;
  nlohmann::json args = nlohmann::json::array();
  std::string owner;
  std::optional<Duration> timeout;
  // Not started before this instant: a fire claimed a few milliseconds ahead waits for its time.
  TimePoint not_before{};
};

// A fire that is one statement run in a session of the job's owner, with $1.. bound to `params`.
// `output`, when set, is what job_run.output records instead of the statement's summary.
struct OwnerCall {
  std::string statement;
  std::vector<std::optional<std::string>> params;
  std::optional<std::string> output;
};

// What a handler reports; `ok == false` is a failure with `error` saying why.
struct RunOutcome {
  bool ok = true;
  bool timed_out = false;
  std::string output;
  std::string error;
};

// Resources of one executor thread: the owner sessions (shared by all threads, thread-safe).
class WorkerContext {
 public:
  explicit WorkerContext(store::SqlSession& sql);
  ~WorkerContext();
  store::SqlSession& sql();

 private:
  store::SqlSession& sql_;
};

class Handler {
 public:
  virtual ~Handler() = default;
  // Returns why `args` cannot work ("args[0] must be the SQL statement, a string"), or nullopt.
  virtual std::optional<std::string> validate(const nlohmann::json& args) const = 0;
  // Runs one fire. Exceptions are caught by the executor and recorded as failures.
  virtual RunOutcome run(const RunRequest& request, WorkerContext& context) const = 0;
  // When the fire is one statement run as the job's owner (sql, notify): that statement, which the
  // executor then sends down a pipelined owner connection (store/owner_pipelines.h) instead of
  // calling run(). nullopt (the default): run() it on an executor thread.
  virtual std::optional<OwnerCall> owner_call(const RunRequest&) const { return std::nullopt; }
  // Starts the fire (at request.not_before) without holding the calling thread, and returns true;
  // `done` is called once, on another thread, with the outcome. false (the default): the executor
  // calls run() on one of its threads instead.
  using Done = std::function<void(RunOutcome)>;
  virtual bool start(const RunRequest&, Done) const { return false; }
  // True when run() returns within microseconds and never blocks (log): the executor thread that
  // keeps time for the next run due runs it itself, without handing the timekeeping to another
  // thread first (a thread switch per run).
  virtual bool quick() const { return false; }

 protected:
  // start(), then waits on the calling thread for its outcome: run() of a handler that starts its
  // fires without a thread (exec, http), for callers that want the outcome in hand.
  RunOutcome run_started(const RunRequest& request) const;
};

// What the operator allowed at start-up (docs/handlers.md). Nothing is allowed by default.
struct HandlerConfig {
  std::vector<std::string> allow_exec;  // --allow-exec: absolute program paths or fnmatch globs over them
  std::string exec_cwd = "/";           // --exec-cwd: working directory of exec jobs
  std::vector<std::string> allow_http;  // --allow-http: host or host:port patterns, "*.example.com" wildcards
};

// A start-up configuration that cannot work (a relative --allow-exec pattern, a plugin that does not
// load). The message names the option and the value.
class HandlerSetupError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HandlerRegistry {
 public:
  // A registry holding the built-in handlers sql, log, notify, exec and http, the last two limited
  // by `config`. Throws HandlerSetupError when `config` is malformed.
  static HandlerRegistry with_builtins(const HandlerConfig& config = {});

  void add(const std::string& name, std::shared_ptr<const Handler> handler);
  const Handler* find(const std::string& name) const;
  std::vector<std::string> names() const;

  // Why a row with this func and func_args cannot run, or nullopt when it can. The message names
  // the handlers that exist, and for the seed's Python "module:function" strings says how to get
  // the same effect.
  std::optional<std::string> check(const std::string& func, const nlohmann::json& args) const;

 private:
  std::map<std::string, std::shared_ptr<const Handler>> handlers_;
};

}  // namespace rowsched::run
