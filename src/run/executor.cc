#include "run/executor.h"

#include <spdlog/spdlog.h>

#include "base/states.h"

namespace rowsched::run {

std::string truncate_capture(std::string text, size_t limit) {
  if (text.size() <= limit) return text;
  size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // not inside a UTF-8 sequence
  const size_t dropped = text.size() - cut;
  text.resize(cut);
  return text + "\n[... " + std::to_string(dropped) + " more bytes not kept]";
}

Executor::Executor(int threads, std::string dsn, const HandlerRegistry& handlers, Clock clock, OnDone on_done,
                   size_t owner_connections)
    : handlers_(handlers),
      clock_(std::move(clock)),
      sql_(std::move(dsn), store::SqlSession::Limits{.max_idle = owner_connections}, clock_),
      on_done_(std::move(on_done)) {
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) t.join();
}

void Executor::submit(RunRequest request) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(request));
  }
  cv_.notify_one();
}

size_t Executor::busy() const {
  std::lock_guard lock(mu_);
  return queue_.size() + running_;
}

bool Executor::wait_idle_until(TimePoint deadline) {
  std::unique_lock lock(mu_);
  while (!queue_.empty() || running_ > 0) {
    const auto left = deadline - clock_();
    if (left <= Duration::zero()) return false;
    idle_cv_.wait_for(lock, std::min<Duration>(left, std::chrono::milliseconds(100)));
  }
  return true;
}

std::vector<RunRequest> Executor::drain_queue() {
  std::lock_guard lock(mu_);
  std::vector<RunRequest> out(std::make_move_iterator(queue_.begin()), std::make_move_iterator(queue_.end()));
  queue_.clear();
  idle_cv_.notify_all();
  return out;
}

void Executor::work() {
  WorkerContext ctx(sql_);
  for (;;) {
    RunRequest req;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping
      req = std::move(queue_.front());
      queue_.pop_front();
      ++running_;
    }
    // Claimed ahead of its instant (by at most 100 ms): start it on time. One bounded sleep, so that
    // a wall clock stepped back meanwhile cannot hold the run (or this thread) for long.
    if (const Duration left = req.not_before - clock_(); left > Duration::zero())
      std::this_thread::sleep_for(std::min<Duration>(left, kMaxStartWait));
    RunResult result = execute(req, ctx);
    on_done_(std::move(result));
    {
      std::lock_guard lock(mu_);
      --running_;
    }
    idle_cv_.notify_all();
  }
}

RunResult Executor::execute(const RunRequest& req, WorkerContext& ctx) {
  RunResult r;
  r.request = req;
  r.started_at = clock_();
  RunOutcome outcome;
  try {
    const Handler* h = handlers_.find(req.func);
    if (!h) throw std::runtime_error("func \"" + req.func + "\" is not a handler of this rowsched");
    outcome = h->run(req, ctx);
  } catch (const std::exception& e) {
    outcome.ok = false;
    outcome.error = e.what();
  }
  r.finished_at = clock_();
  r.status = to_sql(outcome.ok ? RunStatus::succeeded : (outcome.timed_out ? RunStatus::timeout : RunStatus::failed));
  r.output = truncate_capture(std::move(outcome.output), kMaxCapture);
  r.error = truncate_capture(std::move(outcome.error), kMaxCapture);
  return r;
}

}  // namespace rowsched::run
