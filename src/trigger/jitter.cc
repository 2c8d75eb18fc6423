// FNV-1a over the job id and the nominal instant, then a 64-bit finaliser (splitmix64) so nearby
// instants spread over the whole range. Stable across platforms and releases: it is part of the
// schedule that several instances must agree on.
#include "trigger/jitter.h"

#include <cstdint>

namespace rowsched {

namespace {
uint64_t mix(uint64_t z) {
  z += 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
}  // namespace

Duration jitter_offset(std::string_view job_id, TimePoint nominal, Duration bound) {
  if (bound <= Duration::zero()) return Duration::zero();
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : job_id) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  h = mix(h ^ static_cast<uint64_t>(nominal.time_since_epoch().count()));
  const uint64_t span = static_cast<uint64_t>(bound.count()) + 1;
  return Duration{static_cast<int64_t>(h % span)};
}

}  // namespace rowsched
