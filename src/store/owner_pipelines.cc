#include "store/owner_pipelines.h"

#include <libpq-fe.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cctype>
#include <cstring>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>

#include <spdlog/spdlog.h>

#include "base/start_priority.h"
#include "store/owner_conninfo.h"
#include "store/owner_session.h"
#include "store/pg_error.h"

namespace rowsched::store {

namespace {

// Logins one owner's pool has under way at once (open_for).
constexpr size_t kConcurrentLogins = 2;

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

void ignore_notice(void*, const char*) {}

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

struct Item {
  uint64_t id = 0;
  OwnerStatement call;
  std::string key;      // Impl::key_of(call), made once at submit (outside the lock)
  bool simple = false;  // not pipelinable: runs over the simple query protocol (send_simple)
};

// The queries up to one Sync. A run is [[DISCARD ALL,] SET statement_timeout, Sync,] [DISCARD ALL,]
// statement, Sync: the DISCARD ALL when the session ran something since its last reset, in the run's
// first step. A connection left with nothing to do after a run gets a reset step of its own.
struct Step {
  enum class Kind { timeout, statement, reset, warm, simple } kind = Kind::statement;
  bool lead_reset = false;  // a DISCARD ALL goes first, before the step's own query
  uint64_t id = 0;
  TimePoint sent_at{};
  std::string key{};  // owner + statement text, to learn how long it takes
  bool known_fast = false;
  // Collected from the statement's results.
  ResultSummary summary{};  // job_run.output
  std::optional<std::string> error{};
  bool cancelled = false;
  size_t query = 0;       // the query whose results are read now: 0 is the DISCARD ALL of a lead_reset
  bool between = false;   // the last PQgetResult ended a query's results
  // A simple run's query in flight: its SET statement_timeout, the statement, or a ROLLBACK of the
  // transaction the statement left open.
  enum class Phase { timeout, statement, rollback } phase = Phase::statement;
  bool left_open = false;
  std::string statement{};  // a simple run's statement, sent after its SET statement_timeout
};

struct Connection {
  std::string owner;
  PGconn* conn = nullptr;
  bool connecting = true;
  PostgresPollingStatusType poll_wants = PGRES_POLLING_WRITING;
  bool wants_flush = false;
  std::deque<Step> steps;
  size_t runs_in_flight = 0;
  bool dirty = false;  // a statement ran since the last DISCARD ALL sent (a new session is clean)
  bool tcp = false;     // the socket is TCP: runs sent in one dispatch pass are corked into one segment
  bool corked = false;  // TCP_CORK is on until the dispatch pass ends (uncork_all)
  bool retiring = false;  // closed once its runs end, to make room for a starved owner
  size_t unsure_in_flight = 0;  // runs in flight not known to be fast: nothing is queued behind them
  TimePoint idle_since{};
  TimePoint front_since{};  // when the server got to the front step (its previous Sync arrived)

  // Out of pipeline mode for a simple run: it is the front step, and nothing is queued behind it.
  bool simple() const { return !steps.empty() && steps.front().kind == Step::Kind::simple; }

  ~Connection() {
    if (conn) PQfinish(conn);
  }
};

}  // namespace

struct OwnerPipelines::Impl {
  std::string dsn;
  Limits limits;
  Clock clock;
  Done done;

  mutable std::mutex mu;
  std::map<std::string, std::deque<Item>> waiting;  // per owner, in submit order
  // Per owner, the runs expect()ed by instant (at most kMaxExpected each; passed ones are dropped).
  std::map<std::string, std::map<TimePoint, OwnerStatement>> expected;
  static constexpr size_t kMaxExpected = 16;
  std::string next_owner;                           // round-robin: serve owners from this one on
  size_t pending = 0;                               // waiting + in flight
  bool stopping = false;
  int wake_fd = -1;

  // Owned by the pipeline thread.
  std::list<std::unique_ptr<Connection>> connections;
  struct LoginFailure {
    TimePoint at, until;
    std::string message;
  };
  std::map<std::string, LoginFailure> failures;
  std::unordered_map<std::string, Duration> last_duration;  // owner + '\0' + statement -> last run's time
  std::thread thread;

  void wake() {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = write(wake_fd, &one, sizeof one);
  }

  void finish(uint64_t id, OwnerStatementResult result) {
    done(id, std::move(result));
    std::lock_guard lock(mu);
    --pending;
  }

  void fail(const Item& item, const std::string& error, TimePoint now) {
    OwnerStatementResult r;
    r.outcome = OwnerStatementResult::Outcome::failed;
    r.error = error;
    r.started_at = r.finished_at = now;
    finish(item.id, std::move(r));
  }

  static std::string key_of(const OwnerStatement& s) { return s.owner + '\0' + statement_shape(s.statement); }

  // True when the statement ran before and took at most slow_after: a run may be queued behind it.
  bool known_fast(const std::string& key) const {
    const auto it = last_duration.find(key);
    return it != last_duration.end() && it->second <= limits.slow_after;
  }

  // `owner`'s connections: all of them, and those whose login is under way.
  struct Pool {
    size_t open = 0, logging_in = 0;
  };
  Pool pool_of(const std::string& owner) const {
    Pool p;
    for (const auto& c : connections) {
      if (c->owner != owner) continue;
      ++p.open;
      p.logging_in += c->connecting;
    }
    return p;
  }
  size_t open_of(const std::string& owner) const { return pool_of(owner).open; }

  // A connection of `owner` that can take one more run now, the least loaded; null when none.
  Connection* ready_connection(const std::string& owner, TimePoint now) {
    Connection* best = nullptr;
    for (auto& c : connections) {
      if (c->owner != owner || c->connecting || c->retiring || c->simple() || c->unsure_in_flight > 0) continue;
      if (c->runs_in_flight >= limits.max_depth) continue;
      if (!c->steps.empty() && now - c->front_since > limits.slow_after) continue;  // a long run is in flight
      if (!best || c->runs_in_flight < best->runs_in_flight) best = c.get();
    }
    return best;
  }

  // A connection of `owner` with nothing in flight and its reset done: what a simple run needs.
  Connection* clean_connection(const std::string& owner) {
    for (auto& c : connections)
      if (c->owner == owner && !c->connecting && !c->retiring && !c->dirty && c->steps.empty()) return c.get();
    return nullptr;
  }

  // Opens a connection for `owner` when the bound allows, closing an idle one of another owner to
  // make room. False when it cannot.
  bool open_connection(const std::string& owner, TimePoint now) {
    if (connections.size() >= limits.max_open) {
      auto victim = connections.end();
      for (auto it = connections.begin(); it != connections.end(); ++it)
        if (!(*it)->connecting && (*it)->steps.empty() && (*it)->owner != owner &&
            (victim == connections.end() || (*it)->idle_since < (*victim)->idle_since))
          victim = it;
      if (victim == connections.end()) return false;
      connections.erase(victim);
    }
    std::string conninfo;
    try {
      conninfo = owner_conninfo(dsn, owner, "rowsched job");
    } catch (const std::exception& e) {
      failures[owner] = LoginFailure{now, now + limits.login_backoff, owner_login_error_message(owner, e.what())};
      return false;
    }
    auto c = std::make_unique<Connection>();
    c->owner = owner;
    c->conn = PQconnectStart(conninfo.c_str());
    if (!c->conn || PQstatus(c->conn) == CONNECTION_BAD) {
      const std::string why = c->conn ? trimmed(PQerrorMessage(c->conn)) : "out of memory";
      failures[owner] = LoginFailure{now, now + limits.login_backoff, owner_login_error_message(owner, why)};
      return false;
    }
    c->idle_since = now;
    connections.push_back(std::move(c));
    return true;
  }

  std::optional<std::string> remembered_failure(const std::string& owner, TimePoint now) {
    const auto f = failures.find(owner);
    if (f == failures.end()) return std::nullopt;
    if (now >= f->second.until) {
      failures.erase(f);
      return std::nullopt;
    }
    const auto ago = std::chrono::duration_cast<std::chrono::milliseconds>(now - f->second.at).count();
    return f->second.message + " (remembered from a login attempt " + std::to_string(ago) +
           " ms ago: the role's runs fail without asking the server again for " +
           std::to_string(std::chrono::duration_cast<std::chrono::seconds>(limits.login_backoff).count()) + " s)";
  }

  // libpq 15's PQpipelineSync flushes: each run would be a send() of its own, and over TCP each send
  // runs the loopback's (or the NIC's) transmit path and wakes the backend. Corked, the runs a
  // dispatch pass puts on one connection leave in one segment when the pass ends (uncork_all).
  void cork(Connection& c) {
    if (!c.tcp || c.corked) return;
    const int on = 1;
    c.corked = setsockopt(PQsocket(c.conn), IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0;
  }

  void uncork_all() {
    const int off = 0;
    for (auto& c : connections) {
      if (!c->corked) continue;
      c->corked = false;
      setsockopt(PQsocket(c->conn), IPPROTO_TCP, TCP_CORK, &off, sizeof off);
    }
  }

  static bool send_discard_all(PGconn* pg) {
    return PQsendQueryParams(pg, "DISCARD ALL", 0, nullptr, nullptr, nullptr, nullptr, 0) != 0;
  }

  // Queues one run's queries on `c`. False when libpq refused them (the connection is broken).
  //
  // The reset goes before the run, in the same Sync as the run's first query, not after it in a
  // Sync of its own: each Sync is a transaction end and a flush of the server's output, and that
  // cycle, not DISCARD ALL's own work, is what a second Sync per run costs (docs/decisions.md).
  // DISCARD ALL is allowed there because it is the first query of its implicit transaction, and it
  // commits at once; the run's query then starts a transaction of its own.
  // `more_due`: the owner has more runs due now, which this dispatch pass may queue on `c` too (a lone
  // run is not corked: it would only cost the two setsockopt calls).
  bool send(Connection& c, Item& item, TimePoint now, bool more_due) {
    if (more_due) cork(c);
    const std::string& key = item.key;
    const bool fast = known_fast(key);
    PGconn* pg = c.conn;
    if (c.steps.empty()) c.front_since = now;
    bool lead = c.dirty;
    c.dirty = true;
    if (item.call.timeout) {
      const std::string set = statement_timeout_command(*item.call.timeout);
      if ((lead && !send_discard_all(pg)) ||
          !PQsendQueryParams(pg, set.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0) || !PQpipelineSync(pg))
        return false;
      c.steps.push_back(Step{.kind = Step::Kind::timeout, .lead_reset = lead, .sent_at = now});
      lead = false;
    }
    std::vector<const char*> values;
    values.reserve(item.call.params.size());
    for (const auto& p : item.call.params) values.push_back(p ? p->c_str() : nullptr);
    if ((lead && !send_discard_all(pg)) ||
        !PQsendQueryParams(pg, item.call.statement.c_str(), static_cast<int>(values.size()), nullptr, values.data(),
                           nullptr, nullptr, 0) ||
        !PQpipelineSync(pg))
      return false;
    c.steps.push_back(Step{.kind = Step::Kind::statement, .lead_reset = lead, .id = item.id, .sent_at = now,
                           .key = key, .known_fast = fast});
    ++c.runs_in_flight;
    c.unsure_in_flight += !fast;
    c.wants_flush = true;
    return true;
  }

  // Queues a simple run on `c` (clean_connection): out of pipeline mode, [SET statement_timeout,]
  // then the statement over the simple query protocol, as the blocking sessions run it (several
  // statements in one implicit transaction, transaction control, VACUUM); read_simple() goes on from
  // there. False when libpq refused (the connection is broken).
  bool send_simple(Connection& c, Item& item, TimePoint now) {
    if (!PQexitPipelineMode(c.conn)) return false;
    c.dirty = true;
    Step step{.kind = Step::Kind::simple, .id = item.id, .sent_at = now, .key = item.key};
    step.phase = item.call.timeout ? Step::Phase::timeout : Step::Phase::statement;
    step.statement = item.call.statement;
    if (item.call.timeout) {
      if (!PQsendQuery(c.conn, statement_timeout_command(*item.call.timeout).c_str())) return false;
    } else if (!PQsendQuery(c.conn, item.call.statement.c_str())) {
      return false;
    }
    c.front_since = now;
    c.steps.push_back(std::move(step));
    ++c.runs_in_flight;
    ++c.unsure_in_flight;
    c.wants_flush = true;
    return true;
  }

  // Reads a simple run's results (`c.simple()`). False when the connection is gone or closed.
  bool read_simple(std::list<std::unique_ptr<Connection>>::iterator it, TimePoint now) {
    Connection& c = **it;
    // Rows one by one, as read() takes them.
    while (!c.steps.empty() && (PQsetSingleRowMode(c.conn), !PQisBusy(c.conn))) {
      Step& s = c.steps.front();
      if (PGresult* r = PQgetResult(c.conn)) {
        const ExecStatusType status = PQresultStatus(r);
        const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        const std::string sqlstate = state ? state : "";
        if (status == PGRES_COPY_IN || status == PGRES_COPY_OUT || status == PGRES_COPY_BOTH) {
          PQclear(r);
          // No client is there to feed or read the copy: close the session rather than unwind it.
          s.error = kCopyNeedsClient;
          return finish_simple(it, now, /*close=*/true);
        }
        if (status == PGRES_SINGLE_TUPLE || status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
          if (s.phase == Step::Phase::statement) s.summary.add(r);
        } else if (status != PGRES_EMPTY_QUERY && !s.error) {
          s.cancelled = sqlstate == "57014";
          s.error = format_pg_error(PQresultErrorMessage(r), sqlstate);
        }
        PQclear(r);
        continue;
      }
      // The end of one query's results.
      if (PQstatus(c.conn) == CONNECTION_BAD) {
        lose(it, trimmed(PQerrorMessage(c.conn)), now);
        return false;
      }
      // The run's next query; when libpq refuses it, the connection is gone.
      const auto send_next = [&](const char* query) {
        if (PQsendQuery(c.conn, query)) {
          c.wants_flush = true;
          return true;
        }
        lose(it, trimmed(PQerrorMessage(c.conn)), now);
        return false;
      };
      if (s.phase == Step::Phase::timeout && !s.error) {
        s.phase = Step::Phase::statement;
        if (!send_next(s.statement.c_str())) return false;
      } else if (s.phase == Step::Phase::statement && PQtransactionStatus(c.conn) != PQTRANS_IDLE) {
        s.phase = Step::Phase::rollback;
        s.left_open = !s.error;
        if (!send_next("ROLLBACK")) return false;
      } else {
        // A failed SET or ROLLBACK leaves the session in a state the next run must not see.
        const bool close = s.phase != Step::Phase::statement && s.error.has_value();
        return finish_simple(it, now, close);
      }
    }
    return true;
  }

  // Reports the front simple run of `c` and takes the connection back into pipeline mode (its reset
  // follows in settle()); with `close`, or when that fails, closes it. False when closed.
  bool finish_simple(std::list<std::unique_ptr<Connection>>::iterator it, TimePoint now, bool close) {
    Connection& c = **it;
    Step s = std::move(c.steps.front());
    c.steps.pop_front();
    --c.runs_in_flight;
    --c.unsure_in_flight;
    c.idle_since = c.front_since = now;
    learn(s.key, now - s.sent_at);
    finish(s.id, result_of(s, now));
    if (close || !PQenterPipelineMode(c.conn)) {
      if (!close) spdlog::warn("owner session of role \"{}\": cannot go back to pipeline mode: {}; closing it", c.owner,
                               trimmed(PQerrorMessage(c.conn)));
      connections.erase(it);
      return false;
    }
    return true;
  }

  // A session that ran something and has nothing more to do is reset now, so nothing a run left
  // (a session advisory lock, a LISTEN, a temp table) outlives its burst while the session waits.
  // When libpq refuses, the connection is broken: it is closed (`it` erased; no run was in flight).
  void settle(std::list<std::unique_ptr<Connection>>::iterator it, TimePoint now) {
    Connection& c = **it;
    if (c.connecting || !c.dirty || !c.steps.empty() || c.retiring) return;
    if (!send_discard_all(c.conn) || !PQpipelineSync(c.conn)) {
      spdlog::warn("owner session of role \"{}\": cannot send its reset: {}; closing it", c.owner,
                   trimmed(PQerrorMessage(c.conn)));
      connections.erase(it);
      return;
    }
    c.front_since = now;
    c.steps.push_back(Step{.kind = Step::Kind::reset, .sent_at = now});
    c.dirty = false;
    c.wants_flush = true;
  }

  // Remembers how long a statement of `key`'s shape took (known_fast).
  void learn(const std::string& key, Duration took) {
    last_duration[key] = took;
    if (last_duration.size() > 100000) last_duration.clear();
  }

  // What a run's step collected, as its result.
  static OwnerStatementResult result_of(Step& s, TimePoint now) {
    OwnerStatementResult r;
    r.started_at = s.sent_at;
    r.finished_at = now;
    if (s.error) {
      r.outcome = s.cancelled ? OwnerStatementResult::Outcome::timed_out : OwnerStatementResult::Outcome::failed;
      r.error = s.cancelled ? "cancelled by the job's timeout: " + *s.error : *s.error;
    } else if (s.left_open) {
      r.outcome = OwnerStatementResult::Outcome::failed;
      r.error = kTransactionLeftOpen;
    } else {
      r.output = s.summary.text();
    }
    return r;
  }

  // Fails the runs in flight on `c` (its connection is gone) and closes it.
  void lose(std::list<std::unique_ptr<Connection>>::iterator it, const std::string& why, TimePoint now) {
    Connection& c = **it;
    for (const Step& s : c.steps) {
      if (s.kind != Step::Kind::statement && s.kind != Step::Kind::simple) continue;
      OwnerStatementResult r;
      r.outcome = OwnerStatementResult::Outcome::failed;
      r.error = "connection lost: " + why;
      r.started_at = s.sent_at;
      r.finished_at = now;
      finish(s.id, std::move(r));
    }
    connections.erase(it);
  }

  // Fails the runs of `owner` due by `now` with `why`, into `failed` (reported outside the lock).
  void fail_due(std::deque<Item>& queue, const std::string& why, TimePoint now,
                std::vector<std::pair<Item, std::string>>& failed) {
    while (!queue.empty() && queue.front().call.not_before <= now) {
      failed.emplace_back(std::move(queue.front()), why);
      queue.pop_front();
    }
  }

  // Opens connections ahead of a burst (runs are claimed up to 1 s before their instant): as many
  // as `owner`'s queued runs need (max_depth known-fast runs each, one run not known to be fast each;
  // the first 64 runs looked at), within the bound. Requires `mu`.
  void open_for(const std::string& owner, const std::deque<Item>& queue, TimePoint now) {
    size_t fast = 0, unsure = 0, looked = 0;
    for (auto it = queue.begin(); it != queue.end() && looked < 64; ++it, ++looked) {
      if (known_fast(it->key) && !it->simple) ++fast;
      else ++unsure;
    }
    fast += queue.size() - looked;
    // Owners with runs queued share the bound.
    const size_t share = std::max<size_t>(1, limits.max_open / std::max<size_t>(1, waiting.size()));
    const size_t wanted = std::min(share, (fast + limits.max_depth - 1) / limits.max_depth + unsure);
    auto [open, logging_in] = pool_of(owner);
    // A few logins at a time: the postmaster starts backends one after another and they share the
    // CPUs, so eight logins started together all end late (~90 ms here) and the first runs wait for
    // them; two at a time give the first session in ~15 ms, and the pool still grows to a burst within
    // its claim lead. The next ones start as these end (each login's end wakes the loop).
    while (open < wanted && logging_in < kConcurrentLogins) {
      if (!open_connection(owner, now)) return;
      ++open;
      ++logging_in;
    }
  }

  // Opens a session for each owner with a run expected within kLoginLead and none open; forgets the
  // expectations whose instant has come (their runs, if claimed, are in `waiting`). Requires `mu`.
  void open_for_expected(TimePoint now) {
    for (auto it = expected.begin(); it != expected.end();) {
      auto& [owner, runs] = *it;
      while (!runs.empty() && runs.begin()->first <= now) runs.erase(runs.begin());
      if (runs.empty()) {
        it = expected.erase(it);
        continue;
      }
      if (runs.begin()->first - kLoginLead <= now && open_of(owner) == 0 && !remembered_failure(owner, now))
        open_connection(owner, now);
      ++it;
    }
  }

  // True when `owner` has runs queued, or one expected within kLoginLead: its idle session is about
  // to be needed. Requires `mu`.
  bool needed_soon(const std::string& owner, TimePoint now) const {
    if (const auto q = waiting.find(owner); q != waiting.end() && !q->second.empty()) return true;
    const auto e = expected.find(owner);
    return e != expected.end() && !e->second.empty() && e->second.begin()->first - kLoginLead <= now;
  }

  // At the bound, with no idle connection to close, `starved` has none: the owner with the most
  // connections gives one up (it takes no more runs and closes when they end; trim() closes it).
  void retire_one_for(const std::string& starved) {
    std::map<std::string, size_t> open;
    for (const auto& c : connections) {
      if (c->retiring) return;  // one at a time
      if (c->owner != starved) ++open[c->owner];
    }
    auto richest = std::max_element(open.begin(), open.end(), [](auto& a, auto& b) { return a.second < b.second; });
    if (richest == open.end() || richest->second < 2) return;
    Connection* victim = nullptr;
    for (auto& c : connections)
      if (c->owner == richest->first && !c->connecting && (!victim || c->runs_in_flight < victim->runs_in_flight))
        victim = c.get();
    if (victim) victim->retiring = true;
  }

  // Sends due runs, one per owner per turn, round-robin over the owners.
  void dispatch(TimePoint now) {
    std::vector<std::pair<Item, std::string>> failed;
    {
      std::lock_guard lock(mu);
      open_for_expected(now);
      for (auto& [owner, queue] : waiting) {
        if (queue.empty() || remembered_failure(owner, now)) continue;
        open_for(owner, queue, now);
      }
      for (bool progress = true; progress && !waiting.empty();) {
        progress = false;
        std::vector<std::string> order;
        for (auto it = waiting.lower_bound(next_owner); it != waiting.end(); ++it) order.push_back(it->first);
        for (auto it = waiting.begin(); it != waiting.end() && it->first < next_owner; ++it) order.push_back(it->first);
        for (const std::string& owner : order) {
          std::deque<Item>& queue = waiting[owner];
          if (queue.empty() || queue.front().call.not_before > now) continue;
          // A refused login fails the owner's due runs only when no session of the owner is left to run
          // them: one refused beside open sessions (the role's CONNECTION LIMIT, the server's
          // max_connections) holds the pool at what it has until the refusal is forgotten.
          const std::optional<std::string> refused = remembered_failure(owner, now);
          if (refused && open_of(owner) == 0) {
            fail_due(queue, *refused, now, failed);
            continue;
          }
          Connection* c = queue.front().simple ? clean_connection(owner) : ready_connection(owner, now);
          if (!c) {
            if (refused) continue;  // the sessions it has take the runs as they free up
            const bool connecting = pool_of(owner).logging_in > 0;
            if (!connecting && open_of(owner) == 0 && !open_connection(owner, now) && !failures.count(owner))
              retire_one_for(owner);
            else if (!connecting && open_of(owner) > 0 && open_of(owner) < limits.max_open)
              open_connection(owner, now);
            // A login refused just now, with no session of the owner left, fails its due runs.
            if (auto why = remembered_failure(owner, now); why && open_of(owner) == 0) fail_due(queue, *why, now, failed);
            continue;
          }
          Item item = std::move(queue.front());
          queue.pop_front();
          const bool more_due = !queue.empty() && queue.front().call.not_before <= now;
          if (!(item.simple ? send_simple(*c, item, now) : send(*c, item, now, more_due)))
            failed.emplace_back(std::move(item), "connection lost: " + trimmed(PQerrorMessage(c->conn)));
          progress = true;
          next_owner = owner + std::string(1, '\0');
        }
        for (auto it = waiting.begin(); it != waiting.end();) it = it->second.empty() ? waiting.erase(it) : std::next(it);
      }
    }
    uncork_all();
    for (auto& [item, why] : failed) fail(item, why, now);
    // After the due runs went out: a session that got none is reset while it waits.
    for (auto it = connections.begin(); it != connections.end();) {
      auto next = std::next(it);
      settle(it, now);
      it = next;
    }
  }

  // Reads what arrived on `c`. False when the connection is gone (runs in flight already failed).
  bool read(std::list<std::unique_ptr<Connection>>::iterator it, TimePoint now) {
    Connection& c = **it;
    if (!PQconsumeInput(c.conn)) {
      lose(it, trimmed(PQerrorMessage(c.conn)), now);
      return false;
    }
    if (c.simple()) return read_simple(it, now);
    // Each query's rows one by one (a job's SELECT may return millions; the summary keeps 10): libpq
    // takes single-row mode for the query whose results come next, before any of them is parsed, and
    // refuses it (harmlessly) anywhere else. PQisBusy parses, so this goes before each call of it.
    while (!c.steps.empty() && (PQsetSingleRowMode(c.conn), !PQisBusy(c.conn))) {
      PGresult* r = PQgetResult(c.conn);
      Step& s = c.steps.front();
      if (!r) {
        if (s.between) break;  // nothing more buffered
        s.between = true;      // the end of one query's results
        ++s.query;
        continue;
      }
      s.between = false;
      const ExecStatusType status = PQresultStatus(r);
      if (status == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        complete(c, now);
        continue;
      }
      const bool resetting = s.kind == Step::Kind::reset || (s.lead_reset && s.query == 0);
      if (s.kind == Step::Kind::warm) {
        // The run that follows reports whatever is wrong with its statement.
      } else if (s.kind == Step::Kind::statement && !resetting) {
        switch (status) {
          case PGRES_SINGLE_TUPLE:
          case PGRES_TUPLES_OK:
          case PGRES_COMMAND_OK:
            s.summary.add(r);
            break;
          case PGRES_EMPTY_QUERY:
            break;
          default: {
            const char* state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
            const std::string sqlstate = state ? state : "";
            if (!s.error) {
              s.cancelled = sqlstate == "57014";
              s.error = format_pg_error(PQresultErrorMessage(r), sqlstate);
            }
          }
        }
      } else if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        // A reset (or SET) that failed leaves the session in a state the next run must not see.
        const char* msg = PQresultErrorMessage(r);
        spdlog::warn("owner session of role \"{}\": {} failed: {}; closing it", c.owner,
                     resetting ? "its reset (DISCARD ALL)" : "SET statement_timeout", trimmed(msg ? msg : ""));
        PQclear(r);
        lose(it, "the session's reset failed", now);
        return false;
      }
      PQclear(r);
    }
    // LISTENs are gone after DISCARD ALL; drop whatever notifications arrived before it.
    while (PGnotify* n = PQnotifies(c.conn)) PQfreemem(n);
    if (PQstatus(c.conn) == CONNECTION_BAD) {
      lose(it, trimmed(PQerrorMessage(c.conn)), now);
      return false;
    }
    return true;
  }

  // The front step's Sync arrived.
  void complete(Connection& c, TimePoint now) {
    Step s = std::move(c.steps.front());
    c.steps.pop_front();
    // What the server spent on this step: from when it could start on it (sent, and the step before it
    // done), not from when it was queued behind others; else a deep pipeline makes every statement in
    // it look slow, and a burst falls back to one run per connection.
    const Duration took = now - std::max(s.sent_at, c.front_since);
    c.front_since = now;
    if (c.steps.empty()) c.idle_since = now;
    if (s.kind != Step::Kind::statement) return;
    --c.runs_in_flight;
    c.unsure_in_flight -= !s.known_fast;
    learn(s.key, took);
    finish(s.id, result_of(s, now));
  }

  // A new session's first statement costs the server milliseconds more than the next ones (its
  // backend reads the catalogs of every table and function the statement names), and a burst
  // starts on several new sessions at once. A session that logs in ahead of its owner's next run
  // parses that run's statement now (Parse only: nothing is planned or executed, no session state is
  // left), so the run itself finds the caches warm. An error here is the run's to report later.
  void warm(Connection& c, TimePoint now) {
    std::string statement;
    int params = 0;
    {
      std::lock_guard lock(mu);
      const OwnerStatement* next = nullptr;
      if (const auto q = waiting.find(c.owner); q != waiting.end() && !q->second.empty()) next = &q->second.front().call;
      else if (const auto e = expected.find(c.owner); e != expected.end() && !e->second.empty())
        next = &e->second.begin()->second;
      if (!next || next->not_before <= now) return;
      statement = next->statement;
      params = static_cast<int>(next->params.size());
    }
    if (!PQsendPrepare(c.conn, "", statement.c_str(), params, nullptr) || !PQpipelineSync(c.conn)) return;
    if (c.steps.empty()) c.front_since = now;
    c.steps.push_back(Step{.kind = Step::Kind::warm, .sent_at = now});
    c.wants_flush = true;
  }

  // Advances a login. False when it failed (remembered for the owner) and the connection is closed.
  bool advance_login(std::list<std::unique_ptr<Connection>>::iterator it, TimePoint now) {
    Connection& c = **it;
    c.poll_wants = PQconnectPoll(c.conn);
    if (c.poll_wants == PGRES_POLLING_OK) {
      PQsetNoticeProcessor(c.conn, ignore_notice, nullptr);
      if (PQsetnonblocking(c.conn, 1) != 0 || !PQenterPipelineMode(c.conn)) {
        failures[c.owner] = LoginFailure{now, now + limits.login_backoff,
                                         "cannot use the session of role \"" + c.owner + "\" in pipeline mode: " +
                                             trimmed(PQerrorMessage(c.conn))};
        connections.erase(it);
        return false;
      }
      c.connecting = false;
      c.idle_since = now;
      sockaddr_storage addr{};
      socklen_t len = sizeof addr;
      c.tcp = getsockname(PQsocket(c.conn), reinterpret_cast<sockaddr*>(&addr), &len) == 0 &&
              (addr.ss_family == AF_INET || addr.ss_family == AF_INET6);
      warm(c, now);
      return true;
    }
    if (c.poll_wants == PGRES_POLLING_FAILED) {
      failures[c.owner] = LoginFailure{now, now + limits.login_backoff,
                                       owner_login_error_message(c.owner, trimmed(PQerrorMessage(c.conn)))};
      connections.erase(it);
      return false;
    }
    return true;
  }

  // Closes connections idle too long, and idle ones beyond max_idle (the longest idle first); not
  // an idle connection whose owner needs it soon (needed_soon), which would only log in again.
  void trim(TimePoint now) {
    std::lock_guard lock(mu);
    size_t idle = 0;
    for (auto it = connections.begin(); it != connections.end();) {
      Connection& c = **it;
      if (!c.connecting && c.steps.empty()) {
        if (c.retiring || (now - c.idle_since >= limits.idle_timeout && !needed_soon(c.owner, now))) {
          it = connections.erase(it);
          continue;
        }
        ++idle;
      }
      ++it;
    }
    while (idle > limits.max_idle) {
      auto victim = connections.end();
      for (auto it = connections.begin(); it != connections.end(); ++it)
        if (!(*it)->connecting && (*it)->steps.empty() && !needed_soon((*it)->owner, now) &&
            (victim == connections.end() || (*it)->idle_since < (*victim)->idle_since))
          victim = it;
      if (victim == connections.end()) break;
      connections.erase(victim);
      --idle;
    }
  }

  // When the loop must wake next without an event: the next run due, the idle timeout.
  Duration wait_for(TimePoint now) {
    Duration wait = std::chrono::seconds(1);
    std::lock_guard lock(mu);
    for (const auto& [owner, queue] : waiting) {
      if (queue.empty()) continue;
      const Duration left = queue.front().call.not_before - now;
      // A queue held back because its connections are busy or stalled is looked at again soon (a
      // result arriving wakes the poll before that); not at once, which would spin a CPU the
      // server's backends need.
      wait = std::min(wait, left > Duration::zero() ? left : limits.slow_after / 4);
    }
    // An expected run's login (open_for_expected); one whose lead has begun is looked at again on
    // the next wake-up, not in a loop.
    for (const auto& [owner, runs] : expected)
      if (!runs.empty())
        if (const Duration left = runs.begin()->first - kLoginLead - now; left > Duration::zero()) wait = std::min(wait, left);
    return wait;
  }

  // Runs in flight from which the thread is in a burst: it takes the default slice (a run of a
  // staggered schedule has one in flight, two when the next instant comes before the last result).
  static constexpr size_t kBurstInFlight = 4;

  void loop() {
    base::enter_start_thread("rowsched-sql");
    for (;;) {
      TimePoint now = clock();
      dispatch(now);
      trim(now);
      {
        std::lock_guard lock(mu);
        if (stopping && pending == 0) return;
      }
      std::vector<pollfd> fds;
      std::vector<std::list<std::unique_ptr<Connection>>::iterator> owners_of_fd;
      fds.push_back(pollfd{wake_fd, POLLIN, 0});
      size_t in_flight = 0;
      for (auto it = connections.begin(); it != connections.end(); ++it) {
        Connection& c = **it;
        in_flight += c.runs_in_flight;
        if (!c.connecting && c.wants_flush) c.wants_flush = PQflush(c.conn) == 1;
        short events = 0;
        if (c.connecting) events = c.poll_wants == PGRES_POLLING_READING ? POLLIN : POLLOUT;
        else events = static_cast<short>(POLLIN | (c.wants_flush ? POLLOUT : 0));
        fds.push_back(pollfd{PQsocket(c.conn), events, 0});
        owners_of_fd.push_back(it);
      }
      // The short slice but in a burst (base/start_priority.h).
      base::set_start_slice(in_flight < kBurstInFlight);
      const Duration wait = wait_for(now);
      const timespec ts = to_timespec(wait);
      if (ppoll(fds.data(), fds.size(), &ts, nullptr) < 0 && errno != EINTR) {
        spdlog::error("owner pipelines: poll failed: {}", std::strerror(errno));
      }
      now = clock();
      if (fds[0].revents & POLLIN) {
        uint64_t n;
        [[maybe_unused]] auto r = ::read(wake_fd, &n, sizeof n);
      }
      for (size_t i = 1; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto it = owners_of_fd[i - 1];
        Connection& c = **it;
        if (c.connecting) {
          advance_login(it, now);
          continue;
        }
        if (fds[i].revents & POLLOUT) c.wants_flush = PQflush(c.conn) == 1;
        if (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) read(it, now);
      }
    }
  }
};

OwnerPipelines::OwnerPipelines(std::string dsn, Limits limits, Clock clock, Done done) : impl_(std::make_unique<Impl>()) {
  impl_->dsn = std::move(dsn);
  impl_->limits = limits;
  impl_->clock = std::move(clock);
  impl_->done = std::move(done);
  impl_->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl_->wake_fd < 0) throw std::runtime_error(std::string("eventfd: ") + std::strerror(errno));
  impl_->thread = std::thread([impl = impl_.get()] { impl->loop(); });
}

OwnerPipelines::~OwnerPipelines() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopping = true;
  }
  impl_->wake();
  impl_->thread.join();
  impl_->connections.clear();
  close(impl_->wake_fd);
}

bool OwnerPipelines::can_pipeline(const std::string& statement) {
  // A `;` before the end may separate statements (or sit in a literal: then the blocking session
  // runs it, correct either way). COPY needs the simple protocol's handling; BEGIN would leave the
  // pipeline's next query inside a transaction.
  std::string_view s = statement;
  while (!s.empty() && (std::isspace(static_cast<unsigned char>(s.back())) || s.back() == ';')) s.remove_suffix(1);
  if (s.empty() || s.find(';') != std::string_view::npos) return false;
  const std::string lower = lowercase(s);
  if (lower.find("copy") != std::string::npos) return false;
  size_t first = 0;
  while (first < lower.size() && std::isspace(static_cast<unsigned char>(lower[first]))) ++first;
  for (const char* word : {"begin", "start", "commit", "end", "rollback", "abort", "prepare", "savepoint", "release"})
    if (lower.compare(first, std::strlen(word), word) == 0) return false;
  return true;
}

bool OwnerPipelines::can_run_simple(const std::string& statement) {
  return statement.find_first_not_of(" \t\r\n;") != std::string::npos && lowercase(statement).find("copy") == std::string::npos;
}

std::string OwnerPipelines::statement_shape(const std::string& statement) {
  std::string shape;
  shape.reserve(statement.size());
  for (size_t i = 0; i < statement.size();) {
    const char c = statement[i];
    if (c == '\'') {
      for (++i; i < statement.size(); ++i) {
        if (statement[i] != '\'') continue;
        if (i + 1 < statement.size() && statement[i + 1] == '\'') ++i;  // '' inside a literal
        else break;
      }
      ++i;
      shape += '?';
    } else if (std::isdigit(static_cast<unsigned char>(c)) &&
               (shape.empty() || !(std::isalnum(static_cast<unsigned char>(shape.back())) || shape.back() == '_'))) {
      while (i < statement.size() && (std::isdigit(static_cast<unsigned char>(statement[i])) || statement[i] == '.')) ++i;
      shape += '?';
    } else {
      shape += c;
      ++i;
    }
  }
  return shape;
}

void OwnerPipelines::submit(uint64_t id, OwnerStatement statement) {
  std::string key = Impl::key_of(statement);
  bool first;
  {
    std::lock_guard lock(impl_->mu);
    const std::string owner = statement.owner;
    auto& queue = impl_->waiting[owner];
    first = queue.empty();
    const bool simple = !can_pipeline(statement.statement);
    queue.push_back(Item{id, std::move(statement), std::move(key), simple});
    ++impl_->pending;
  }
  // The thread waits for the front run of each owner's queue: one behind it needs no wake-up (a
  // burst of 10,000 runs is not 10,000 system calls).
  if (first) impl_->wake();
}

void OwnerPipelines::expect(OwnerStatement statement) {
  const TimePoint now = impl_->clock();
  if (statement.not_before <= now) return;
  {
    std::lock_guard lock(impl_->mu);
    auto& runs = impl_->expected[statement.owner];
    const TimePoint at = statement.not_before;
    if (!runs.try_emplace(at, std::move(statement)).second) return;
    if (runs.size() > Impl::kMaxExpected) runs.erase(std::prev(runs.end()));
  }
  impl_->wake();  // to wait for its login's time
}

std::vector<uint64_t> OwnerPipelines::drain_unsent() {
  std::vector<uint64_t> ids;
  std::lock_guard lock(impl_->mu);
  for (auto& [owner, queue] : impl_->waiting)
    for (const Item& item : queue) ids.push_back(item.id);
  impl_->pending -= ids.size();
  impl_->waiting.clear();
  return ids;
}

size_t OwnerPipelines::pending() const {
  std::lock_guard lock(impl_->mu);
  return impl_->pending;
}

}  // namespace rowsched::store
