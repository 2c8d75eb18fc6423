// One PostgreSQL session logged in as a job's owner role (libpq directly: the statement must go over
// the simple query protocol, outside any transaction block, which libpqxx's transactions do not do).
//
// A run is one round trip for the statement plus, when the job has a timeout, one for
// `SET statement_timeout`. Nothing a run sets survives it: after each run the session is reset
// (roll back an open transaction, SET SESSION AUTHORIZATION DEFAULT, RESET ROLE, RESET ALL, CLOSE ALL,
// DEALLOCATE ALL, UNLISTEN *, pg_advisory_unlock_all(), DISCARD PLANS/SEQUENCES/TEMP: DISCARD ALL
// itself cannot run in the one multi-statement query used here). The reset is sent as soon as the
// run ends and its answer read at the next run, so it costs the next run no round trip of its own.
//
// Thread safety: none; a session is used by one executor thread at a time (see sql_session.h).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/time.h"

typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

namespace rowsched::store {

// The owner role cannot log in (NOLOGIN, dropped, no pg_hba.conf entry or credentials). The message
// names the role and says what to configure.
class OwnerLoginError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A statement cancelled by the job's timeout (SQLSTATE 57014).
class StatementTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A run's error when its statement left a transaction open (which rowsched then rolls back).
inline constexpr const char* kTransactionLeftOpen =
    "the statement left a transaction open (BEGIN without COMMIT); rowsched rolled it back. "
    "End the transaction in the statement, or leave BEGIN out";

// A run's error when its statement started a COPY from or to the client (a job has none).
inline constexpr const char* kCopyNeedsClient =
    "COPY ... FROM STDIN / TO STDOUT needs a client; a job has none (copy from or to a server file or a "
    "program instead, or use INSERT ... SELECT)";

// The command that gives a run's statements `timeout` (whole milliseconds, at least 1).
std::string statement_timeout_command(Duration timeout);

// What job_run.output says of a statement's last result: {"affected_rows": N}, or for a query
// {"rows": N, "first_rows": [...]} (the first 10 rows as JSON objects of text).
std::string owner_result_summary(const PGresult* result);

// The same summary, fed a result at a time: whole results, or a query's rows one by one (libpq's
// single-row mode, PGRES_SINGLE_TUPLE, then a PGRES_TUPLES_OK of none). A job's statement can return
// millions of rows; read row by row, the daemon keeps the first 10 and a count, never the whole
// result. A result after a finished one (the next statement of several) starts the summary anew.
class ResultSummary {
 public:
  // PGRES_SINGLE_TUPLE, PGRES_TUPLES_OK or PGRES_COMMAND_OK; other statuses are not the summary's.
  void add(const PGresult* result);
  std::string text() const;

 private:
  bool query_ = false, finished_ = false;
  long long rows_ = 0, affected_ = 0;
  std::vector<std::vector<std::pair<std::string, std::optional<std::string>>>> first_rows_;
};

// The message of an OwnerLoginError: the role, libpq's reason `why`, and what to configure.
std::string owner_login_error_message(const std::string& owner, const std::string& why);

// True when a login was refused for lack of room, not for who logs in: "too many connections for
// role" (its CONNECTION LIMIT), "sorry, too many clients already" (max_connections). `why`: libpq's
// reason, or an OwnerLoginError's message.
bool refused_for_lack_of_room(std::string_view why);

class OwnerSession {
 public:
  // Logs in with `conninfo` (owner_conninfo.h) as `owner`. Throws OwnerLoginError.
  OwnerSession(const std::string& owner, const std::string& conninfo);
  ~OwnerSession();
  OwnerSession(const OwnerSession&) = delete;
  OwnerSession& operator=(const OwnerSession&) = delete;

  // Runs `statement`: without `params` over the simple query protocol in autocommit (as pg_cron does:
  // VACUUM, CREATE INDEX CONCURRENTLY and CALL of a procedure that COMMITs work; several statements
  // separated by `;` run as one implicit transaction); with `params` (bound to $1.., nullopt binds
  // NULL) as one extended-protocol statement. Returns the summary for job_run.output: the affected row
  // count, or for a query its row count and first rows as JSON. Throws std::runtime_error with the
  // server's message, StatementTimeout when cancelled by `timeout`.
  std::string run(const std::string& statement, const std::vector<std::optional<std::string>>& params,
                  std::optional<Duration> timeout);

  // Sends the reset without waiting for its answer; the next run (or usable()) reads it. Marks the
  // session broken when it cannot be sent.
  void start_reset();
  // True once the connection broke or a COPY was left half-way: close the session.
  bool broken() const;
  // False when the connection broke or its reset failed: the session must be closed, not reused.
  bool usable();

 private:
  void finish_reset();
  // True when the server ended the session while it was idle (or its socket is gone).
  bool ended_while_idle() const;
  void exec_command(const std::string& command);

  PGconn* conn_ = nullptr;
  std::string owner_;
  bool reset_pending_ = false;
  bool broken_ = false;
};

}  // namespace rowsched::store
