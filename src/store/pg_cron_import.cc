#include "store/pg_cron_import.h"

#include <stdexcept>

#include <nlohmann/json.hpp>
#include <pqxx/pqxx>

#include "store/connect.h"

namespace rowsched::store {

namespace {

// The description that marks a row as the copy of pg_cron job `jobid`; a second import finds it by
// the prefix up to the jobid, so a user may extend the text after it.
std::string marker_prefix(int64_t jobid) { return "imported from pg_cron job " + std::to_string(jobid) + " "; }

bool is_this_server(const PgCronJob& job, int port) {
  const bool local_host = job.nodename.empty() || job.nodename == "localhost" || job.nodename == "127.0.0.1" ||
                          job.nodename == "::1" || job.nodename.starts_with('/');
  return local_host && job.nodeport == port;
}

std::vector<PgCronJob> read_jobs(pqxx::work& tx) {
  std::vector<PgCronJob> jobs;
  for (const auto& row : tx.exec("SELECT jobid, jobname, schedule, command, nodename, nodeport, database, username, "
                                 "active FROM cron.job ORDER BY jobid")) {
    PgCronJob job;
    job.jobid = row[0].as<int64_t>();
    if (!row[1].is_null()) job.jobname = row[1].as<std::string>();
    job.schedule = row[2].as<std::string>();
    job.command = row[3].as<std::string>();
    job.nodename = row[4].as<std::string>("");
    job.nodeport = row[5].as<int>(0);
    job.database = row[6].as<std::string>("");
    job.username = row[7].as<std::string>("");
    job.active = row[8].as<bool>(true);
    jobs.push_back(std::move(job));
  }
  return jobs;
}

}  // namespace

std::vector<PgCronImportResult> import_pg_cron(const std::string& dsn, const std::string& schema, bool unschedule,
                                               const ScheduleCheck& schedule_problem) {
  auto connection = open_connection(dsn, "rowsched import-pg-cron");
  pqxx::connection& conn = *connection;
  pqxx::work tx(conn);
  const auto where = tx.exec1("SELECT current_database(), current_setting('port')::int, "
                              "to_regclass('cron.job') IS NOT NULL, "
                              "current_setting('cron.timezone', true)");
  const std::string database = where[0].as<std::string>();
  const int port = where[1].as<int>();
  if (!where[2].as<bool>())
    throw std::runtime_error("database \"" + database +
                             "\" has no table cron.job; connect (--dsn) to the database named by pg_cron's "
                             "cron.database_name setting, where pg_cron keeps its jobs");
  const std::string job_info = conn.quote_name(schema) + "." + conn.quote_name("job_info");
  if (!tx.exec_params1("SELECT to_regclass($1) IS NOT NULL", job_info)[0].as<bool>())
    throw std::runtime_error("database \"" + database + "\" has no table " + job_info +
                             "; run `rowsched migrate` with the same --dsn and --schema first");
  // pg_cron runs every job in cron.timezone (1.5+; GMT by default, and always GMT before 1.5): the
  // copies keep that time zone rather than taking the daemon's --timezone.
  const std::string pg_cron_zone =
      where[3].is_null() || where[3].as<std::string>().empty() ? "GMT" : where[3].as<std::string>();

  std::vector<PgCronImportResult> results;
  for (PgCronJob& job : read_jobs(tx)) {
    PgCronImportResult result;
    result.job_id = job.jobname && !job.jobname->empty() ? *job.jobname : "pg_cron-" + std::to_string(job.jobid);
    result.job = std::move(job);
    const PgCronJob& j = result.job;
    auto not_copied = [&](std::string why) {
      result.outcome = PgCronImportResult::Outcome::kNotCopied;
      result.reason = std::move(why);
    };
    if (j.database != database) {
      not_copied("it runs in database \"" + j.database + "\", not \"" + database +
                 "\"; rowsched runs a job in the database of its job_info table: install rowsched there and copy "
                 "the job with cron.schedule's arguments");
    } else if (!is_this_server(j, port)) {
      not_copied("it runs on another server (" + j.nodename + ":" + std::to_string(j.nodeport) +
                 "); rowsched runs jobs on the server of its job_info table");
    } else if (const auto problem = schedule_problem(j.schedule)) {
      not_copied("its schedule cannot be read by rowsched: " + *problem);
    } else {
      try {
        // A savepoint by hand: a failed statement must leave the outer transaction usable.
        tx.exec("SAVEPOINT pg_cron_job");
        const auto existing =
            tx.exec_params("SELECT description, owner::text FROM " + job_info + " WHERE job_id = $1", result.job_id);
        if (!existing.empty()) {
          // The owner too: any role may write the marker into a row of its own, and --unschedule must not
          // then remove another user's pg_cron job for it.
          if (existing[0][0].as<std::string>("").starts_with(marker_prefix(j.jobid)) &&
              existing[0][1].as<std::string>() == j.username) {
            result.outcome = PgCronImportResult::Outcome::kAlreadyCopied;
          } else {
            not_copied("job_id \"" + result.job_id +
                       "\" is already taken by another job_info row; rename one of the two and import again");
          }
        } else {
          nlohmann::json kwargs = {{"crontab", j.schedule}};
          kwargs["timezone"] = pg_cron_zone;
          tx.exec_params("INSERT INTO " + job_info +
                              " (job_id, func, func_args, trigger_kwargs, is_paused, owner, description) "
                              "VALUES ($1, 'sql', $2::jsonb, $3::jsonb, $4, $5, $6)",
                          result.job_id, nlohmann::json::array({j.command}).dump(), kwargs.dump(), !j.active, j.username,
                          marker_prefix(j.jobid) + "(user \"" + j.username + "\", database \"" + j.database + "\")");
          result.outcome = PgCronImportResult::Outcome::kCopied;
        }
        if (unschedule && result.outcome != PgCronImportResult::Outcome::kNotCopied) {
          tx.exec_params("SELECT cron.unschedule($1::bigint)", j.jobid);
          result.unscheduled = true;
        }
        tx.exec("RELEASE SAVEPOINT pg_cron_job");
      } catch (const pqxx::sql_error& e) {
        tx.exec("ROLLBACK TO SAVEPOINT pg_cron_job");
        // The server's message without "ERROR:  " and the PL/pgSQL context lines.
        std::string message = e.what();
        message = message.substr(0, message.find('\n'));
        if (message.starts_with("ERROR:  ")) message = message.substr(8);
        not_copied(message);
        result.unscheduled = false;
      }
    }
    results.push_back(std::move(result));
  }
  tx.commit();
  return results;
}

}  // namespace rowsched::store
