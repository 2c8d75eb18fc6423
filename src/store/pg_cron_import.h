// Copying pg_cron's jobs (cron.job) into rowsched's job_info, for `rowsched import-pg-cron`
// (docs/pg-cron.md, "Importing"). Each cron.job row becomes an ordinary job_info row: func 'sql',
// func_args [command], trigger_kwargs {"crontab": schedule, "timezone": cron.timezone or GMT}, owner =
// username, is_paused = NOT active, job_id = jobname (or "pg_cron-<jobid>" for an unnamed job), and a
// description naming the pg_cron job, which is how a second run recognises what it copied before.
//
// All jobs are copied in one transaction, each in its own savepoint, so one job that cannot be copied
// (a role that does not exist, a job_id already taken) is reported and the others still are. pg_cron's
// rows are left alone unless `unschedule` is set; then each job copied (now or before) is removed from
// pg_cron with cron.unschedule(jobid) in the same savepoint as its copy.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace rowsched::store {

// One cron.job row, as pg_cron 1.4+ keeps it.
struct PgCronJob {
  int64_t jobid = 0;
  std::optional<std::string> jobname;
  std::string schedule, command, nodename, database, username;
  int nodeport = 0;
  bool active = true;
};

struct PgCronImportResult {
  enum class Outcome { kCopied, kAlreadyCopied, kNotCopied };
  PgCronJob job;
  std::string job_id;     // the job_info row it maps to
  Outcome outcome = Outcome::kNotCopied;
  std::string reason;     // why it was not copied (kNotCopied only)
  bool unscheduled = false;
};

// Why rowsched cannot run `schedule` (a user-facing message), or nullopt when it can.
using ScheduleCheck = std::function<std::optional<std::string>(const std::string& schedule)>;

// Copies every cron.job row of the database `dsn` connects to into `schema`.job_info, in jobid order.
// Throws std::runtime_error when there is no cron.job or no job_info to copy into (naming what to do).
std::vector<PgCronImportResult> import_pg_cron(const std::string& dsn, const std::string& schema, bool unschedule,
                                               const ScheduleCheck& schedule_problem);

}  // namespace rowsched::store
