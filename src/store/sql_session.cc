#include "store/sql_session.h"

#include <list>
#include <map>
#include <mutex>

#include "store/owner_conninfo.h"

namespace rowsched::store {

struct SqlSession::Impl {
  struct Idle {
    std::string owner;
    std::unique_ptr<OwnerSession> session;
    TimePoint since;
  };
  struct LoginFailure {
    TimePoint at, until;
    std::string message;
  };

  std::string dsn;
  Limits limits;
  Clock clock;
  std::mutex mu;
  std::list<Idle> idle;  // most recently used first
  std::map<std::string, LoginFailure> failures;

  // Moves the sessions idle longer than the timeout, and the least recently used beyond the bound,
  // into `closing` (closed by the caller, outside the lock). Requires `mu` held.
  void trim(TimePoint now, std::vector<std::unique_ptr<OwnerSession>>& closing) {
    for (auto it = idle.begin(); it != idle.end();) {
      if (now - it->since >= limits.idle_timeout) {
        closing.push_back(std::move(it->session));
        it = idle.erase(it);
      } else {
        ++it;
      }
    }
    while (idle.size() > limits.max_idle) {
      closing.push_back(std::move(idle.back().session));
      idle.pop_back();
    }
  }

  std::unique_ptr<OwnerSession> acquire(const std::string& owner) {
    for (;;) {
      std::unique_ptr<OwnerSession> found;
      std::vector<std::unique_ptr<OwnerSession>> closing;
      {
        std::lock_guard lock(mu);
        const TimePoint now = clock();
        trim(now, closing);
        for (auto it = idle.begin(); it != idle.end(); ++it) {
          if (it->owner == owner) {
            found = std::move(it->session);
            idle.erase(it);
            break;
          }
        }
        // A remembered refusal stops a new login, not the use of a session the owner already has
        // (one refused for lack of room, beside sessions that were open).
        const auto f = found ? failures.end() : failures.find(owner);
        if (f != failures.end()) {
          if (now < f->second.until) {
            const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - f->second.at).count();
            throw OwnerLoginError(f->second.message + " (remembered from a login attempt " + std::to_string(ago) +
                                  " ms ago: the role's runs fail without asking the server again for " +
                                  std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limits.login_backoff).count()) +
                                  " s)");
          }
          failures.erase(f);
        }
      }
      if (!found) break;
      if (found->usable()) return found;  // else its reset failed: close it, look again
    }
    try {
      return std::make_unique<OwnerSession>(owner, owner_conninfo(dsn, owner, "rowsched job"));
    } catch (const OwnerLoginError& e) {
      std::lock_guard lock(mu);
      const TimePoint now = clock();
      failures[owner] = LoginFailure{now, now + limits.login_backoff, e.what()};
      throw;
    }
  }

  void release(const std::string& owner, std::unique_ptr<OwnerSession> session) {
    session->start_reset();
    if (session->broken()) return;
    std::vector<std::unique_ptr<OwnerSession>> closing;
    std::lock_guard lock(mu);
    const TimePoint now = clock();
    idle.push_front(Idle{owner, std::move(session), now});
    trim(now, closing);
  }

  template <typename F>
  auto with_session(const std::string& owner, F&& body) {
    std::unique_ptr<OwnerSession> session = acquire(owner);
    try {
      auto out = body(*session);
      release(owner, std::move(session));
      return out;
    } catch (...) {
      release(owner, std::move(session));
      throw;
    }
  }
};

SqlSession::SqlSession(std::string dsn, Limits limits, Clock clock) : impl_(std::make_unique<Impl>()) {
  impl_->dsn = std::move(dsn);
  impl_->limits = limits;
  impl_->clock = std::move(clock);
}

SqlSession::~SqlSession() = default;

std::string SqlSession::execute_as(const std::string& owner, const std::string& statement,
                                   const std::vector<std::optional<std::string>>& params, std::optional<Duration> timeout) {
  return impl_->with_session(owner, [&](OwnerSession& s) { return s.run(statement, params, timeout); });
}

void SqlSession::notify_as(const std::string& owner, const std::string& channel, const std::string& payload) {
  impl_->with_session(owner, [&](OwnerSession& s) { return s.run("SELECT pg_notify($1, $2)", {channel, payload}, std::nullopt); });
}

}  // namespace rowsched::store
