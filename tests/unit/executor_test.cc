// The executor's threads and the instants of the runs they are given: a run starts at its instant
// (not before), whatever order the runs came in, and a run due sooner is never held behind runs
// that wait for a later instant. No connection is opened: the handler here runs on the threads.
#include <catch2/catch.hpp>

#include <mutex>
#include <thread>

#include "run/executor.h"

using namespace rowsched;
using namespace std::chrono_literals;

namespace {

TimePoint wall_now() { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }

// Records when each run started, by job_id.
class StampHandler final : public run::Handler {
 public:
  explicit StampHandler(bool quick) : quick_(quick) {}
  std::optional<std::string> validate(const nlohmann::json&) const override { return std::nullopt; }
  run::RunOutcome run(const run::RunRequest& req, run::WorkerContext&) const override {
    std::lock_guard lock(mu_);
    started_.emplace_back(req.job_id, wall_now());
    return {};
  }
  bool quick() const override { return quick_; }
  std::vector<std::pair<std::string, TimePoint>> started() const {
    std::lock_guard lock(mu_);
    return started_;
  }

 private:
  bool quick_;
  mutable std::mutex mu_;
  mutable std::vector<std::pair<std::string, TimePoint>> started_;
};

run::RunRequest request(const std::string& job_id, TimePoint not_before) {
  run::RunRequest r;
  r.job_id = job_id;
  r.func = "stamp";
  r.not_before = not_before;
  return r;
}

struct Harness {
  explicit Harness(int threads, bool quick = false, run::Executor::Clock clock = wall_now)
      : handler(std::make_shared<StampHandler>(quick)) {
    handlers.add("stamp", handler);
    executor = std::make_unique<run::Executor>(
        threads, "host=/nonexistent dbname=none", handlers, std::move(clock),
        [this](run::RunResult r) {
          std::lock_guard lock(mu);
          done.push_back(std::move(r));
        });
  }
  size_t finished() {
    std::lock_guard lock(mu);
    return done.size();
  }
  std::shared_ptr<StampHandler> handler;
  run::HandlerRegistry handlers;
  std::mutex mu;
  std::vector<run::RunResult> done;
  std::unique_ptr<run::Executor> executor;
};

}  // namespace

TEST_CASE("a run due sooner is not held behind runs that wait for a later instant", "[executor]") {
  for (const bool quick : {false, true}) {
    Harness h(4, quick);
    const TimePoint later = wall_now() + 500ms;
    for (int i = 0; i < 6; ++i) h.executor->submit(request("later-" + std::to_string(i), later));
    const TimePoint now = wall_now();
    h.executor->submit(request("now", now));
    REQUIRE(h.executor->wait_idle_until(wall_now() + 5s));
    const auto started = h.handler->started();
    REQUIRE(started.size() == 7);
    INFO("quick: " << quick);
    CHECK(started.front().first == "now");
    CHECK(started.front().second < later);
    for (const auto& [job, at] : started) CHECK(at >= (job == "now" ? now : later));
  }
}

TEST_CASE("runs start in the order of their instants, not in the order they came, and not before them",
          "[executor]") {
  for (const int threads : {1, 3}) {
    Harness h(threads);
    const TimePoint base = wall_now() + 30ms;
    std::vector<TimePoint> at;
    for (int i = 0; i < 8; ++i) at.push_back(base + (7 - i) * 15ms);  // submitted latest first
    for (int i = 0; i < 8; ++i) h.executor->submit(request(std::to_string(i), at[i]));
    REQUIRE(h.executor->wait_idle_until(wall_now() + 5s));
    const auto started = h.handler->started();
    REQUIRE(started.size() == 8);
    INFO("threads: " << threads);
    for (size_t k = 0; k < started.size(); ++k) {
      const int i = std::stoi(started[k].first);
      CHECK(i == 7 - static_cast<int>(k));
      CHECK(started[k].second >= at[i]);
    }
  }
}

TEST_CASE("a run whose instant the wall clock moved away from starts within kMaxStartWait", "[executor]") {
  // The executor's clock says it is an hour earlier than the instant the run was claimed for.
  Harness h(2, false, [] { return wall_now() - 1h; });
  const auto t0 = std::chrono::steady_clock::now();
  h.executor->submit(request("stepped", wall_now()));
  REQUIRE(h.executor->wait_idle_until(wall_now() - 1h + 10s));
  const auto waited = std::chrono::steady_clock::now() - t0;
  CHECK(h.finished() == 1);
  CHECK(waited >= run::Executor::kMaxStartWait - 50ms);
  CHECK(waited < run::Executor::kMaxStartWait + 2s);
}

TEST_CASE("runs not yet started are handed back on shutdown, and a busy executor still stops", "[executor]") {
  Harness h(2);
  const TimePoint far = wall_now() + 900ms;
  for (int i = 0; i < 5; ++i) h.executor->submit(request("far-" + std::to_string(i), far));
  h.executor->submit(request("now", wall_now()));
  for (int i = 0; i < 200 && h.finished() < 1; ++i) std::this_thread::sleep_for(5ms);
  CHECK(h.executor->busy() == 5);
  const auto unsent = h.executor->drain_queue();
  CHECK(unsent.size() == 5);
  for (const auto& r : unsent) CHECK(r.job_id.rfind("far-", 0) == 0);
  CHECK(h.executor->busy() == 0);
  const auto t0 = std::chrono::steady_clock::now();
  h.executor.reset();  // joins the threads: none is left waiting for the far instant
  CHECK(std::chrono::steady_clock::now() - t0 < 500ms);
  CHECK(h.finished() == 1);
}
