// How long the bookkeeping writer gathers a batch before writing it (daemon/writer.h): kGather after
// its first item, up to kMaxHold while runs are starting in numbers, never when a user waits.
#include <catch2/catch.hpp>

#include "daemon/writer.h"

using namespace rowsched;
using namespace rowsched::daemon;
using std::chrono::milliseconds;

namespace {
Duration ms(int n) { return milliseconds(n); }
}  // namespace

TEST_CASE("A batch gathers for kGather after its first item, then is written", "[writer]") {
  CHECK(Writer::gather_left(ms(0), false, {}) == Writer::kGather);
  CHECK(Writer::gather_left(ms(15), false, {}) == Writer::kGather - ms(15));
  CHECK(Writer::gather_left(Writer::kGather, false, {}) == Duration::zero());
  CHECK(Writer::gather_left(ms(400), false, {}) == Duration::zero());
}

TEST_CASE("A hurried batch (a user's change, a flush) is written at once", "[writer]") {
  int asked = 0;
  const std::function<bool()> busy = [&] { ++asked; return true; };
  CHECK(Writer::gather_left(ms(0), true, busy) == Duration::zero());
  CHECK(Writer::gather_left(ms(100), true, busy) == Duration::zero());
  CHECK(asked == 0);
}

TEST_CASE("While runs start in numbers the batch waits, in short steps, up to kMaxHold", "[writer]") {
  bool busy_now = true;
  int asked = 0;
  const std::function<bool()> busy = [&] { ++asked; return busy_now; };
  CHECK(Writer::gather_left(ms(5), false, busy) == Writer::kGather - ms(5));
  CHECK(asked == 0);  // not asked within kGather
  CHECK(Writer::gather_left(Writer::kGather, false, busy) == ms(5));
  CHECK(Writer::gather_left(Writer::kMaxHold - ms(2), false, busy) == ms(2));
  CHECK(Writer::gather_left(Writer::kMaxHold, false, busy) == Duration::zero());
  busy_now = false;
  CHECK(Writer::gather_left(Writer::kGather + ms(10), false, busy) == Duration::zero());
  CHECK(asked == 3);
}
