// Deterministic jitter: the delay added to a nominal fire instant is a hash of (job_id, nominal
// instant) scaled into [0, bound], so every rowsched instance computes the same actual fire time.
#pragma once

#include <string_view>

#include "trigger/time.h"

namespace rowsched {

// The delay for this fire, in [0, bound] with microsecond resolution; zero when bound is zero.
Duration jitter_offset(std::string_view job_id, TimePoint nominal, Duration bound);

}  // namespace rowsched
