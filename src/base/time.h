// Time vocabulary every part of rowsched shares: instants, durations and how they are printed.
// Time zones and the parsing of wall-clock timestamps are about triggers and live in
// src/trigger/time.h, which includes this file.
//
// Nothing here reads the clock: "now" is always passed in by the caller.
#pragma once

#include <chrono>
#include <ctime>
#include <string>

namespace rowsched {

using Duration = std::chrono::microseconds;
using TimePoint = std::chrono::time_point<std::chrono::system_clock, Duration>;

// The last instant any trigger produces (9999-12-31T23:59:59.999999Z): the end of the years that
// APScheduler, Python and RFC 3339's four-digit years can express. Later fires are "never".
inline constexpr TimePoint kLatestInstant{Duration{253402300799999999LL}};

// Formats `instant` as RFC 3339 UTC: 2024-03-31T01:30:00Z, with a fraction only when it is not zero
// (trailing zeros dropped).
std::string format_rfc3339(TimePoint instant);

// Formats a duration in seconds for messages: "90", "0.5".
std::string format_seconds(Duration d);

// `s` seconds (an option's, a JSON number's) as a Duration, to the microsecond, truncated.
Duration from_seconds(double s);

// `d` as the timespec that ppoll() waits for, to the microsecond (a negative `d`: zero).
timespec to_timespec(Duration d);

}  // namespace rowsched
