#include "daemon/claim_lead.h"

#include <algorithm>

namespace rowsched::daemon {

size_t ClaimLead::burst_worth_counting() const {
  return static_cast<size_t>(kMaxBurstLead / std::max(Duration{1}, per_fire_ * 3 / 2)) + 1;
}

Duration ClaimLead::horizon(int64_t burst) const {
  // Many fires due at one instant take longer to claim than the recent claims did: start earlier.
  if (burst <= 1) return lead_;
  const Duration warm = burst >= kWarmBurst ? kWarmLead : Duration::zero();
  return std::clamp(std::max({lead_, per_fire_ * burst * 3 / 2, warm}), kMinLead, kMaxBurstLead);
}

void ClaimLead::claimed(size_t fires, Duration took) {
  claim_cost_ = std::max(took, claim_cost_ * 15 / 16);
  if (fires >= 100) per_fire_ = (per_fire_ + took / static_cast<int64_t>(fires)) / 2;
  lead_ = std::clamp(claim_cost_ * 3 / 2, kMinLead, kMaxLead);
}

}  // namespace rowsched::daemon
