// When a run's end has the scheduler loop woken (daemon/executor_runs.h): kEndedGather after it while
// the loop sleeps past that, never while the loop wakes sooner anyway or is awake, and a loop about to
// sleep with outcomes waiting sleeps no longer than kEndedGather after the first of them ended. The
// SignalWaiter's wake_after() that production passes as `wake`. No connection is opened: the handler
// here runs on the executor's threads.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include "daemon/event_waiter.h"
#include "daemon/executor_runs.h"

using namespace rowsched;
using namespace std::chrono_literals;
using daemon::ExecutorRuns;

namespace {

TimePoint wall_now() { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }

class NothingHandler final : public run::Handler {
 public:
  std::optional<std::string> validate(const nlohmann::json&) const override { return std::nullopt; }
  run::RunOutcome run(const run::RunRequest&, run::WorkerContext&) const override { return {}; }
  bool quick() const override { return true; }
};

struct Harness {
  Harness() {
    handlers.add("nothing", std::make_shared<NothingHandler>());
    runs = std::make_unique<ExecutorRuns>(2, "host=/nonexistent dbname=none", handlers, wall_now, [this](Duration after) {
                                            ++wakes;
                                            asked_after = after;
                                          }, 1, 1,
                                          std::chrono::seconds(60));
  }
  // Submits a run due now and returns once it has ended (its outcome waits to be taken).
  void run_one(const std::string& job_id) {
    run::RunRequest r;
    r.job_id = job_id;
    r.func = "nothing";
    r.not_before = wall_now();
    runs->submit(std::move(r));
    const auto give_up = std::chrono::steady_clock::now() + 5s;
    while (runs->busy() > 0 && std::chrono::steady_clock::now() < give_up) std::this_thread::sleep_for(1ms);
    REQUIRE(runs->busy() == 0);
  }
  run::HandlerRegistry handlers;
  std::atomic<int> wakes{0};
  std::atomic<Duration> asked_after{Duration::zero()};
  std::unique_ptr<ExecutorRuns> runs;
};

}  // namespace

TEST_CASE("a run that ends while the loop sleeps long has it woken kEndedGather later, once for the outcomes not taken",
          "[executor_runs]") {
  Harness h;
  REQUIRE(h.runs->sleeping(60s) == 60s);
  h.run_one("a");
  CHECK(h.wakes == 1);
  CHECK(h.asked_after.load() == ExecutorRuns::kEndedGather);
  h.run_one("b");  // the loop has not taken a's outcome yet: b's joins it
  CHECK(h.wakes == 1);
  const auto taken = h.runs->take_finished();
  REQUIRE(taken.size() == 2);
  CHECK(taken[0].request.job_id == "a");
  CHECK(taken[1].request.job_id == "b");
}

TEST_CASE("a run that ends while the loop wakes within kEndedGather anyway leaves it asleep; its next sleep is cut",
          "[executor_runs]") {
  Harness h;
  const auto slept_at = std::chrono::steady_clock::now();
  h.runs->sleeping(ExecutorRuns::kEndedGather - 2ms);
  h.run_one("a");
  CHECK(h.wakes == 0);
  // Asleep again with a's outcome untaken: no later than kEndedGather after a ended.
  const Duration wait = h.runs->sleeping(60s);
  CHECK(wait <= ExecutorRuns::kEndedGather);
  CHECK(std::chrono::steady_clock::now() + wait <= slept_at + 2 * ExecutorRuns::kEndedGather + 1s);
  REQUIRE(h.runs->take_finished().size() == 1);
  // Nothing waiting: the loop sleeps as long as it asked.
  CHECK(h.runs->sleeping(60s) == 60s);
}

TEST_CASE("a run that ends while the loop is awake (it has taken outcomes and not slept since) wakes nothing",
          "[executor_runs]") {
  Harness h;
  h.runs->sleeping(60s);
  CHECK(h.runs->take_finished().empty());
  h.run_one("a");
  CHECK(h.wakes == 0);
  CHECK(h.runs->sleeping(60s) <= ExecutorRuns::kEndedGather);
  CHECK(h.runs->take_finished().size() == 1);
}

TEST_CASE("before the loop first sleeps, a run's end has it woken", "[executor_runs]") {
  Harness h;
  h.run_one("a");
  CHECK(h.wakes == 1);
}

TEST_CASE("after a wake-up was asked for, a loop about to sleep longer sleeps until then", "[executor_runs]") {
  Harness h;
  h.runs->sleeping(60s);
  h.run_one("a");
  REQUIRE(h.wakes == 1);
  h.run_one("b");
  CHECK(h.wakes == 1);
  CHECK(h.runs->sleeping(60s) <= ExecutorRuns::kEndedGather);
}

// No signal is blocked here: the waiter's signalfd receives none, which these cases do not need.
TEST_CASE("SignalWaiter::wake_after ends the wait then, not before; a later call replaces an earlier one",
          "[executor_runs]") {
  daemon::SignalWaiter waiter;
  auto t0 = std::chrono::steady_clock::now();
  waiter.wake_after(30ms);
  CHECK_FALSE(waiter.wait(10s, -1));
  const auto took = std::chrono::steady_clock::now() - t0;
  CHECK(took >= 30ms);
  CHECK(took < 5s);
  // Replaced before it was due: the wait ends at the second one's time.
  t0 = std::chrono::steady_clock::now();
  waiter.wake_after(5s);
  waiter.wake_after(40ms);
  waiter.wait(10s, -1);
  const auto took2 = std::chrono::steady_clock::now() - t0;
  CHECK(took2 >= 40ms);
  CHECK(took2 < 5s);
  // Nothing asked for: the wait lasts its timeout.
  t0 = std::chrono::steady_clock::now();
  waiter.wait(50ms, -1);
  CHECK(std::chrono::steady_clock::now() - t0 >= 50ms);
  // Zero: at once.
  waiter.wake_after(Duration::zero());
  t0 = std::chrono::steady_clock::now();
  waiter.wait(10s, -1);
  CHECK(std::chrono::steady_clock::now() - t0 < 5s);
}

TEST_CASE("wakes_loop: only a loop that would sleep past kEndedGather after the end is woken", "[executor_runs]") {
  const auto t = std::chrono::steady_clock::now();
  CHECK(ExecutorRuns::wakes_loop(t, t + ExecutorRuns::kEndedGather + 1us));
  CHECK_FALSE(ExecutorRuns::wakes_loop(t, t + ExecutorRuns::kEndedGather));
  CHECK_FALSE(ExecutorRuns::wakes_loop(t, t));
  CHECK(ExecutorRuns::wakes_loop(t, std::chrono::steady_clock::time_point::max() - 1h));
}
