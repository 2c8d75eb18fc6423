// trigger_kwargs -> (Trigger, JobOptions): the one entry point that turns a job_info row's JSON into
// a schedule, in APScheduler 3's add_job vocabulary. Every key is checked: unknown keys, wrong types
// and out-of-range values raise TriggerError naming the key, the value and what is allowed.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "trigger/trigger.h"

namespace rowsched {

// How a run of a job behaves; parsed and validated here, applied by src/schedule and src/run.
struct JobOptions {
  // Outer nullopt: the key was absent, the daemon's default applies.
  // Inner nullopt: the key was null, late fires always run.
  std::optional<std::optional<Duration>> misfire_grace_time;
  bool coalesce = true;
  int max_instances = 1;
  // The first fire instead of the trigger's own; the string "now" is ParseContext::now.
  std::optional<TimePoint> next_run_time;
  std::optional<Duration> timeout;
  int retries = 0;
  Duration retry_delay = std::chrono::seconds{10};
  // The worker queue of a worker job (func `module:callable`); ignored for other jobs.
  std::string queue = "default";

  bool operator==(const JobOptions&) const = default;
};

// What the parser needs from outside the JSON: the zone used when trigger_kwargs has no `timezone`,
// and `now`, the instant the definition took effect (it anchors `next_run_time: "now"` and an interval
// without start_date, so that every instance and every restart agrees on the schedule).
struct ParseContext {
  Zone default_zone = date::locate_zone("UTC");
  TimePoint now{};
  // `now` as the parser uses it; afterwards `now_used` tells whether the result depends on it (a
  // caller may then share one parse between definitions that differ only in `now`).
  TimePoint anchor() const {
    now_used = true;
    return now;
  }
  mutable bool now_used = false;
};

struct JobSpec {
  std::shared_ptr<const Trigger> trigger;
  JobOptions options;
};

// Parses one trigger_kwargs object. Throws TriggerError.
JobSpec parse_trigger_kwargs(const nlohmann::json& kwargs, const ParseContext& ctx);

// The same from JSON text; text that is not JSON is a TriggerError too.
JobSpec parse_trigger_kwargs_text(std::string_view json_text, const ParseContext& ctx);

}  // namespace rowsched
