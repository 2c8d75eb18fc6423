// Where `sql` and `notify` jobs run: in sessions logged in as the job's owner role (owner_session.h),
// never in the daemon's own session. `SET ROLE` on the daemon's session would be no boundary: any
// statement can undo it with RESET ROLE or set_config('role', 'none', ...). Here session_user is the
// owner, so there is nothing to go back to.
//
// Sessions are pooled, shared by all executor threads: an idle session of the owner is reused (its
// reset already done, see owner_session.h), otherwise a new one logs in with the daemon's DSN,
// user=<owner> and no password of the daemon's (owner_conninfo.h). At most `max_idle` sessions stay
// open idle, over all owners (the least recently used beyond are closed), and none longer than
// `idle_timeout`. A login that fails is remembered for `login_backoff`: runs of that owner that find
// no idle session of theirs fail at once with the same message instead of asking the server again for
// every fire; one that finds one runs on it. A login refused for lack of room (the role's CONNECTION
// LIMIT, max_connections) while sessions of the owner are busy waits for one of them to be given back
// (at most `login_backoff`) and runs on it, or logs in in the room it left.
//
// Thread safety: all members may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/owner_session.h"
#include "base/time.h"

namespace rowsched::store {

class SqlSession {
 public:
  struct Limits {
    size_t max_idle = 8;  // rowsched run --owner-connections
    Duration idle_timeout = std::chrono::seconds(60);
    Duration login_backoff = std::chrono::seconds(5);
  };
  using Clock = std::function<TimePoint()>;

  SqlSession(std::string dsn, Limits limits, Clock clock);
  ~SqlSession();
  SqlSession(const SqlSession&) = delete;
  SqlSession& operator=(const SqlSession&) = delete;

  // Runs `statement` with `params` bound to $1.. (nullopt binds NULL) in a session logged in as
  // `owner` (OwnerSession::run says how). Returns the summary for job_run.output. Throws
  // OwnerLoginError when `owner` cannot log in, StatementTimeout when cancelled by `timeout`,
  // std::runtime_error with the server's message otherwise.
  std::string execute_as(const std::string& owner, const std::string& statement,
                         const std::vector<std::optional<std::string>>& params, std::optional<Duration> timeout);

  // pg_notify(channel, payload) in a session logged in as `owner`.
  void notify_as(const std::string& owner, const std::string& channel, const std::string& payload);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace rowsched::store
