#include "daemon/scheduler_loop.h"

#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <array>
#include <map>
#include <thread>
#include <tuple>
#include <unordered_set>

#include <spdlog/spdlog.h>

#include "run/worker_func.h"
#include "store/dsn.h"
#include "store/migrations.h"
#include "store/pg_error.h"
#include "trigger/trigger.h"

namespace rowsched::daemon {

namespace {
using std::chrono::milliseconds;

Duration seconds_option(double s) { return std::chrono::duration_cast<Duration>(std::chrono::duration<double>(s)); }

// Thrown out of a long full reload when SIGTERM/SIGINT arrives (not a std::exception: no fault).
struct ShutdownDuringReload {};

std::string host_name() {
  char buf[256] = {0};
  gethostname(buf, sizeof buf - 1);
  return buf;
}
}  // namespace

SchedulerLoop::SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics)
    : options_(options),
      metrics_(metrics),
      dsn_(std::move(dsn)),
      host_(host_name()),
      instance_(options.instance.empty() ? host_ + "-" + std::to_string(getpid()) : options.instance),
      store_(dsn_, options.schema, instance_),
      schedule_(seconds_option(options.misfire_grace_time)),
      handlers_(make_handler_registry(options)),
      default_zone_(*find_zone(options.timezone)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  signal_fd_ = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (const char* id = std::getenv("ROWSCHED_TEST_THROW_ON_APPLY"); id && *id) throw_on_apply_ = id;
  process_started_ = now();
  writer_ = std::make_unique<Writer>(dsn_, options.schema, instance_);
  executor_ = std::make_unique<run::Executor>(
      options.workers, dsn_, handlers_, [this] { return now(); },
      [this](run::RunResult r) {
        bool first;
        {
          std::lock_guard lock(results_mu_);
          first = results_.empty();
          results_.push_back(std::move(r));
        }
        // One wake-up per batch: the loop takes every queued result when it wakes.
        if (first) {
          const uint64_t one = 1;
          [[maybe_unused]] auto n = write(wake_fd_, &one, sizeof one);
        }
      },
      static_cast<size_t>(options.owner_connections), options.max_owner_connections > 0 ? static_cast<size_t>(options.max_owner_connections) : run::Executor::default_max_owner_connections());
}

SchedulerLoop::~SchedulerLoop() {
  executor_.reset();
  writer_.reset();
  if (signal_fd_ >= 0) close(signal_fd_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

TimePoint SchedulerLoop::now() const { return std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()); }

int SchedulerLoop::run() {
  spdlog::info("rowsched {} starting: instance {}, schema {}, database {}, default time zone {}, {} workers",
               ROWSCHED_VERSION, instance_, options_.schema, store::redact_dsn(dsn_.empty() ? "(libpq defaults)" : dsn_),
               options_.timezone, options_.workers);
  while (!stopping_) {
    try {
      if (!store_.connected()) {
        connect_with_backoff();
        if (stopping_) break;
        check_schema();
        if (!started_) {
          // Runs still 'running' under our name were left by an earlier process of the same name.
          if (const int64_t n = store_.mark_own_runs_lost(); n > 0)
            spdlog::warn("marked {} runs lost that an earlier process named {} left running", n, instance_);
          started_ = true;
        }
        full_reload();
        heartbeat();  // registered before the first claim, so no survivor takes our runs for lost
        metrics_.readiness.set_ready();
        backoff_.succeeded(now());
        if (failing_) spdlog::info("reconnected to the database and reloaded every job after {} failed attempts", backoff_.failures());
        failing_ = false;
      }
      const TimePoint t = now();
      Duration timeout = milliseconds(1000);
      const auto wake_by = [&](TimePoint at) { timeout = std::min(timeout, std::max(Duration::zero(), at - t)); };
      horizon_ = lead_;
      if (auto wake = schedule_.next_wakeup()) {
        // Many fires due at one instant take longer to claim than the recent claims did: start earlier.
        // Counting stops where the lead would reach kMaxLead anyway.
        const auto enough = static_cast<size_t>(kMaxLead / std::max(Duration{1}, per_fire_claim_ * 3 / 2)) + 1;
        const auto burst = static_cast<int64_t>(schedule_.count_due(*wake, enough));
        if (burst > 1) horizon_ = std::clamp(std::max(lead_, per_fire_claim_ * burst * 3 / 2), kMinLead, kMaxLead);
        wake_by(*wake - horizon_);
      }
      wake_by(next_resync_);
      wake_by(next_heartbeat_);
      // Pruning keeps its own interval: tied to other wake-ups it would run just after each fire,
      // before the writer has recorded that fire's end, and leave one run too many in the history.
      wake_by(next_prune_);
      // Notifications libpq read while our last statements ran sit in its buffer, not on the socket:
      // take them before waiting, or they would wait for the next timeout.
      const bool changed = apply_notifications();
      if (!changed) wait_for_events(timeout);
      else check_signal();  // a stream of notifications must not keep the signal unread
      if (stopping_) break;
      apply_notifications();
      fire_due();
      record_results();
      metrics_.executor_queue_depth.set(static_cast<double>(executor_->busy()));
      metrics_.write_queue_depth.set(static_cast<double>(writer_->queued()));
      if (now() >= next_heartbeat_) heartbeat();
      if (now() >= next_resync_) resync();
      if (now() >= next_prune_) prune_history();
    } catch (const ShutdownDuringReload&) {
      break;
    } catch (const store::ConnectionLost& e) {
      back_off_after(e, "database connection lost");
    } catch (const std::exception& e) {
      // A failing statement (not a lost connection): start over from a clean connection and a full
      // reload rather than continue from a state we are unsure of; after a backoff, since whatever
      // failed may fail again at once (a missing table or GRANT).
      back_off_after(e, "scheduler loop error (reconnecting and reloading)");
    }
  }
  metrics_.readiness.set_not_ready("shutting down");
  shutdown();
  return 0;
}

void SchedulerLoop::wait_for_events(Duration timeout) {
  pollfd fds[3] = {{signal_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}, {store_.socket(), POLLIN, 0}};
  // ppoll's nanosecond timeout: a fire is not rounded up to the next millisecond.
  const auto secs = std::chrono::duration_cast<std::chrono::seconds>(timeout);
  const timespec ts{static_cast<time_t>(secs.count()), static_cast<long>((timeout - secs).count() * 1000)};
  ppoll(fds, store_.socket() >= 0 ? 3 : 2, &ts, nullptr);
  if (fds[0].revents & POLLIN) {
    signalfd_siginfo info;
    if (read(signal_fd_, &info, sizeof info) == sizeof info) {
      spdlog::info("received signal {}: shutting down", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
      stopping_ = true;
    }
  }
  if (fds[1].revents & POLLIN) {
    uint64_t n;
    [[maybe_unused]] auto r = read(wake_fd_, &n, sizeof n);
  }
}

void SchedulerLoop::connect_with_backoff() {
  while (!stopping_) {
    try {
      store_.connect();
      if (ever_connected_) metrics_.reconnects.inc();
      ever_connected_ = true;
      metrics_.readiness.set_not_ready("loading jobs");
      return;
    } catch (const std::exception& e) {
      back_off_after(e, "cannot connect to " + store::redact_dsn(dsn_.empty() ? "(libpq defaults)" : dsn_));
    }
  }
}

void SchedulerLoop::back_off_after(const std::exception& e, const std::string& context) {
  const std::string fault = context + ": " + store::describe_fault(e, fault_context());
  store_.disconnect();
  metrics_.readiness.set_not_ready(fault);
  const auto step = backoff_.failed(fault, now());
  failing_ = true;
  spdlog::warn("{}", step.log_line);
  sleep_unless_signalled(step.wait);
}

void SchedulerLoop::sleep_unless_signalled(Duration d) {
  const TimePoint until = now() + d;
  // Run results waking the loop must not cut the wait short: they go to the writer (its own
  // connection), and the wait goes on for the rest.
  for (TimePoint t = now(); !stopping_ && t < until; t = now()) {
    wait_for_events(until - t);
    record_results();
  }
}

void SchedulerLoop::check_signal() {
  signalfd_siginfo info;
  if (read(signal_fd_, &info, sizeof info) == sizeof info) {
    spdlog::info("received signal {}: shutting down", info.ssi_signo == SIGTERM ? "SIGTERM" : "SIGINT");
    stopping_ = true;
  }
}

store::FaultContext SchedulerLoop::fault_context() const { return {dsn_, options_.schema, store_.role()}; }

void SchedulerLoop::check_schema() {
  const auto applied = store_.applied_migrations();
  // Files run by hand with psql are not recorded (docs/sql-contract.md): nothing to compare with.
  if (!applied || applied->empty()) return;
  const std::set<std::string> have(applied->begin(), applied->end());
  std::vector<std::string> missing;
  for (const auto& m : store::embedded_migrations())
    if (have.count(m.name) == 0) missing.push_back(m.name);
  if (!missing.empty()) throw store::SchemaNotCurrent(store::schema_not_current_message(missing, fault_context()));
}

struct SchedulerLoop::LoadCache {
  // Past this many distinct entries a table stops growing: the rows do not repeat enough to pay.
  static constexpr size_t kMaxEntries = 10000;
  template <typename V>
  static bool room(const std::unordered_map<std::string, V>& m) { return m.size() < kMaxEntries; }

  std::unordered_map<std::string, std::shared_ptr<const std::string>> strings;  // func, owner
  struct Args {
    std::shared_ptr<const nlohmann::json> args;
    std::optional<std::string> problem;  // the handler's verdict on (func, args)
  };
  std::unordered_map<std::string, Args> args;  // by func '\0' func_args
  struct Spec {
    JobSpec spec;
    std::optional<std::string> problem;
    bool now_used = false;  // the parse depends on trigger_time (ParseContext::now_used)
  };
  // By trigger_kwargs; where the parse depended on trigger_time, by trigger_kwargs '\0' trigger_time.
  std::unordered_map<std::string, Spec> specs;

  // Holds a cache in `slot` for the lifetime of the scope, however the scope is left.
  struct Scope {
    Scope(std::unique_ptr<LoadCache>& slot, bool active) : slot_(slot) {
      if (active) slot_ = std::make_unique<LoadCache>();
    }
    ~Scope() { slot_.reset(); }
    Scope(const Scope&) = delete;
    Scope& operator=(const Scope&) = delete;

   private:
    std::unique_ptr<LoadCache>& slot_;
  };
};

void SchedulerLoop::full_reload() {
  const TimePoint started = now();
  schedule_.clear();
  known_.clear();
  // A write-back of the previous connection's state still queued may differ from the row: then
  // every row is written as before.
  const bool skip_unchanged = writer_->queued() == 0;
  size_t n = 0;
  {
    const LoadCache::Scope cache(load_cache_, true);
    size_t seen = 0;
    n = store_.load_all([&](store::JobRow&& row) {
                          apply_row_or_mark_invalid(row, skip_unchanged);
                          // A large table takes seconds to load: a signal must not wait for the end.
                          if (++seen % 4096 == 0 && (check_signal(), stopping_)) throw ShutdownDuringReload{};
                        },
                        [&](size_t estimate) {
                          known_.reserve(estimate);
                          schedule_.reserve(estimate);
                        });
  }
  metrics_.reloads.inc();
  count_jobs_by_state();
  std::array<int, kAllJobStates.size()> by_state{};
  for (const auto& [_, k] : known_) ++by_state[static_cast<size_t>(k.state)];
  const auto count = [&](JobState s) { return by_state[static_cast<size_t>(s)]; };
  spdlog::info("loaded {} jobs in {} ms: {} scheduled, {} paused, {} finished, {} invalid", n,
               (now() - started) / milliseconds(1), count(JobState::scheduled), count(JobState::paused),
               count(JobState::finished), count(JobState::invalid));
  for (const auto& [id, k] : known_)
    if (k.state == JobState::invalid) spdlog::warn("job {} is invalid: {}", id, k.error.value_or(""));
  next_resync_ = now() + seconds_option(options_.resync_interval);
  // The load's transient memory (rows, parse trees, the cursor's chunks) goes back to the system.
  malloc_trim(0);
}

void SchedulerLoop::reload(const std::vector<std::string>& job_ids) {
  if (job_ids.empty()) return;
  const auto rows = store_.load(job_ids);
  const bool skip_unchanged = writer_->queued() == 0;
  // Many rows at once (a bulk INSERT or UPDATE): share parses between them as a full load does.
  const LoadCache::Scope cache(load_cache_, rows.size() >= 100);
  const bool log_each = spdlog::should_log(spdlog::level::info);
  std::unordered_set<std::string_view> present;
  present.reserve(rows.size());
  for (const auto& row : rows) {
    present.insert(row.job_id);
    const auto old = known_.find(row.job_id);
    const bool is_new = old == known_.end();
    if (is_new || old->second.version != row.version)  // a change, not a repeated hint
      metrics_.change_pickup_seconds.observe(std::max(0.0, std::chrono::duration<double>(now() - row.update_time).count()));
    apply_row_or_mark_invalid(row, skip_unchanged);
    const KnownJob& k = known_[row.job_id];
    if (k.state == JobState::invalid)
      spdlog::warn("job {} {} (version {}): invalid: {}", row.job_id, is_new ? "added" : "changed", row.version, k.error.value_or(""));
    else if (log_each)
      spdlog::info("job {} {} (version {}): {}{}", row.job_id, is_new ? "added" : "changed", row.version,
                   to_sql(k.state),
                   schedule_.next_fire(row.job_id) ? ", next run " + format_rfc3339(*schedule_.next_fire(row.job_id)) : "");
  }
  for (const auto& id : job_ids) {
    if (present.count(id) == 0 && known_.count(id) != 0) {
      forget(id);
      spdlog::info("job {} deleted: unscheduled", id);
    }
  }
  count_jobs_by_state();
}

void SchedulerLoop::count_jobs_by_state() {
  std::array<int, kAllJobStates.size()> by_state{};
  for (const auto& [_, k] : known_) ++by_state[static_cast<size_t>(k.state)];
  // The loop never holds a pending job (it writes every row it sees back as one of the other four),
  // and the metrics have no pending series.
  for (JobState s : kAllJobStates)
    if (s != JobState::pending) metrics_.jobs(to_sql(s)).set(by_state[static_cast<size_t>(s)]);
}

void SchedulerLoop::forget(const std::string& job_id) {
  schedule_.remove(job_id);
  known_.erase(job_id);
}

namespace {
template <typename T, typename Make>
std::shared_ptr<const T> shared_value(std::unordered_map<std::string, std::shared_ptr<const T>>* cache, const std::string& key,
                                      Make&& make) {
  if (cache) {
    if (auto it = cache->find(key); it != cache->end()) return it->second;
  }
  auto v = std::make_shared<const T>(make());
  if (cache && cache->size() < 10000) cache->emplace(key, v);
  return v;
}
}  // namespace

void SchedulerLoop::apply_row(const store::JobRow& row, bool skip_unchanged) {
  LoadCache* cache = load_cache_.get();
  KnownJob k;
  k.version = row.version;
  k.version_hash = row.version_hash;
  k.func = Shared<std::string>(shared_value<std::string>(cache ? &cache->strings : nullptr, row.func, [&] { return row.func; }));
  k.owner = Shared<std::string>(shared_value<std::string>(cache ? &cache->strings : nullptr, row.owner, [&] { return row.owner; }));
  // The schedule holds only jobs known_ holds: only a job seen before can have an entry to drop.
  const auto [known, added] = known_.try_emplace(row.job_id);
  if (!added) schedule_.remove(row.job_id);
  if (throw_on_apply_ && row.job_id == *throw_on_apply_)
    throw std::length_error("test hook ROWSCHED_TEST_THROW_ON_APPLY names this job");

  // func_args parsed and checked once per distinct (func, func_args).
  LoadCache::Args args;
  std::string args_key;
  bool args_cached = false;
  if (cache) {
    args_key.reserve(row.func.size() + 1 + row.func_args.size());
    args_key.append(row.func).push_back('\0');
    args_key.append(row.func_args);
    if (auto it = cache->args.find(args_key); it != cache->args.end()) {
      args = it->second;
      args_cached = true;
    }
  }
  if (!args_cached) {
    args.args = std::make_shared<const nlohmann::json>(nlohmann::json::parse(row.func_args, nullptr, false));
    args.problem = handlers_.check(row.func, *args.args);
    if (cache && LoadCache::room(cache->args)) cache->args.emplace(std::move(args_key), args);
  }
  k.args = Shared<nlohmann::json>(args.args);
  std::optional<std::string> problem = args.problem;

  schedule::JobDefinition def;
  if (!problem) {
    // trigger_kwargs parsed once per distinct (trigger_kwargs, trigger_time): the result depends on
    // nothing else (the default zone is the loop's), and triggers are immutable, so jobs share them.
    std::string spec_key;
    const LoadCache::Spec* cached = nullptr;
    const auto add_time = [&](std::string& key) {
      const auto t = row.trigger_time.time_since_epoch().count();
      key.push_back('\0');
      key.append(reinterpret_cast<const char*>(&t), sizeof t);
    };
    if (cache) {
      // Most triggers do not depend on trigger_time (a cron, an interval with a start_date): one
      // entry serves every row with the same text. The others have one entry per instant too.
      spec_key = row.trigger_kwargs;
      auto it = cache->specs.find(spec_key);
      if (it != cache->specs.end() && it->second.now_used) {
        add_time(spec_key);
        it = cache->specs.find(spec_key);
      }
      if (it != cache->specs.end()) cached = &it->second;
    }
    if (cached) {
      if (cached->problem) problem = cached->problem;
      else def.spec = cached->spec;
    } else {
      ParseContext ctx{default_zone_, row.trigger_time};
      try {
        const auto kwargs = nlohmann::json::parse(row.trigger_kwargs, nullptr, false);
        // jsonb is always valid JSON; what nlohmann cannot read is a number beyond a double (1e400).
        if (kwargs.is_discarded()) throw TriggerError("trigger_kwargs: a number is out of range (largest allowed about 1.8e308)");
        def.spec = parse_trigger_kwargs(kwargs, ctx);
      } catch (const TriggerError& e) {
        problem = e.what();
      }
      if (cache && LoadCache::room(cache->specs)) {
        if (ctx.now_used && spec_key.size() == row.trigger_kwargs.size()) {
          // First seen: mark the text as time-dependent, and keep this parse under text and time.
          cache->specs.emplace(spec_key, LoadCache::Spec{{}, std::nullopt, true});
          add_time(spec_key);
        }
        cache->specs.emplace(std::move(spec_key), LoadCache::Spec{def.spec, problem, ctx.now_used});
      }
    }
  }
  std::optional<TimePoint> next;
  if (problem) {
    k.state = JobState::invalid;
    k.error = problem;
  } else {
    k.timeout = def.spec.options.timeout;
    k.max_instances = def.spec.options.max_instances;
    k.retries = def.spec.options.retries;
    k.retry_delay = def.spec.options.retry_delay;
    k.queue = !handlers_.find(row.func) && run::is_worker_func(row.func) ? def.spec.options.queue : std::string();
    k.grace = def.spec.options.misfire_grace_time ? *def.spec.options.misfire_grace_time
                                                  : std::optional<Duration>(seconds_option(options_.misfire_grace_time));
    def.job_id = row.job_id;
    def.version = row.version;
    def.defined_at = row.active_time;
    def.last_fire = row.last_fire;
    def.paused = row.is_paused;
    def.run_now_at = row.run_right_now_at;
    next = schedule_.upsert(std::move(def));
    k.state = row.is_paused ? JobState::paused : (next ? JobState::scheduled : JobState::finished);
  }
  const bool scheduled = k.state == JobState::scheduled;
  if (!scheduled) next = std::nullopt;
  // The row already holds what write_back would write (a restart with nothing changed): the UPDATE
  // would skip it too, so it is not queued.
  const bool unchanged = skip_unchanged && row.state == to_sql(k.state) && row.is_running == scheduled &&
                         row.next_run_time == next && (!(k.state == JobState::invalid) || row.last_error == k.error);
  known->second = std::move(k);
  if (!unchanged) write_back(row.job_id, known->second, next);
}

void SchedulerLoop::apply_row_or_mark_invalid(const store::JobRow& row, bool skip_unchanged) {
  try {
    apply_row(row, skip_unchanged);
  } catch (const std::exception& e) {
    schedule_.remove(row.job_id);
    KnownJob k;
    k.version = row.version;
    k.version_hash = row.version_hash;
    k.state = JobState::invalid;
    k.error = std::string("rowsched could not apply this row: ") + e.what();
    const KnownJob& stored = known_[row.job_id] = std::move(k);
    write_back(row.job_id, stored, std::nullopt);
  }
}

void SchedulerLoop::write_back(const std::string& job_id) {
  const KnownJob& k = known_.at(job_id);
  write_back(job_id, k, k.state == JobState::scheduled ? schedule_.next_fire(job_id) : std::nullopt);
}

void SchedulerLoop::write_back(const std::string& job_id, const KnownJob& k, std::optional<TimePoint> next) {
  store::JobStateUpdate u;
  u.job_id = job_id;
  u.version = k.version;
  u.state = to_sql(k.state);
  u.last_error = k.error;
  u.next_run_time = next;
  u.is_running = k.state == JobState::scheduled;
  writer_->update(std::move(u));
}

bool SchedulerLoop::apply_notifications() {
  const auto notes = store_.drain_notifications();
  if (notes.empty()) return false;
  metrics_.notifications.inc(static_cast<double>(notes.size()));
  std::set<std::string> ids;
  bool many = false;
  for (const auto& n : notes) {
    if (n.op == "truncate") {
      spdlog::info("job_info truncated: reloading everything");
      full_reload();
      return true;
    }
    many = many || n.many;
    if (!n.old_job_id.empty()) ids.insert(n.old_job_id);
    if (!n.job_id.empty()) ids.insert(n.job_id);
  }
  if (many) {
    // A statement changed more rows than its notification names: find them by comparing versions
    // (which also covers the named ones).
    resync(/*announced=*/true);
    return true;
  }
  reload(std::vector<std::string>(ids.begin(), ids.end()));
  return true;
}

void SchedulerLoop::fire_due() {
  const TimePoint t = now();
  auto due = schedule_.take_due(t, horizon_);
  if (due.empty()) return;
  std::vector<store::ClaimRequest> requests;
  std::set<std::string> touched;
  // When each fire may start (its jittered instant), by (job, scheduled_for, attempt).
  std::map<std::tuple<std::string_view, TimePoint, int>, TimePoint> start_at;
  for (const auto& f : due) {
    store::ClaimRequest c{f.job_id, f.scheduled_for, f.attempt, to_sql(RunStatus::running), f.kind == schedule::FireKind::run_now, 1, ""};
    if (auto it = known_.find(f.job_id); it != known_.end()) {
      c.max_instances = it->second.max_instances;
      if (!it->second.queue.empty()) {
        // A worker job: queued for its workers, who may take it from its (jittered) instant on and
        // must by the end of its misfire_grace_time.
        c.queue = it->second.queue;
        if (f.fire_at > t) c.not_before = f.fire_at;
        if (it->second.grace) c.take_by = f.fire_at + *it->second.grace;
      }
    }
    if (auto it = running_by_job_.find(f.job_id); it != running_by_job_.end()) c.own_running = it->second;
    start_at[{f.job_id, f.scheduled_for, f.attempt}] = f.fire_at;
    if (f.decision == schedule::FireDecision::missed) {
      c.status = to_sql(RunStatus::missed);
      const auto known = known_.find(f.job_id);
      c.note = fmt::format("missed: {:.1f} s late{}, misfire_grace_time is {:g} s",
                           std::chrono::duration<double>(t - f.fire_at).count(),
                           f.scheduled_for < process_started_ ? " at start-up" : "",
                           known == known_.end() || !known->second.grace
                               ? options_.misfire_grace_time
                               : std::chrono::duration<double>(*known->second.grace).count());
    } else if (f.decision == schedule::FireDecision::coalesced) {
      c.status = to_sql(RunStatus::skipped);
      c.note = "coalesced: a later fire of the same backlog ran instead";
    }
    requests.push_back(std::move(c));
    if (f.kind == schedule::FireKind::run_now) writer_->run_now_served(f.job_id, f.scheduled_for);
    touched.insert(f.job_id);
  }
  const auto claims = store_.claim(requests);
  // The claim's cost sets how far ahead the next fires are claimed.
  const Duration took = now() - t;
  claim_cost_ = std::max(took, claim_cost_ * 15 / 16);
  if (requests.size() >= 100) per_fire_claim_ = (per_fire_claim_ + took / static_cast<int64_t>(requests.size())) / 2;
  lead_ = std::clamp(claim_cost_ * 3 / 2, kMinLead, kMaxLead);
  metrics_.claim_lead_seconds.set(std::chrono::duration<double>(lead_).count());
  metrics_.claim_conflicts.inc(static_cast<double>(requests.size() - claims.size()));
  std::vector<store::FireOutcome> not_run;
  std::map<std::pair<std::string_view, TimePoint>, std::string_view> missed_notes;
  for (const auto& r : requests)
    if (r.status == to_sql(RunStatus::missed)) missed_notes.emplace(std::pair<std::string_view, TimePoint>{r.job_id, r.scheduled_for}, r.note);
  for (const auto& c : claims) {
    metrics_.fires(c.status == to_sql(RunStatus::running) ? "run" : c.status).inc();
    if (c.status == to_sql(RunStatus::queued)) {
      if (spdlog::should_log(spdlog::level::info))
        spdlog::info("job {}: run {} queued for {}{} on worker queue \"{}\"", c.job_id, c.run_id, format_rfc3339(c.scheduled_for),
                     c.attempt > 1 ? ", attempt " + std::to_string(c.attempt) : "",
                     known_.count(c.job_id) ? known_.at(c.job_id).queue : std::string());
      continue;
    }
    if (c.status != to_sql(RunStatus::running)) {
      std::optional<std::string> note;
      if (c.status == to_sql(RunStatus::missed))
        if (auto it = missed_notes.find({c.job_id, c.scheduled_for}); it != missed_notes.end()) note = std::string(it->second);
      spdlog::warn("job {}: fire for {} not run: {}", c.job_id, format_rfc3339(c.scheduled_for),
                   c.status == to_sql(RunStatus::missed) ? note.value_or("missed") : "skipped (coalesced, or max_instances already running)");
      not_run.push_back({c.job_id, c.status, std::move(note)});
      continue;
    }
    const auto it = known_.find(c.job_id);
    if (it == known_.end()) continue;
    run::RunRequest req{c.run_id, c.job_id, c.scheduled_for, c.attempt, it->second.func, it->second.args, it->second.owner,
                        it->second.timeout};
    if (auto at = start_at.find({c.job_id, c.scheduled_for, c.attempt}); at != start_at.end()) req.not_before = at->second;
    claimed_until_ = std::max(claimed_until_, req.not_before);
    ++running_by_job_[c.job_id];
    if (spdlog::should_log(spdlog::level::info))
      spdlog::info("job {}: run {} started for {}{} ({} ms late)", c.job_id, c.run_id, format_rfc3339(c.scheduled_for),
                   c.attempt > 1 ? ", attempt " + std::to_string(c.attempt) : "",
                   std::max(Duration::zero(), t - c.scheduled_for) / milliseconds(1));
    executor_->submit(std::move(req));
  }
  // The rows say what happened to these fires (rare: no cost on the path of fires that run).
  store_.record_fire_outcomes(not_run);
  bool finished_any = false;
  for (const auto& id : touched) {
    auto it = known_.find(id);
    if (it == known_.end()) continue;
    if (it->second.state == JobState::scheduled && !schedule_.next_fire(id)) {
      it->second.state = JobState::finished;
      finished_any = true;
    }
    write_back(id);
  }
  if (finished_any) count_jobs_by_state();
}

void SchedulerLoop::retry_if_asked(const std::string& job_id, TimePoint scheduled_for, int attempt) {
  auto it = known_.find(job_id);
  if (it == known_.end() || attempt > it->second.retries) return;
  const TimePoint at = now() + schedule::Schedule::retry_delay(it->second.retry_delay, attempt + 1);
  schedule_.schedule_retry(job_id, scheduled_for, attempt + 1, at);
  spdlog::info("job {}: attempt {} of the fire for {} at {}", job_id, attempt + 1, format_rfc3339(scheduled_for), format_rfc3339(at));
}

void SchedulerLoop::heartbeat() {
  store_.heartbeat(getpid(), host_);
  for (const auto& lost : store_.mark_lost_runs(seconds_option(options_.lost_after))) {
    spdlog::warn("job {}: run for {} (attempt {}) marked lost: its instance stopped heart-beating", lost.job_id,
                 format_rfc3339(lost.scheduled_for), lost.attempt);
    metrics_.runs(to_sql(RunStatus::lost)).inc();
    retry_if_asked(lost.job_id, lost.scheduled_for, lost.attempt);
  }
  sweep_worker_runs();
  report_worker_queues();
  next_heartbeat_ = now() + seconds_option(options_.heartbeat_interval);
}

void SchedulerLoop::sweep_worker_runs() {
  for (const auto& ended : store_.sweep_worker_runs(seconds_option(options_.lost_after))) {
    spdlog::warn("job {}: worker run for {} (attempt {}, queue \"{}\") {}: {}", ended.job_id, format_rfc3339(ended.scheduled_for),
                 ended.attempt, ended.queue, ended.status, ended.error.substr(0, 500));
    if (ended.status != to_sql(RunStatus::missed)) retry_if_asked(ended.job_id, ended.scheduled_for, ended.attempt);
  }
}

void SchedulerLoop::report_worker_queues() {
  std::set<std::string> seen;
  for (const auto& q : store_.worker_queues()) {
    metrics_.worker_queue("live_workers", q.queue).set(static_cast<double>(q.live_workers));
    metrics_.worker_queue("queued", q.queue).set(static_cast<double>(q.queued));
    metrics_.worker_queue("running", q.queue).set(static_cast<double>(q.running));
    metrics_.worker_queue("oldest", q.queue).set(q.oldest_queued_age_seconds);
    seen.insert(q.queue);
  }
  for (const auto& gone : reported_queues_)
    if (!seen.count(gone))
      for (const char* what : {"live_workers", "queued", "running", "oldest"}) metrics_.worker_queue(what, gone).set(0);
  reported_queues_.insert(seen.begin(), seen.end());
}

void SchedulerLoop::prune_history() {
  const auto max_age = std::chrono::duration_cast<Duration>(std::chrono::duration<double>(options_.history_max_age_days * 86400.0));
  const TimePoint started = now();
  const int64_t n = store_.prune_history(max_age, options_.history_per_job, static_cast<int>(prune_batch_));
  const Duration took = now() - started;
  // A pass that deleted all it was allowed to left rows behind: the next one comes sooner and larger,
  // so that pruning keeps up with any insert rate; once it does, batches shrink back.
  const bool behind = n >= prune_batch_;
  metrics_.registry.counter("rowsched_history_pruned_rows_total", "job_run rows deleted by history pruning").inc(static_cast<double>(n));
  metrics_.registry.gauge("rowsched_history_prune_behind", "1 when the last pruning pass deleted a full batch: more rows wait").set(behind ? 1.0 : 0.0);
  metrics_.registry.gauge("rowsched_history_prune_batch_rows", "Rows the next pruning pass may delete").set(
      static_cast<double>(behind ? std::min(prune_batch_ * 2, kMaxPruneBatch) : prune_batch_));
  metrics_.registry.gauge("rowsched_history_prune_seconds", "How long the last pruning pass took").set(
      std::chrono::duration<double>(took).count());
  if (n > 0) spdlog::info("pruned {} old job_run rows in {} ms{}", n, took / milliseconds(1), behind ? "; more wait" : "");
  if (behind) prune_batch_ = std::min(prune_batch_ * 2, kMaxPruneBatch);
  else if (n < prune_batch_ / 4) prune_batch_ = std::max(prune_batch_ / 2, kMinPruneBatch);
  next_prune_ = now() + (behind ? std::min(kPruneBehindInterval, seconds_option(options_.prune_interval))
                                : seconds_option(options_.prune_interval));
}

void SchedulerLoop::record_results() {
  std::vector<run::RunResult> results;
  {
    std::lock_guard lock(results_mu_);
    results.swap(results_);
  }
  if (results.empty()) return;
  for (auto& r : results) {
    const auto ms = (r.finished_at - r.started_at) / milliseconds(1);
    metrics_.runs(r.status).inc();
    if (r.request.attempt == 1)  // a retry's scheduled_for is its fire's, so its delay is not lateness
      metrics_.fire_lateness_seconds.observe(std::max(0.0, std::chrono::duration<double>(r.started_at - r.request.scheduled_for).count()));
    if (r.status == to_sql(RunStatus::succeeded))
      spdlog::info("job {}: run {} succeeded in {} ms", r.request.job_id, r.request.run_id, ms);
    else
      spdlog::warn("job {}: run {} {} after {} ms: {}", r.request.job_id, r.request.run_id, r.status, ms, r.error);
    if (auto it = running_by_job_.find(r.request.job_id); it != running_by_job_.end() && --it->second <= 0)
      running_by_job_.erase(it);
    if (r.status != to_sql(RunStatus::succeeded)) retry_if_asked(r.request.job_id, r.request.scheduled_for, r.request.attempt);
    writer_->record({r.request.run_id, r.request.job_id, r.status, r.started_at, r.finished_at, std::move(r.output), std::move(r.error)});
  }
}

void SchedulerLoop::resync(bool announced) {
  // Repairs anything a lost notification missed. First one aggregate over the table; only when its
  // fingerprint differs from ours is the (job_id, version) list read and compared.
  uint64_t sum = 0;
  for (const auto& [_, k] : known_) sum += k.version_hash;
  if (store_.version_fingerprint() == std::pair<int64_t, uint64_t>{static_cast<int64_t>(known_.size()), sum}) {
    next_resync_ = now() + seconds_option(options_.resync_interval);
    return;
  }
  const auto db = store_.versions();
  std::vector<std::string> stale;
  std::unordered_set<std::string_view> in_db;
  in_db.reserve(db.size());
  for (const auto& [id, version] : db) {
    in_db.insert(id);
    auto it = known_.find(id);
    if (it == known_.end() || it->second.version != version) stale.push_back(id);
  }
  for (const auto& [id, _] : known_)
    if (in_db.count(id) == 0) stale.push_back(id);
  if (announced)
    spdlog::info("a statement changed {} job_info rows (its notification gives the count, not the ids): re-reading them",
                 stale.size());
  else if (!stale.empty())
    spdlog::info("resync: {} jobs changed without a notification reaching us; re-reading them", stale.size());
  reload(stale);
  next_resync_ = now() + seconds_option(options_.resync_interval);
}

void SchedulerLoop::shutdown() {
  // Fires claimed ahead of their instant (at most kMaxLead) were promised to us: let them start.
  if (const Duration wait = claimed_until_ - now(); wait > Duration::zero())
    std::this_thread::sleep_for(std::min<Duration>(wait, kMaxLead));
  const TimePoint deadline = now() + seconds_option(options_.shutdown_timeout);
  const size_t busy = executor_->busy();
  const auto never_started = executor_->drain_queue();
  if (busy > 0) spdlog::info("waiting up to {} s for {} running jobs", options_.shutdown_timeout, busy - never_started.size());
  const bool idle = executor_->wait_idle_until(deadline);
  record_results();
  for (const auto& req : never_started)
    writer_->record({req.run_id, req.job_id, to_sql(RunStatus::failed), now(), now(), "", "rowsched shut down before this run started"});
  // The outcomes and write-backs still queued: at least a few seconds for them, even past the deadline;
  // but only one while the writer cannot reach the database (an outage must not hold up the exit).
  const TimePoint flush_by = writer_->failing() ? now() + std::chrono::seconds(1) : std::max(deadline, now() + std::chrono::seconds(5));
  if (!writer_->flush(flush_by))
    spdlog::warn("shutdown: {} run results and write-backs could not be written in time", writer_->queued());
  try {
    if (!store_.connected()) store_.connect();
    store_.clear_is_running_if_last(std::chrono::seconds(5));
    store_.deregister();
  } catch (const std::exception& e) {
    spdlog::warn("shutdown: could not record the final state: {}", store::format_pg_error(e));
  }
  if (!idle) {
    spdlog::warn("shutdown deadline passed with jobs still running; they stay 'running' in job_run");
    spdlog::shutdown();
    std::_Exit(0);  // the executor threads cannot be joined while a handler is still inside a run
  }
  spdlog::info("rowsched stopped");
}

}  // namespace rowsched::daemon
