// base/time.h: the waits handed to ppoll() keep their microseconds; seconds from options become Durations.
#include <catch2/catch.hpp>

#include "base/time.h"

using rowsched::Duration;
using rowsched::from_seconds;
using rowsched::to_timespec;

TEST_CASE("a wait becomes a timespec to the microsecond, a negative one zero", "[time]") {
  const timespec a = to_timespec(Duration(1'500'000));
  CHECK((a.tv_sec == 1 && a.tv_nsec == 500'000'000));
  const timespec b = to_timespec(Duration(999));
  CHECK((b.tv_sec == 0 && b.tv_nsec == 999'000));
  const timespec c = to_timespec(Duration(-5));
  CHECK((c.tv_sec == 0 && c.tv_nsec == 0));
  const timespec d = to_timespec(std::chrono::seconds(3));
  CHECK((d.tv_sec == 3 && d.tv_nsec == 0));
}

TEST_CASE("seconds given as a number become a Duration to the microsecond", "[time]") {
  CHECK(from_seconds(60.0) == std::chrono::seconds(60));
  CHECK(from_seconds(0.2) == std::chrono::milliseconds(200));
  CHECK(from_seconds(30 * 86400.0) == std::chrono::hours(720));
  CHECK(from_seconds(1.5e-6) == Duration(1));  // truncated, as every caller did before
  CHECK(from_seconds(0.0) == Duration::zero());
}
