#include "daemon/backoff.h"

#include <algorithm>
#include <cmath>
#include <random>

#include <spdlog/fmt/fmt.h>

namespace rowsched::daemon {

Backoff::Backoff(BackoffPolicy policy, std::function<double()> random) : policy_(policy), random_(std::move(random)) {}

Backoff::Backoff(BackoffPolicy policy)
    : Backoff(policy, [rng = std::make_shared<std::mt19937_64>(std::random_device{}())] {
        return std::uniform_real_distribution<double>(0.0, 1.0)(*rng);
      }) {}

Backoff::Step Backoff::failed(const std::string& error, TimePoint now) {
  if (last_success_ && now - *last_success_ >= policy_.healthy_after) {
    // The last success held long enough: this is a new fault, not the old one coming back.
    failures_ = 0;
    repeats_ = 0;
    last_error_.clear();
    failing_since_.reset();
  }
  last_success_.reset();
  if (!failing_since_) failing_since_ = now;
  ++failures_;
  repeats_ = error == last_error_ ? repeats_ + 1 : 1;
  last_error_ = error;

  // initial * 2^(failures-1), capped; computed in double so that a long outage cannot overflow.
  const double step = std::min(std::chrono::duration<double>(policy_.max).count(),
                               std::chrono::duration<double>(policy_.initial).count() * std::pow(2.0, std::min(failures_ - 1, 62)));
  const double jittered = step * (0.5 + std::clamp(random_(), 0.0, 1.0));
  Step s;
  s.wait = from_seconds(jittered);
  s.failures = failures_;
  s.repeats = repeats_;
  s.log_line = (repeats_ > 1 ? fmt::format("still failing ({} times): ", repeats_) : std::string()) + error +
               "; retrying in " + format_wait(s.wait);
  return s;
}

void Backoff::succeeded(TimePoint now) {
  if (!last_success_) last_success_ = now;
}

std::string format_wait(Duration d) {
  const double ms = std::chrono::duration<double, std::milli>(d).count();
  if (ms < 10000) return fmt::format("{:.0f} ms", ms);
  return fmt::format("{:.1f} s", ms / 1000);
}

}  // namespace rowsched::daemon
