// The job states (job_info.state) and run statuses (job_run.status) as C++ values, with the one
// mapping to and from the SQL text the table stores. Code compares these values, never the text;
// the text appears only where rows are read or written (and in logs, which print to_sql()).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace rowsched {

// job_info.state. The order is that of sql/ and the docs; the values index arrays.
enum class JobState { pending, scheduled, paused, finished, invalid };
inline constexpr std::array kAllJobStates = {JobState::pending, JobState::scheduled, JobState::paused,
                                             JobState::finished, JobState::invalid};

// job_run.status.
enum class RunStatus { queued, running, succeeded, failed, timeout, lost, missed, skipped };
inline constexpr std::array kAllRunStatuses = {RunStatus::queued, RunStatus::running, RunStatus::succeeded,
                                               RunStatus::failed, RunStatus::timeout, RunStatus::lost,
                                               RunStatus::missed, RunStatus::skipped};

// The SQL text of a state or status: "scheduled", "succeeded", ...
std::string to_sql(JobState state);
std::string to_sql(RunStatus status);

// The value whose SQL text is `text`. Throws std::invalid_argument naming `text` and the allowed
// texts when there is none.
JobState parse_job_state(std::string_view text);
RunStatus parse_run_status(std::string_view text);

}  // namespace rowsched
