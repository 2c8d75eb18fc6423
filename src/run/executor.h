// The executor pool: a fixed number of threads that run claimed fires through their handlers and
// report each outcome through a callback. Timing (started/finished) is measured here.
//
// Thread safety: submit() and the queries may be called from any thread; the callback runs on an
// executor thread and must be thread-safe.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "run/handler.h"
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

  // Starts `threads` workers sharing the owner sessions of `dsn` (store/sql_session.h), of which at
  // most `owner_connections` stay open idle.
  Executor(int threads, std::string dsn, const HandlerRegistry& handlers, Clock clock, OnDone on_done,
           size_t owner_connections = store::SqlSession::Limits{}.max_idle);
  // Stops taking work and joins the threads (after their current runs).
  ~Executor();

  void submit(RunRequest request);
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

 private:
  void work();
  RunResult execute(const RunRequest& req, WorkerContext& ctx);

  const HandlerRegistry& handlers_;
  Clock clock_;
  store::SqlSession sql_;
  OnDone on_done_;
  mutable std::mutex mu_;
  std::condition_variable cv_, idle_cv_;
  std::deque<RunRequest> queue_;
  size_t running_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

// `text` cut to `limit` bytes (at a UTF-8 boundary) with a note of how much was dropped.
std::string truncate_capture(std::string text, size_t limit);

}  // namespace rowsched::run
