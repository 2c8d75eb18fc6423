#include "daemon/import_pg_cron.h"

#include <cstdio>

#include <spdlog/spdlog.h>

#include "daemon/logging.h"
#include "store/dsn.h"
#include "store/pg_cron_import.h"
#include "trigger/cron_trigger.h"
#include "base/time.h"

namespace rowsched::daemon {

namespace {

// Whether rowsched reads the schedule as a crontab string (the daemon would mark the row invalid).
std::optional<std::string> crontab_problem(const std::string& schedule) {
  try {
    make_crontab_trigger(schedule, CronBounds{});
    return std::nullopt;
  } catch (const TriggerError& e) {
    return e.what();
  }
}

std::string describe(const store::PgCronJob& job) {
  std::string out = "pg_cron job " + std::to_string(job.jobid);
  if (job.jobname) out += " \"" + *job.jobname + "\"";
  return out + " of user \"" + job.username + "\" (" + job.schedule + ")";
}

}  // namespace

int import_pg_cron(const Options& opt, bool unschedule) {
  set_up_logging(opt.log_level, opt.log_format);
  const std::string dsn = store::resolve_dsn(opt.dsn);
  std::vector<store::PgCronImportResult> results;
  try {
    results = store::import_pg_cron(dsn, opt.schema, unschedule, crontab_problem);
  } catch (const std::exception& e) {
    spdlog::error("import-pg-cron failed on {}: {}", store::redact_dsn(dsn), e.what());
    return 1;
  }
  int copied = 0, already = 0, not_copied = 0, unscheduled = 0;
  for (const auto& r : results) {
    const std::string tail = r.unscheduled ? "; unscheduled in pg_cron" : "";
    switch (r.outcome) {
      case store::PgCronImportResult::Outcome::kCopied:
        ++copied;
        std::printf("copied:         %s -> job_id \"%s\"%s\n", describe(r.job).c_str(), r.job_id.c_str(), tail.c_str());
        break;
      case store::PgCronImportResult::Outcome::kAlreadyCopied:
        ++already;
        std::printf("already copied: %s -> job_id \"%s\"%s\n", describe(r.job).c_str(), r.job_id.c_str(), tail.c_str());
        break;
      case store::PgCronImportResult::Outcome::kNotCopied:
        ++not_copied;
        std::printf("not copied:     %s: %s\n", describe(r.job).c_str(), r.reason.c_str());
        break;
    }
    if (r.unscheduled) ++unscheduled;
  }
  std::printf("%d copied, %d already copied, %d not copied", copied, already, not_copied);
  if (unschedule) std::printf(", %d unscheduled in pg_cron", unscheduled);
  std::printf("\n");
  return not_copied == 0 ? 0 : 3;
}

}  // namespace rowsched::daemon
