#include "run/executor.h"

#include <algorithm>
#include <optional>

#include <spdlog/spdlog.h>

#include "base/start_priority.h"
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

size_t Executor::default_max_owner_connections() {
  const size_t cpus = std::max(1u, std::thread::hardware_concurrency());
  return std::clamp<size_t>(4 * cpus, 8, 32);
}

Executor::Executor(int threads, std::string dsn, const HandlerRegistry& handlers, Clock clock, OnDone on_done,
                   size_t owner_connections, size_t max_owner_connections, Duration owner_idle_timeout)
    : handlers_(handlers),
      clock_(std::move(clock)),
      sql_(dsn, store::SqlSession::Limits{.max_idle = owner_connections, .idle_timeout = owner_idle_timeout}, clock_),
      on_done_(std::move(on_done)) {
  store::OwnerPipelines::Limits limits;
  limits.max_open = std::max<size_t>(1, max_owner_connections);
  limits.max_idle = owner_connections;
  limits.idle_timeout = owner_idle_timeout;
  pipelines_ = std::make_unique<store::OwnerPipelines>(
      std::move(dsn), limits, clock_,
      [this](uint64_t id, store::OwnerStatementResult result) { pipelined_done(id, std::move(result)); });
  for (int i = 0; i < threads; ++i) threads_.emplace_back([this] { work(); });
}

Executor::~Executor() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  timer_cv_.notify_all();
  for (auto& t : threads_) t.join();
  pipelines_.reset();  // runs what it holds to the end, calling back into this
  // As the threads finish their current runs: transfers started without a thread end (their own
  // timeouts bound them) before their callbacks lose this.
  std::unique_lock lock(mu_);
  idle_cv_.wait(lock, [this] { return started_without_thread_ == 0; });
}

std::optional<OwnerCall> Executor::owner_call_of(const Handler& h, const RunRequest& request) {
  try {
    return h.owner_call(request);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void Executor::expect(const RunRequest& request) {
  const Handler* h = handlers_.find(request.func);
  if (!h) return;
  if (auto call = owner_call_of(*h, request))
    pipelines_->expect(store::OwnerStatement{request.owner, std::move(call->statement), std::move(call->params),
                                             request.timeout, request.not_before});
}

void Executor::submit(RunRequest request) {
  if (const Handler* h = handlers_.find(request.func)) {
    if (auto call = owner_call_of(*h, request)) {
      uint64_t id;
      store::OwnerStatement statement{request.owner, std::move(call->statement), std::move(call->params), request.timeout,
                                      // As on the threads: a wall clock stepped back holds a run for 1 s at most.
                                      std::min(request.not_before, clock_() + kMaxStartWait)};
      {
        std::lock_guard lock(mu_);
        id = next_pipelined_id_++;
        pipelined_.emplace(id, Pipelined{std::move(request), std::move(call->output)});
      }
      pipelines_->submit(id, std::move(statement));
      return;
    }
    if (start_without_thread(*h, request)) return;
  }
  std::lock_guard lock(mu_);
  const TimePoint due = request.not_before;
  const auto latest = std::chrono::steady_clock::now() + std::clamp<Duration>(due - clock_(), Duration::zero(), kMaxStartWait);
  const bool first = queue_.empty() || due < queue_.begin()->first;
  queue_.emplace(due, Queued{std::move(request), latest});
  if (timekeeper_) {
    if (first) timer_cv_.notify_one();  // to wait for this one's instant instead
  } else {
    wake_one_locked();
  }
}

void Executor::wake_one_locked() {
  if (waiting_ > woken_) {
    ++woken_;
    cv_.notify_one();
  }
}

void Executor::pipelined_done(uint64_t id, store::OwnerStatementResult result) {
  Pipelined run;
  {
    std::lock_guard lock(mu_);
    auto it = pipelined_.find(id);
    if (it == pipelined_.end()) return;
    run = std::move(it->second);
    pipelined_.erase(it);
  }
  RunResult r;
  r.request = std::move(run.request);
  r.started_at = result.started_at;
  r.finished_at = result.finished_at;
  using Outcome = store::OwnerStatementResult::Outcome;
  r.status = to_sql(result.outcome == Outcome::succeeded ? RunStatus::succeeded
                    : result.outcome == Outcome::timed_out ? RunStatus::timeout
                                                           : RunStatus::failed);
  if (result.outcome == Outcome::succeeded && run.output) result.output = std::move(*run.output);
  r.output = truncate_capture(std::move(result.output), kMaxCapture);
  r.error = truncate_capture(std::move(result.error), kMaxCapture);
  on_done_(std::move(r));
  idle_cv_.notify_all();
}

bool Executor::start_without_thread(const Handler& handler, const RunRequest& request) {
  {
    std::lock_guard lock(mu_);
    ++started_without_thread_;
  }
  const TimePoint started_at = std::max(clock_(), request.not_before);
  const bool started = handler.start(request, [this, request, started_at](RunOutcome outcome) {
    RunResult r;
    r.request = request;
    r.started_at = std::max(started_at, request.not_before);
    r.finished_at = clock_();
    r.status = to_sql(outcome.ok ? RunStatus::succeeded : (outcome.timed_out ? RunStatus::timeout : RunStatus::failed));
    r.output = truncate_capture(std::move(outcome.output), kMaxCapture);
    r.error = truncate_capture(std::move(outcome.error), kMaxCapture);
    on_done_(std::move(r));
    {
      std::lock_guard lock(mu_);
      --started_without_thread_;
    }
    idle_cv_.notify_all();
  });
  if (!started) {
    std::lock_guard lock(mu_);
    --started_without_thread_;
  }
  return started;
}

size_t Executor::busy() const {
  std::lock_guard lock(mu_);
  return queue_.size() + running_ + pipelined_.size() + started_without_thread_;
}

bool Executor::wait_idle_until(TimePoint deadline) {
  std::unique_lock lock(mu_);
  while (!queue_.empty() || running_ > 0 || !pipelined_.empty() || started_without_thread_ > 0) {
    const auto left = deadline - clock_();
    if (left <= Duration::zero()) return false;
    idle_cv_.wait_for(lock, std::min<Duration>(left, std::chrono::milliseconds(100)));
  }
  return true;
}

std::vector<RunRequest> Executor::drain_queue() {
  const std::vector<uint64_t> unsent = pipelines_->drain_unsent();
  std::lock_guard lock(mu_);
  std::vector<RunRequest> out;
  for (auto& [due, queued] : queue_) out.push_back(std::move(queued.request));
  queue_.clear();
  for (uint64_t id : unsent) {
    if (auto it = pipelined_.find(id); it != pipelined_.end()) {
      out.push_back(std::move(it->second.request));
      pipelined_.erase(it);
    }
  }
  idle_cv_.notify_all();
  return out;
}

void Executor::work() {
  base::enter_start_thread("rowsched-run");
  WorkerContext ctx(sql_);
  std::unique_lock lock(mu_);
  const auto wait_for_work = [&] {
    ++waiting_;
    cv_.wait(lock);
    --waiting_;
    if (woken_ > 0) --woken_;
  };
  for (;;) {
    if (queue_.empty()) {
      if (stopping_) return;
      wait_for_work();
      continue;
    }
    auto first = queue_.begin();
    const auto now = std::chrono::steady_clock::now();
    // Claimed ahead of its instant: start it on time, not before.
    if (const Duration left = first->first - clock_(); left > Duration::zero() && now < first->second.latest) {
      if (timekeeper_) {
        wait_for_work();  // another thread keeps time
      } else {
        timekeeper_ = true;
        timer_cv_.wait_until(lock, std::min(now + left, first->second.latest));
        timekeeper_ = false;
      }
      continue;
    }
    RunRequest req = std::move(first->second.request);
    queue_.erase(first);
    ++running_;
    const Handler* h = handlers_.find(req.func);
    if (queue_.empty()) {
      if (stopping_) cv_.notify_all();  // the others return
    } else if (!timekeeper_ && !(h && h->quick())) {
      // While this run goes on, another thread keeps time for the next one (or starts it, when it is
      // due too). After a quick run this thread is back before anyone could be woken.
      wake_one_locked();
    }
    lock.unlock();
    RunResult result = execute(std::move(req), h, ctx);
    on_done_(std::move(result));
    lock.lock();
    --running_;
    idle_cv_.notify_all();
  }
}

RunResult Executor::execute(RunRequest req, const Handler* h, WorkerContext& ctx) {
  RunResult r;
  r.started_at = clock_();
  RunOutcome outcome;
  try {
    if (!h) throw std::runtime_error("func \"" + req.func + "\" is not a handler of this rowsched");
    // The thread's raised priority is for starting on time only; a quick handler's work (a log line)
    // takes less than the four system calls of the switch there and back.
    std::optional<base::AtDaemonPriority> work;
    if (!h->quick()) work.emplace();
    outcome = h->run(req, ctx);
  } catch (const std::exception& e) {
    outcome.ok = false;
    outcome.error = e.what();
  }
  r.finished_at = clock_();
  r.request = std::move(req);
  r.status = to_sql(outcome.ok ? RunStatus::succeeded : (outcome.timed_out ? RunStatus::timeout : RunStatus::failed));
  r.output = truncate_capture(std::move(outcome.output), kMaxCapture);
  r.error = truncate_capture(std::move(outcome.error), kMaxCapture);
  return r;
}

}  // namespace rowsched::run
