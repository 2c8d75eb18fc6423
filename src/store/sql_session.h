// One database session used by an executor thread to run `sql` and `notify` jobs: each run is its own
// transaction, under the job owner's role (SET LOCAL ROLE), with the job's timeout as
// statement_timeout. The daemon's login role must be a member of every owner role it runs for
// (a superuser is); otherwise the run fails with PostgreSQL's "permission denied to set role".
//
// Thread safety: none; one SqlSession per executor thread. Reconnects lazily after a failure.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trigger/time.h"

namespace rowsched::store {

class SqlSession {
 public:
  explicit SqlSession(std::string dsn);
  ~SqlSession();
  SqlSession(const SqlSession&) = delete;
  SqlSession& operator=(const SqlSession&) = delete;

  // Runs `statement` with `params` bound to $1.. (nullopt binds NULL) as role `owner`. Returns a
  // short summary for job_run.output: the affected row count and, for a query, its first rows as
  // JSON. Throws std::runtime_error with the server's message; a statement cancelled by the
  // timeout throws StatementTimeout.
  std::string execute_as(const std::string& owner, const std::string& statement,
                         const std::vector<std::optional<std::string>>& params, std::optional<Duration> timeout);

  // pg_notify(channel, payload) as role `owner`.
  void notify_as(const std::string& owner, const std::string& channel, const std::string& payload);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class StatementTimeout : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace rowsched::store
