// The one retry policy of every failure path of `rowsched run` (the control connection and its
// listener, the loop's error path, the writer): exponential backoff with jitter, and the wording of
// the log line each failure gets.
//
// Waits start at `initial`, double per consecutive failure up to `max`, and each is drawn from
// 50-150% of that step so that a fleet of instances does not retry in lockstep after a database
// restart. A success does not reset the backoff at once: only a success that lasted `healthy_after`
// without a failure does, so a connect that succeeds and fails right after (a missing table, a
// missing GRANT) keeps backing off instead of retrying at the shortest wait forever.
//
// Pure: no clock (instants are passed in), the jitter comes from an injected source; not thread safe
// (one Backoff per thread of retries).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "base/time.h"

namespace rowsched::daemon {

struct BackoffPolicy {
  Duration initial = std::chrono::milliseconds(100);
  Duration max = std::chrono::seconds(10);
  Duration healthy_after = std::chrono::seconds(30);
};

class Backoff {
 public:
  // `random` returns values in [0, 1): the jitter source (a fixed one in tests).
  Backoff(BackoffPolicy policy, std::function<double()> random);
  // Jitter from a std::mt19937_64 seeded from std::random_device.
  explicit Backoff(BackoffPolicy policy = {});

  // What to do after one failure.
  struct Step {
    Duration wait{};      // before the next attempt
    int failures = 0;     // consecutive failures since the last healthy period, this one included
    int repeats = 0;      // consecutive failures with this same error text, this one included
    std::string log_line; // "ERROR; retrying in 400 ms" or "still failing (3 times): ERROR; retrying in 800 ms"
  };
  // Records a failure with `error` (one line of text) at `now`.
  Step failed(const std::string& error, TimePoint now);
  // Records a success at `now`; the backoff starts over at the next failure if none came for
  // healthy_after since.
  void succeeded(TimePoint now);

  // When the current run of failures began (nullopt when healthy): how long a fault has lasted.
  std::optional<TimePoint> failing_since() const { return failing_since_; }
  int failures() const { return failures_; }

 private:
  BackoffPolicy policy_;
  std::function<double()> random_;
  int failures_ = 0;
  int repeats_ = 0;
  std::string last_error_;
  std::optional<TimePoint> failing_since_;
  std::optional<TimePoint> last_success_;
};

// "420 ms" below 10 s, else "12.3 s": how a wait reads in a log line.
std::string format_wait(Duration d);

}  // namespace rowsched::daemon
