// `rowsched import-pg-cron [--dsn DSN] [--schema S] [--unschedule]`: copies pg_cron's jobs into job_info
// (store/pg_cron_import.h) and prints one line per pg_cron job saying what became of it, then a total.
// Exit status: 0 when every job is copied (now or by an earlier run), 3 when some could not be (each
// says why; the others are copied), 1 when nothing could be done (no cron.job, no job_info, no server).
#pragma once

#include "daemon/commands.h"

namespace rowsched::daemon {

int import_pg_cron(const Options& opt, bool unschedule);

}  // namespace rowsched::daemon
