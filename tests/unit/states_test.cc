// Job states and run statuses: every value's SQL text maps back to it, and unknown text is refused
// with a message naming it and the allowed texts.
#include <stdexcept>

#include <catch2/catch.hpp>

#include "base/states.h"

using namespace rowsched;

TEST_CASE("every job state and run status round-trips through its SQL text") {
  for (JobState s : kAllJobStates) CHECK(parse_job_state(to_sql(s)) == s);
  for (RunStatus s : kAllRunStatuses) CHECK(parse_run_status(to_sql(s)) == s);
  CHECK(to_sql(JobState::pending) == "pending");
  CHECK(to_sql(JobState::invalid) == "invalid");
  CHECK(to_sql(RunStatus::succeeded) == "succeeded");
  CHECK(to_sql(RunStatus::skipped) == "skipped");
}

TEST_CASE("an unknown job state or run status is refused naming it and the allowed ones") {
  CHECK_THROWS_WITH(parse_job_state("Scheduled"),
                    "unknown job state \"Scheduled\" (allowed: pending, scheduled, paused, finished, invalid)");
  CHECK_THROWS_WITH(parse_run_status("done"),
                    "unknown run status \"done\" (allowed: queued, running, succeeded, failed, timeout, lost, "
                    "missed, skipped)");
  CHECK_THROWS_AS(parse_run_status(""), std::invalid_argument);
}
