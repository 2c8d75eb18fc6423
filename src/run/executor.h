// The executor: runs claimed fires through their handlers and reports each outcome through a
// callback. Timing (started/finished) is measured here. A fire that is one statement run as the job's
// owner (Handler::owner_call: sql, notify) goes to the owner pipelines (store/owner_pipelines.h), where
// one thread drives all owner connections and no thread waits on a run; a handler that can start a
// run without a thread (Handler::start: http, on run/curl_multi_loop.h) is left to do so; the other
// fires (log, exec, plugins, and statements the pipelines cannot take) run on a fixed number of threads.
//
// Thread safety: submit() and the queries may be called from any thread; the callback runs on an
// executor thread or the pipeline thread and must be thread-safe.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "run/handler.h"
#include "store/owner_pipelines.h"
#include "store/sql_session.h"

namespace rowsched::run {

struct RunResult {
  RunRequest request;
  std::string status;  // succeeded, failed, timeout
  TimePoint started_at{}, finished_at{};
  std::string output, error;
};

class Executor {
 public:
  using Clock = std::function<TimePoint()>;
  using OnDone = std::function<void(RunResult)>;

  // Starts `threads` workers sharing the owner sessions of `dsn` (store/sql_session.h), and the owner
  // pipelines, with at most `owner_connections` idle sessions each kept open and at most
  // `max_owner_connections` pipelined connections open at once.
  // Owner sessions idle for `owner_idle_timeout` are closed.
  Executor(int threads, std::string dsn, const HandlerRegistry& handlers, Clock clock, OnDone on_done,
           size_t owner_connections = store::SqlSession::Limits{}.max_idle,
           size_t max_owner_connections = default_max_owner_connections(),
           Duration owner_idle_timeout = store::OwnerPipelines::Limits{}.idle_timeout);
  // Stops taking work and joins the threads (after their current runs).
  ~Executor();

  void submit(RunRequest request);
  // A fire of `request` is due at request.not_before (not claimed yet): a run that goes to the owner
  // pipelines gets its owner's session logged in ahead (OwnerPipelines::expect). Others: nothing.
  void expect(const RunRequest& request);
  // Runs queued or executing right now.
  size_t busy() const;
  // Waits until nothing is queued or running, or until `deadline`; true when idle.
  bool wait_idle_until(TimePoint deadline);
  // Removes and returns what has not started yet (on shutdown, to record as not run).
  std::vector<RunRequest> drain_queue();

  // Longest output and error kept per run (bytes); the rest is cut with a note.
  static constexpr size_t kMaxCapture = 64 * 1024;
  // Longest a run claimed ahead waits for its RunRequest::not_before.
  static constexpr Duration kMaxStartWait = std::chrono::seconds(1);

  // Pipelined owner connections open at once by default: 4 per CPU (a backend waits on its client
  // between pipelines, so a CPU keeps more than one busy), at least 8, at most 32 (well under
  // PostgreSQL's default max_connections of 100, which other clients share). docs/operations.md.
  static size_t default_max_owner_connections();
 private:
  void work();
  // Wakes a thread waiting on cv_ (one not already woken), to keep time or to run what is due.
  void wake_one_locked();
  // Runs `req` through `h` (its func's handler; null: a failure saying so); the result keeps `req`.
  RunResult execute(RunRequest req, const Handler* h, WorkerContext& ctx);
  void pipelined_done(uint64_t id, store::OwnerStatementResult result);
  // The handler's OwnerCall for `request`, or nullopt (also when building it throws: run() reports
  // the same fault as a failure).
  static std::optional<OwnerCall> owner_call_of(const Handler& h, const RunRequest& request);
  // Handler::start(): true when the handler took the run without a thread (http).
  bool start_without_thread(const Handler& handler, const RunRequest& request);

  const HandlerRegistry& handlers_;
  Clock clock_;
  store::SqlSession sql_;
  OnDone on_done_;
  mutable std::mutex mu_;
  // Runs for the threads, by the instant they start at (in submission order at one instant). One
  // thread at a time waits for the first one's instant (the timekeeper, on timer_cv_); the others
  // wait on cv_ until there is something to do, so a run costs one thread wake-up, at its instant.
  struct Queued {
    RunRequest request;
    // The latest it starts, on the steady clock: a wall clock stepped back holds it kMaxStartWait at most.
    std::chrono::steady_clock::time_point latest;
  };
  std::condition_variable cv_, timer_cv_, idle_cv_;
  std::multimap<TimePoint, Queued> queue_;
  bool timekeeper_ = false;  // a thread waits on timer_cv_ for queue_'s first instant
  size_t waiting_ = 0, woken_ = 0;  // threads waiting on cv_; of them, notified and not yet running
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
  struct Pipelined {
    RunRequest request;
    std::optional<std::string> output;
  };
  std::unordered_map<uint64_t, Pipelined> pipelined_;  // sent to pipelines_, not yet done
  uint64_t next_pipelined_id_ = 1;
  size_t started_without_thread_ = 0;  // Handler::start()ed, not yet done
  std::unique_ptr<store::OwnerPipelines> pipelines_;  // last: its thread calls back into the above
};

// `text` cut to `limit` bytes (at a UTF-8 boundary) with a note of how much was dropped.
std::string truncate_capture(std::string text, size_t limit);

}  // namespace rowsched::run
