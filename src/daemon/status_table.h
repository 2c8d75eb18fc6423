// The table `rowsched status` prints, in the manner of `systemctl list-timers`: one line per job,
// sorted by next run (jobs with none last, then by job_id), times in a given time zone, "-" for
// nothing, each column as wide as its widest cell, long job ids cut with "…", and a count at the
// end. Invalid jobs are followed by their last_error, so the table says what to fix.
//
// Pure: no clock, no I/O.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/status.h"
#include "trigger/time.h"

namespace rowsched::daemon {

constexpr size_t kMaxJobColumnWidth = 40;

std::string format_status_table(std::vector<store::JobStatus> jobs, Zone zone, size_t max_job_width = kMaxJobColumnWidth);

// A time as the table shows it: "Sun 2024-03-31 03:30:00 CEST" (whole seconds, in `zone`).
std::string format_table_time(TimePoint t, Zone zone);

// The number of characters (UTF-8 code points) in `text`.
size_t display_width(std::string_view text);

// `text` when it fits in `width` characters, else its first width-1 characters and "…".
std::string cut_to_width(std::string_view text, size_t width);

}  // namespace rowsched::daemon
