// Worker jobs: a func of the form `module:callable` (APScheduler's textual reference, e.g. the seed's
// `scheduler_jobs.tasks:send_emails`) names a function of the user's application. rowsched does not
// run it: the fire is queued in job_run for a worker process (sql/010_workers.sql, docs/workers.md).
#pragma once

#include <string_view>

namespace rowsched::run {

// True for dotted ASCII identifiers, one colon, dotted ASCII identifiers (`a.b:c`, `a:B.method`);
// the same rule as rowsched_is_worker_func() in SQL.
bool is_worker_func(std::string_view func);

}  // namespace rowsched::run
