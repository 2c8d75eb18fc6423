// The retry policy every failure path shares, driven by a fake clock and a fixed jitter source.
#include <catch2/catch.hpp>

#include "daemon/backoff.h"

using namespace rowsched;
using namespace rowsched::daemon;
using std::chrono::milliseconds;
using std::chrono::seconds;

namespace {
// Jitter 0.5 means "exactly the step": 50% + 0.5 = 100%.
Backoff exact_backoff(BackoffPolicy p = {}) { return Backoff(p, [] { return 0.5; }); }
TimePoint at(double s) { return TimePoint{} + std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }
}  // namespace

TEST_CASE("waits double from 100 ms per consecutive failure up to 10 s", "[backoff]") {
  Backoff b = exact_backoff();
  std::vector<Duration> waits;
  for (int i = 0; i < 10; ++i) waits.push_back(b.failed("down", at(i)).wait);
  CHECK(waits[0] == milliseconds(100));
  CHECK(waits[1] == milliseconds(200));
  CHECK(waits[2] == milliseconds(400));
  CHECK(waits[6] == milliseconds(6400));
  CHECK(waits[7] == seconds(10));
  CHECK(waits[9] == seconds(10));
}

TEST_CASE("jitter keeps each wait between 50% and 150% of its step", "[backoff]") {
  double r = 0.0;
  Backoff b({}, [&] { return r; });
  CHECK(b.failed("x", at(0)).wait == milliseconds(50));
  r = 0.999999;
  const Duration w = b.failed("x", at(1)).wait;
  CHECK(w > milliseconds(299));
  CHECK(w < milliseconds(300));
}

TEST_CASE("a connect that succeeds and fails right after does not start the backoff over", "[backoff]") {
  Backoff b = exact_backoff();
  b.failed("relation \"job_run\" does not exist", at(0));
  b.succeeded(at(0.1));
  b.failed("relation \"job_run\" does not exist", at(0.2));
  b.succeeded(at(0.5));
  const auto s = b.failed("relation \"job_run\" does not exist", at(0.6));
  CHECK(s.wait == milliseconds(400));
  CHECK(s.failures == 3);
  CHECK(b.failing_since() == at(0));
}

TEST_CASE("a success that lasts healthy_after starts the next fault from the shortest wait", "[backoff]") {
  Backoff b = exact_backoff();
  for (int i = 0; i < 5; ++i) b.failed("down", at(i));
  b.succeeded(at(10));
  CHECK(b.failed("down", at(39)).wait == milliseconds(3200));  // 29 s healthy: not yet
  b.succeeded(at(40));
  const auto s = b.failed("down", at(70));
  CHECK(s.wait == milliseconds(100));
  CHECK(s.failures == 1);
  CHECK(b.failing_since() == at(70));
}

TEST_CASE("a repeated error says how often it has failed; a new one is logged as it is", "[backoff]") {
  Backoff b = exact_backoff();
  CHECK(b.failed("no route", at(0)).log_line == "no route; retrying in 100 ms");
  CHECK(b.failed("no route", at(1)).log_line == "still failing (2 times): no route; retrying in 200 ms");
  CHECK(b.failed("no route", at(2)).log_line == "still failing (3 times): no route; retrying in 400 ms");
  const auto s = b.failed("password authentication failed", at(3));
  CHECK(s.repeats == 1);
  CHECK(s.log_line == "password authentication failed; retrying in 800 ms");
}

TEST_CASE("a long outage stays at the longest wait and reads in seconds", "[backoff]") {
  Backoff b = exact_backoff();
  Backoff::Step s;
  for (int i = 0; i < 200; ++i) s = b.failed("down", at(i * 10));
  CHECK(s.wait == seconds(10));
  CHECK(s.log_line == "still failing (200 times): down; retrying in 10.0 s");
}
