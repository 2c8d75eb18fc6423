// Time zones for triggers: IANA zones, the mapping of local wall-clock times to instants (with
// rowsched's daylight-saving rules) and the timestamp format that trigger_kwargs and the command
// line accept. Instants, durations and their printing are plain vocabulary in base/time.h.
//
// Nothing here reads the clock: "now" is always passed in by the caller.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <date/tz.h>

#include "base/time.h"

namespace rowsched {

using LocalTime = date::local_time<Duration>;
using Zone = const date::time_zone*;

// Returns the IANA zone called `name`, or nullopt when the tz database has no such zone.
std::optional<Zone> find_zone(std::string_view name);

// Every instant at which the wall clock of `zone` shows `local`, earliest first: one for an ordinary
// time, two for a time repeated when clocks go back, none for a time skipped when clocks go forward.
std::vector<TimePoint> instants_of(LocalTime local, Zone zone);

// The one instant rowsched uses for a fixed wall-clock time: the earliest occurrence of a repeated
// time, and for a skipped time the instant reached by keeping the offset in force before the gap
// (02:30 on a spring-forward day at 02:00 fires at 03:30 new time).
TimePoint resolve_local(LocalTime local, Zone zone);

// The wall-clock time `zone` shows at `instant`.
LocalTime to_local(TimePoint instant, Zone zone);

// Parses `YYYY-MM-DD[( |T)HH:MM:SS[.ffffff]][Z|±HH:MM|±HHMM]`; as in APScheduler, every field but the
// year may also have one digit (2024-1-5 3:04:05). A value without an offset is a wall-clock
// time in `zone`, resolved with resolve_local. Returns nullopt when `text` is not of that form or
// names a day or time that does not exist (2023-02-29, 24:00:00).
std::optional<TimePoint> parse_timestamp(std::string_view text, Zone zone);

}  // namespace rowsched
