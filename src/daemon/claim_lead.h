// How far ahead of their instant fires are claimed, so that the claim's round trip is not lateness.
// The lead is 1.5 x the recent longest claim (decaying by 1/16 per claim), from kMinLead to
// kMaxLead; a burst of many fires due at one instant starts earlier, by the measured cost per fire
// of large claims.
//
// Pure: durations in, durations out; no clock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "base/time.h"

namespace rowsched::daemon {

class ClaimLead {
 public:
  static constexpr Duration kMinLead = std::chrono::milliseconds(5), kMaxLead = std::chrono::milliseconds(100);

  // The lead after the recent claims (kMinLead before any).
  Duration lead() const { return lead_; }
  // How many due fires are worth counting for horizon(): past this many the lead is kMaxLead anyway.
  size_t burst_worth_counting() const;
  // How far ahead to claim when `burst` fires are due at the next instant.
  Duration horizon(int64_t burst) const;
  // One claim of `fires` fires took `took`.
  void claimed(size_t fires, Duration took);

 private:
  Duration lead_ = kMinLead, claim_cost_{};
  // The claim's cost per fire in large claims (measured; 50 us to start with, about what 1,000 fires
  // at once cost on the bench machine).
  Duration per_fire_ = std::chrono::microseconds(50);
};

}  // namespace rowsched::daemon
