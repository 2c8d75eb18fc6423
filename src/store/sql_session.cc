#include "store/sql_session.h"

#include <condition_variable>
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
    bool no_room = false;  // "too many connections": the role's CONNECTION LIMIT or max_connections
  };

  std::string dsn;
  Limits limits;
  Clock clock;
  std::mutex mu;
  std::list<Idle> idle;  // most recently used first
  std::map<std::string, LoginFailure> failures;
  std::map<std::string, int> in_use;            // sessions of each owner running a statement
  std::map<std::string, uint64_t> releases;     // sessions of each owner given back, ever
  std::condition_variable released;

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
      bool log_in = false;
      {
        std::unique_lock lock(mu);
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
        if (f != failures.end() && now >= f->second.until) failures.erase(f);
        else if (f != failures.end() && f->second.no_room && in_use[owner] > 0) {
          // Refused for lack of room while sessions of this owner are busy: wait for one of them to
          // be given back (at most until the refusal is forgotten), then take it, or log in again in
          // the room it left.
          const uint64_t seen = releases[owner];
          if (released.wait_for(lock, limits.login_backoff, [&] { return releases[owner] != seen; }))
            failures.erase(owner);
          continue;
        } else if (f != failures.end()) {
          const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - f->second.at).count();
          throw OwnerLoginError(f->second.message + " (remembered from a login attempt " + std::to_string(ago) +
                                " ms ago: the role's runs fail without asking the server again for " +
                                std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limits.login_backoff).count()) +
                                " s)");
        }
        log_in = !found;
      }
      if (found && !found->usable()) continue;  // its reset failed: close it, look again
      if (found) {
        std::lock_guard lock(mu);
        ++in_use[owner];
        return found;
      }
      if (log_in) {
        try {
          auto session = std::make_unique<OwnerSession>(owner, owner_conninfo(dsn, owner, "rowsched job"));
          std::lock_guard lock(mu);
          ++in_use[owner];
          return session;
        } catch (const OwnerLoginError& e) {
          std::lock_guard lock(mu);
          const TimePoint now = clock();
          const bool no_room = refused_for_lack_of_room(e.what());
          failures[owner] = LoginFailure{now, now + limits.login_backoff, e.what(), no_room};
          if (!(no_room && in_use[owner] > 0)) throw;
          // else: wait for a session of the owner's own, above
        }
      }
    }
  }

  void release(const std::string& owner, std::unique_ptr<OwnerSession> session) {
    session->start_reset();
    std::vector<std::unique_ptr<OwnerSession>> closing;
    std::lock_guard lock(mu);
    --in_use[owner];
    ++releases[owner];
    released.notify_all();
    if (session->broken()) return;
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
