// Small helpers shared by the cron trigger tests: build triggers, list their next fires as RFC 3339
// text, count fires per local day, and capture the message of a rejected input.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "trigger/cron_trigger.h"

namespace rowsched::testing {

inline Zone zone(const std::string& name) { return *find_zone(name); }

// A timestamp as trigger_kwargs would give it; without an offset it is wall-clock time in `zone_name`.
inline TimePoint at(const std::string& text, const std::string& zone_name = "UTC") {
  return *parse_timestamp(text, zone(zone_name));
}

// The RFC 3339 UTC text of a wall-clock time in a zone, for expected values written in local time.
inline std::string local(const std::string& text, const std::string& zone_name) {
  return format_rfc3339(at(text, zone_name));
}

inline CronBounds in(const std::string& zone_name) {
  CronBounds b;
  b.zone = zone(zone_name);
  return b;
}

// The next `n` fires from `now`, each computed from the previous one as the scheduler does
// (previous = the last fire, now = that fire); "none" ends the list when the trigger is done.
inline std::vector<std::string> fires(const Trigger& trigger, TimePoint now, int n) {
  std::vector<std::string> out;
  std::optional<TimePoint> previous;
  for (int i = 0; i < n; ++i) {
    const std::optional<TimePoint> next = trigger.next_fire_time(previous, now);
    if (!next) {
      out.push_back("none");
      break;
    }
    out.push_back(format_rfc3339(*next));
    previous = next;
    now = *next;
  }
  return out;
}

// Fires in [from, to), grouped by the local date (YYYY-MM-DD) of `zone_name` on which they happen.
inline std::map<std::string, int> fires_per_local_day(const Trigger& trigger, TimePoint from, TimePoint to,
                                                      const std::string& zone_name) {
  std::map<std::string, int> out;
  std::optional<TimePoint> previous;
  TimePoint now = from;
  for (int guard = 0; guard < 1'000'000; ++guard) {
    const std::optional<TimePoint> next = trigger.next_fire_time(previous, now);
    if (!next || *next >= to) break;
    const auto day = date::floor<date::days>(to_local(*next, zone(zone_name)));
    out[date::format("%F", day)] += 1;
    previous = next;
    now = *next;
  }
  return out;
}

// The TriggerError message `build` throws, or "no error".
inline std::string error_of(const std::function<void()>& build) {
  try {
    build();
  } catch (const TriggerError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace rowsched::testing
