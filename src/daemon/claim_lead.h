// How far ahead of their instant fires are claimed, so that the claim's round trip is not lateness.
// The lead is 1.5 x the recent longest claim (decaying by 1/16 per claim), from kMinLead to
// kMaxLead; a burst of many fires due at one instant starts earlier, by the measured cost per fire
// of large claims, up to kMaxBurstLead. Each claim also takes the fires of the kWindow after its
// horizon, so that a dense schedule (thousands of fires per second, spread out) is claimed in
// batches every kWindow rather than one or two fires per call: a claim's fixed cost is most of what
// it costs PostgreSQL.
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
  static constexpr Duration kMaxBurstLead = std::chrono::seconds(1);
  // A burst of at least kWarmBurst fires is claimed at least kWarmLead ahead: its runs reach the
  // executor early enough for it to open the owner connections they need first (a login took 15-20 ms
  // on the bench machine, and the postmaster starts backends one after the other).
  static constexpr int64_t kWarmBurst = 64;
  static constexpr Duration kWarmLead = std::chrono::milliseconds(300);
  static constexpr Duration kWindow = std::chrono::milliseconds(25);
  // The earliest a fire can be claimed before its instant: what shutdown waits for at most.
  static constexpr Duration kMaxAhead = kMaxBurstLead + kWindow;

  // The lead after the recent claims (kMinLead before any).
  Duration lead() const { return lead_; }
  // How many due fires are worth counting for horizon(): past this many the lead is kMaxLead anyway.
  size_t burst_worth_counting() const;
  // How far ahead of the next instant to wake and claim when `burst` fires are due at it.
  Duration horizon(int64_t burst) const;
  // How far ahead of now a claim with that horizon takes fires: the horizon and the window after it.
  static Duration reach(Duration horizon) { return horizon + kWindow; }
  // One claim of `fires` fires took `took`.
  void claimed(size_t fires, Duration took);

 private:
  Duration lead_ = kMinLead, claim_cost_{};
  // The claim's cost per fire in large claims (measured; 50 us to start with, about what 1,000 fires
  // at once cost on the bench machine).
  Duration per_fire_ = std::chrono::microseconds(50);
};

}  // namespace rowsched::daemon
