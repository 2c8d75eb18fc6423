// How long the bookkeeping writer gathers a batch before writing it (daemon/writer.h): kGather after
// its first item, up to kMaxHold while runs are starting in numbers (a batch with run outcomes), never
// when a user waits.
#include <catch2/catch.hpp>

#include "daemon/writer.h"

using namespace rowsched;
using namespace rowsched::daemon;
using std::chrono::milliseconds;

namespace {
Duration ms(int n) { return milliseconds(n); }
}  // namespace

TEST_CASE("A batch gathers for kGather after its first item, then is written", "[writer]") {
  CHECK(Writer::gather_left(ms(0), false, true, {}) == Writer::kGather);
  CHECK(Writer::gather_left(ms(15), false, true, {}) == Writer::kGather - ms(15));
  CHECK(Writer::gather_left(Writer::kGather, false, true, {}) == Duration::zero());
  CHECK(Writer::gather_left(ms(400), false, true, {}) == Duration::zero());
}

TEST_CASE("A hurried batch (a user's change, a flush) is written at once", "[writer]") {
  int asked = 0;
  const std::function<bool()> busy = [&] { ++asked; return true; };
  CHECK(Writer::gather_left(ms(0), true, true, busy) == Duration::zero());
  CHECK(Writer::gather_left(ms(100), true, true, busy) == Duration::zero());
  CHECK(asked == 0);
}

TEST_CASE("While runs start in numbers the batch waits, in short steps, up to kMaxHold", "[writer]") {
  bool busy_now = true;
  int asked = 0;
  const std::function<bool()> busy = [&] { ++asked; return busy_now; };
  CHECK(Writer::gather_left(ms(5), false, true, busy) == Writer::kGather - ms(5));
  CHECK(asked == 0);  // not asked within kGather
  CHECK(Writer::gather_left(Writer::kGather, false, true, busy) == ms(5));
  CHECK(Writer::gather_left(Writer::kMaxHold - ms(2), false, true, busy) == ms(2));
  CHECK(Writer::gather_left(Writer::kMaxHold, false, true, busy) == Duration::zero());
  busy_now = false;
  CHECK(Writer::gather_left(Writer::kGather + ms(10), false, true, busy) == Duration::zero());
  CHECK(asked == 3);
}

TEST_CASE("A batch of write-backs alone (a burst claimed ahead) is not held while runs are busy", "[writer]") {
  int asked = 0;
  const std::function<bool()> busy = [&] { ++asked; return true; };
  CHECK(Writer::gather_left(ms(5), false, false, busy) == Writer::kGather - ms(5));
  CHECK(Writer::gather_left(Writer::kGather, false, false, busy) == Duration::zero());
  CHECK(Writer::gather_left(Writer::kGather + ms(100), false, false, busy) == Duration::zero());
  CHECK(asked == 0);
  // The same batch once an outcome joined it is held.
  CHECK(Writer::gather_left(Writer::kGather, false, true, busy) == ms(5));
  CHECK(asked == 1);
}
