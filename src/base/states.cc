// One table of names per enum: to_sql and parse_* both read it, so they cannot disagree.
#include "base/states.h"

#include <stdexcept>

namespace rowsched {

namespace {

constexpr std::string_view kJobStateNames[] = {"pending", "scheduled", "paused", "finished", "invalid"};
constexpr std::string_view kRunStatusNames[] = {"queued", "running", "succeeded", "failed",
                                                "timeout", "lost", "missed", "skipped"};
static_assert(std::size(kJobStateNames) == kAllJobStates.size());
static_assert(std::size(kRunStatusNames) == kAllRunStatuses.size());

template <typename Enum, size_t N>
Enum parse(std::string_view text, const std::string_view (&names)[N], const char* what) {
  for (size_t i = 0; i < N; ++i)
    if (names[i] == text) return static_cast<Enum>(i);
  std::string allowed;
  for (size_t i = 0; i < N; ++i) allowed += (i == 0 ? "" : ", ") + std::string(names[i]);
  throw std::invalid_argument("unknown " + std::string(what) + " \"" + std::string(text) + "\" (allowed: " + allowed + ")");
}

}  // namespace

std::string to_sql(JobState state) { return std::string(kJobStateNames[static_cast<size_t>(state)]); }
std::string to_sql(RunStatus status) { return std::string(kRunStatusNames[static_cast<size_t>(status)]); }

JobState parse_job_state(std::string_view text) { return parse<JobState>(text, kJobStateNames, "job state"); }
RunStatus parse_run_status(std::string_view text) { return parse<RunStatus>(text, kRunStatusNames, "run status"); }

}  // namespace rowsched
