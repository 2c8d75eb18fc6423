// The trigger behind both cron forms: fires at the instants a CronPattern gives in a zone, within
// [start_date, end_date], stepping from (previous, now) exactly as APScheduler's CronTrigger does.
#pragma once

#include <memory>
#include <string>

#include "trigger/cron_pattern.h"
#include "trigger/cron_trigger.h"

namespace rowsched {

// `description` is the part before " in <zone>", e.g. "cron[hour='3', minute='30']". A null zone in
// `bounds` means UTC.
std::unique_ptr<Trigger> make_pattern_trigger(CronPattern pattern, const CronBounds& bounds, std::string description);

}  // namespace rowsched
