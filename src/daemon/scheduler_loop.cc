#include "daemon/scheduler_loop.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include <spdlog/spdlog.h>

#include "daemon/claim_batch.h"
#include "daemon/cpu_wake_latency.h"
#include "daemon/schema_check.h"
#include "daemon/shutdown_sequence.h"
#include "store/dsn.h"
#include "store/fault.h"
#include "store/pg_error.h"

namespace rowsched::daemon {

namespace {
using std::chrono::milliseconds;

}  // namespace

SchedulerLoop::SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics)
    : SchedulerLoop(options, dsn, metrics, std::make_shared<const run::HandlerRegistry>(make_handler_registry(options)), {}) {}

SchedulerLoop::SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics, run::HandlerRegistry handlers, LoopParts parts)
    : SchedulerLoop(options, std::move(dsn), metrics, std::make_shared<const run::HandlerRegistry>(std::move(handlers)), std::move(parts)) {}

SchedulerLoop::SchedulerLoop(const Options& options, std::string dsn, Metrics& metrics,
                             std::shared_ptr<const run::HandlerRegistry> handlers, LoopParts parts)
    : options_(options),
      metrics_(metrics),
      dsn_(std::move(dsn)),
      handlers_(std::move(handlers)),
      // No parts given: the production ones (loop_parts.h).
      parts_(parts.store ? std::move(parts) : production_loop_parts(options, dsn_, *handlers_)),
      clock_(parts_.clock),
      store_(parts_.store.get()),
      writer_(parts_.writer.get()),
      runs_(parts_.runs.get()),
      waiter_(parts_.waiter.get()),
      schedule_(from_seconds(options.misfire_grace_time)),
      parser_(*handlers_, *find_zone(options.timezone), from_seconds(options.misfire_grace_time), parts_.throw_on_apply),
      rows_(jobs_, schedule_, parser_, *writer_, metrics, clock_),
      endings_(jobs_, schedule_, *writer_, metrics, clock_),
      queue_gauges_(metrics),
      backoff_(parts_.jitter ? Backoff({}, parts_.jitter) : Backoff()),
      process_started_(clock_()) {}

// The writer goes first (its thread asks the runs whether they are busy), then the runs: their
// threads report into the waiter and read the handlers.
SchedulerLoop::~SchedulerLoop() {
  pruner_.reset();
  parts_.writer.reset();
  parts_.runs.reset();
}

int SchedulerLoop::run() {
  spdlog::info("rowsched {} starting: instance {}, schema {}, database {}, default time zone {}, {} workers", ROWSCHED_VERSION,
               parts_.instance, options_.schema, store::redact_dsn(dsn_.empty() ? "(libpq defaults)" : dsn_), options_.timezone,
               options_.workers);
  while (!stopping_) {
    const Duration wait = runs_->sleeping(tick(clock_()));
    // A zero wait still looks for a signal: a stream of notifications must not keep it unread.
    if (!stopping_ && waiter_->wait(wait, store_->socket())) stopping_ = true;
  }
  return shutdown();
}

Duration SchedulerLoop::tick(TimePoint now) {
  const Duration wait = pass(now);
  hold_cpu_wake(clock_());
  return wait;
}

void SchedulerLoop::hold_cpu_wake(TimePoint now) {
  if (!parts_.hold_cpu_wake) return;
  bool want = claimed_until_ >= now;
  if (!want && !stopping_ && store_->connected()) {
    const auto next = schedule_.next_wakeup();
    want = next && *next - now <= CpuWakeLatency::kHoldAhead;
  }
  set_cpu_wake(want);
}

void SchedulerLoop::set_cpu_wake(bool want) {
  if (!parts_.hold_cpu_wake || want == cpu_wake_held_) return;
  cpu_wake_held_ = want;
  parts_.hold_cpu_wake(want);
}

Duration SchedulerLoop::pass(TimePoint now) {
  try {
    record_results();  // also while disconnected: the outcomes go to the writer's own connection
    if (!store_->connected()) {
      if (now < retry_at_) return retry_at_ - now;
      if (!connect()) return std::max(Duration::zero(), retry_at_ - clock_());
      start_over();
    }
    apply_notifications();
    const bool claimed = fire_due(clock_());
    record_results();
    metrics_.executor_queue_depth.set(static_cast<double>(runs_->busy()));
    metrics_.write_queue_depth.set(static_cast<double>(writer_->queued()));
    const bool beat = housekeeping_now(clock_(), claimed, next_heartbeat_);
    const bool sync = housekeeping_now(clock_(), claimed, next_resync_);
    if (beat || sync) {
      // The fires due while they run are claimed first, by what they took last time (a resync of
      // 100,000 jobs takes 25 ms, the time between two claims of a dense schedule).
      claim_ahead_of((beat ? heartbeat_took_ : Duration::zero()) + (sync ? resync_took_ : Duration::zero()));
      if (beat) heartbeat_took_ = timed([this] { heartbeat(); });
      if (sync) resync_took_ = timed([this] { resync(); });
    }
    // Notifications libpq read while these statements ran sit in its buffer, not on the socket:
    // take them before waiting, or they would wait for the next timeout.
    if (apply_notifications()) return Duration::zero();
    return until_next_deadline(clock_());
  } catch (const ReloadInterrupted&) {
    stopping_ = true;
    return Duration::zero();
  } catch (const store::ConnectionLost& e) {
    back_off_after(e, "database connection lost");
  } catch (const std::exception& e) {
    // A failing statement (not a lost connection): start over from a clean connection and a full
    // reload rather than continue from a state we are unsure of; after a backoff, since whatever
    // failed may fail again at once (a missing table or GRANT).
    back_off_after(e, "scheduler loop error (reconnecting and reloading)");
  }
  return std::max(Duration::zero(), retry_at_ - clock_());
}

Duration SchedulerLoop::until_next_deadline(TimePoint now) {
  TimePoint next = now + milliseconds(1000);
  horizon_ = lead_.lead();
  if (auto wake = schedule_.next_wakeup()) {
    horizon_ = lead_.horizon(static_cast<int64_t>(schedule_.count_due(*wake, lead_.burst_worth_counting())));
    next = std::min(next, *wake - horizon_);
    // The loop sleeps before it claims them: the runs may get ready meanwhile (an owner's session
    // logs in ahead; docs/decisions.md). Once per instant.
    if (*wake != expected_at_ && *wake - now > horizon_) {
      expected_at_ = *wake;
      expect_fires(*wake);
    }
  }
  // Housekeeping due just before a claim waits for it: the claim's wake-up comes first, and
  // housekeeping_now() lets it run right after (at the latest when it is kHousekeepingSlip late).
  const TimePoint housekeeping = std::min(next_resync_, next_heartbeat_);
  const auto claim = next_claim_at();
  if (claim && *claim <= std::max(housekeeping, now) + kHousekeepingRoom)
    next = std::min({next, *claim, housekeeping + kHousekeepingSlip});
  else
    next = std::min(next, housekeeping);
  return std::max(Duration::zero(), next - now);
}

std::optional<TimePoint> SchedulerLoop::next_claim_at() {
  const auto wake = schedule_.next_wakeup();
  if (!wake) return std::nullopt;
  return *wake - horizon_;
}

bool SchedulerLoop::housekeeping_now(TimePoint now, bool claimed, TimePoint due) {
  if (now < due) return false;
  if (claimed || now - due >= kHousekeepingSlip) return true;
  const auto claim = next_claim_at();
  return !claim || *claim > now + kHousekeepingRoom;
}

void SchedulerLoop::expect_fires(TimePoint at) {
  // A few jobs are enough: a burst of kWarmBurst or more is claimed kWarmLead ahead, and its runs
  // open the sessions they need then.
  constexpr size_t kExpectJobs = 16;
  for (const std::string& id : schedule_.jobs_due(at, kExpectJobs)) {
    const KnownJob* job = jobs_.find(id);
    if (!job) continue;
    run::RunRequest req{0, id, at, 1, job->func, job->args, job->owner, job->timeout};
    req.not_before = at;
    runs_->expect(req);
  }
}

bool SchedulerLoop::connect() {
  try {
    store_->connect();
  } catch (const std::exception& e) {
    back_off_after(e, "cannot connect to " + store::redact_dsn(dsn_.empty() ? "(libpq defaults)" : dsn_));
    return false;
  }
  if (ever_connected_) metrics_.reconnects.inc();
  ever_connected_ = true;
  metrics_.readiness.set_not_ready("loading jobs");
  return true;
}

void SchedulerLoop::start_over() {
  check_schema_current(*store_, {dsn_, options_.schema, store_->role()});
  if (!started_) {
    // Runs still 'running' under our name were left by an earlier process of the same name.
    if (const int64_t n = store_->mark_own_runs_lost(); n > 0)
      spdlog::warn("marked {} runs lost that an earlier process named {} left running", n, parts_.instance);
    started_ = true;
    // Pruning starts once the schema is known to be there, and goes on through the loop's reconnects.
    if (parts_.pruner) pruner_ = parts_.pruner(metrics_);
  }
  full_reload();
  heartbeat_took_ = timed([this] { heartbeat(); });  // registered before the first claim, so no survivor takes our runs for lost
  // What a resync's first statement costs, for the claim ahead of the first resync (see tick()), and
  // what reading every version costs, for the claim ahead of the first bulk INSERT's or DELETE's
  // comparison.
  resync_took_ = timed([this] { store_->version_fingerprint(); });
  announced_took_ = resync_took_ + timed([this] { store_->versions(); });
  metrics_.readiness.set_ready();
  backoff_.succeeded(clock_());
  if (failing_) spdlog::info("reconnected to the database and reloaded every job after {} failed attempts", backoff_.failures());
  failing_ = false;
}

void SchedulerLoop::back_off_after(const std::exception& e, const std::string& context) {
  const std::string fault = context + ": " + store::describe_fault(e, {dsn_, options_.schema, store_->role()});
  store_->disconnect();
  metrics_.readiness.set_not_ready(fault);
  const auto step = backoff_.failed(fault, clock_());
  failing_ = true;
  spdlog::warn("{}", step.log_line);
  retry_at_ = clock_() + step.wait;
}

void SchedulerLoop::full_reload() {
  // A large table takes seconds to load: a signal must not wait for the end.
  const Duration took = timed([this] { rows_.full_reload(*store_, [this] { return waiter_->wait(Duration::zero(), -1); }); });
  row_took_ = took / static_cast<int64_t>(std::max<size_t>(1, jobs_.size()));
  writer_->hurry();
  next_resync_ = clock_() + from_seconds(options_.resync_interval);
}

bool SchedulerLoop::apply_notifications() {
  const auto notes = store_->drain_notifications();
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
  // A statement changed more rows than its notification names: find them by comparing versions
  // (which also covers the named ones).
  if (many) {
    // The comparison reads every (job_id, version): 250 ms at 100,000 jobs, which held back the claims
    // due meanwhile. The fires due within what the last one took, plus half, are claimed first, as
    // before a periodic resync: the claim refuses a fire of a job the statement deleted, and returns
    // one of a job it changed (sql/definitions/70_claim.sql), which is decided again once re-read.
    claim_ahead_of(announced_took_);
    resync(/*announced=*/true);
  } else if (ids.size() > kClaimBetweenFrom) {
    // An UPDATE notifies row by row: one of 10,000 rows is re-read in chunks, the claims due going
    // between them, as the rows a comparison finds.
    reload_in_chunks(std::vector<std::string>(ids.begin(), ids.end()), /*claim_first=*/true);
  } else {
    rows_.reload(*store_, std::vector<std::string>(ids.begin(), ids.end()));
  }
  // The user who committed the change is waiting for its next_run_time: no gathering.
  writer_->hurry();
  return true;
}

void SchedulerLoop::claim_ahead_of(Duration expected) {
  // The runs that ended meanwhile first: between the chunks of a long re-read, a job whose last run the
  // loop had not yet seen end had its next fire skipped for max_instances (900 of 1,000 jobs at 1 Hz
  // lost a fire to an UPDATE of 50,000 rows).
  record_results();
  fire_due(clock_(), std::min({expected * 3 / 2, kMaxClaimAhead, ClaimLead::kMaxBurstLead - horizon_}));
}

Duration SchedulerLoop::timed(const std::function<void()>& work) {
  const TimePoint start = clock_();
  work();
  return clock_() - start;
}

bool SchedulerLoop::fire_due(TimePoint now, Duration ahead) {
  // Only once the next fire is within the horizon; then the window after it comes along. Ticks woken
  // by other events (run outcomes, notifications) claim nothing: each claiming the one or two fires
  // that had just come within reach made a claim per fire (docs/decisions.md).
  const auto wake = schedule_.next_wakeup();
  if (!wake || *wake > now + horizon_ + ahead) return false;
  auto due = schedule_.take_due(now, ClaimLead::reach(horizon_ + ahead));
  if (due.empty()) return false;
  ClaimBatch batch(now, process_started_, options_.misfire_grace_time);
  std::set<std::string> touched;
  for (const auto& f : due) {
    batch.add(f, jobs_.find(f.job_id), endings_.running(f.job_id));
    touched.insert(f.job_id);
  }
  const auto claims = store_->claim(batch.requests());
  const FireKeys changed = redecide_changed(claims, due);
  // A run_right_now request is served once claimed, by this instance or another; one refused because
  // its job changed meanwhile stays in the row, and comes back with the row's new version.
  for (const auto& f : due)
    if (f.kind == schedule::FireKind::run_now && !changed.count({f.job_id, f.scheduled_for, f.attempt}))
      writer_->run_now_served(f.job_id, f.scheduled_for);
  // The claim's cost sets how far ahead the next fires are claimed.
  lead_.claimed(batch.requests().size(), clock_() - now);
  metrics_.claim_lead_seconds.set(std::chrono::duration<double>(lead_.lead()).count());
  // Fires refused because their job changed come back (as changed) and are not conflicts: each is asked for again.
  metrics_.claim_conflicts.inc(static_cast<double>(batch.requests().size() - claims.size()));
  std::vector<store::FireOutcome> not_run;
  for (const auto& c : claims) {
    if (c.status == store::kChanged) continue;
    metrics_.fires(c.status == to_sql(RunStatus::running) ? "run" : c.status).inc();
    const KnownJob* job = jobs_.find(c.job_id);
    const std::string attempt = c.attempt > 1 ? ", attempt " + std::to_string(c.attempt) : "";
    if (c.status == to_sql(RunStatus::queued)) {
      if (spdlog::should_log(spdlog::level::info))
        spdlog::info("job {}: run {} queued for {}{} on worker queue \"{}\"", c.job_id, c.run_id, format_rfc3339(c.scheduled_for),
                     attempt, job ? job->queue : std::string());
      continue;
    }
    if (c.status != to_sql(RunStatus::running)) {
      std::optional<std::string> note = c.status == to_sql(RunStatus::missed) ? batch.missed_note(c) : std::nullopt;
      spdlog::warn("job {}: fire for {} not run: {}", c.job_id, format_rfc3339(c.scheduled_for),
                   c.status == to_sql(RunStatus::missed) ? note.value_or("missed") : "skipped (coalesced, or max_instances already running)");
      not_run.push_back({c.job_id, c.status, std::move(note)});
      continue;
    }
    if (!job) continue;
    run::RunRequest req{c.run_id, c.job_id, c.scheduled_for, c.attempt, job->func, job->args, job->owner, job->timeout};
    if (const auto at = batch.start_at(c)) req.not_before = *at;
    claimed_until_ = std::max(claimed_until_, req.not_before);
    endings_.started(c.job_id);
    if (spdlog::should_log(spdlog::level::info))
      spdlog::info("job {}: run {} started for {}{} ({} ms late)", c.job_id, c.run_id, format_rfc3339(c.scheduled_for), attempt,
                   std::max(Duration::zero(), now - c.scheduled_for) / milliseconds(1));
    runs_->submit(std::move(req));
  }
  // The rows say what happened to these fires (rare: no cost on the path of fires that run).
  for (auto& o : not_run) writer_->fire_outcome(std::move(o));
  bool finished_any = false;
  for (const auto& id : touched) {
    KnownJob* k = jobs_.find(id);
    if (!k) continue;
    const auto next = k->state == JobState::scheduled ? schedule_.next_fire(id) : std::nullopt;
    if (k->state == JobState::scheduled && !next) {
      k->state = JobState::finished;
      finished_any = true;
    }
    rows_.write_back(id, *k, next);
  }
  if (finished_any) rows_.publish_counts();
  return true;
}

void SchedulerLoop::reload_in_chunks(const std::vector<std::string>& ids, bool claim_first) {
  // Read and applied kReloadChunk rows at a time, the fires due within what the last chunk took (the
  // first: what a row took in the last full load), plus half, claimed before each: a bulk statement
  // over thousands of jobs holds back no claim. A fire of a job not re-read yet is asked for under
  // the version the loop knows, and the claim refuses it if the statement changed the row.
  Duration chunk_took = row_took_ * static_cast<int64_t>(std::min(ids.size(), kReloadChunk));
  for (size_t i = 0; i < ids.size(); i += kReloadChunk) {
    if (i > 0 || claim_first) claim_ahead_of(chunk_took);
    const auto begin = ids.begin() + static_cast<std::ptrdiff_t>(i);
    const auto end = ids.begin() + static_cast<std::ptrdiff_t>(std::min(ids.size(), i + kReloadChunk));
    chunk_took = timed([&] { rows_.reload(*store_, std::vector<std::string>(begin, end)); });
  }
}

SchedulerLoop::FireKeys SchedulerLoop::redecide_changed(const std::vector<store::Claim>& claims,
                                                        const std::vector<schedule::DueFire>& due) {
  FireKeys changed;
  for (const auto& c : claims) {
    if (c.status != store::kChanged) continue;
    changed.insert({c.job_id, c.scheduled_for, c.attempt});
    if (spdlog::should_log(spdlog::level::info))
      spdlog::info("job {}: fire for {} not claimed: the row changed since rowsched read it; the fire is decided again under the new version",
                   c.job_id, format_rfc3339(c.scheduled_for));
  }
  if (changed.empty()) return changed;
  // A retry is held only here: put back, to be claimed under the new version.
  for (const auto& f : due)
    if (f.kind == schedule::FireKind::retry && changed.count({f.job_id, f.scheduled_for, f.attempt}))
      schedule_.schedule_retry(f.job_id, f.scheduled_for, f.attempt, std::max(f.fire_at, clock_() + kChangedRetryAfter));
  // The rows are re-read now, not when their notifications come (a bulk statement's may wait behind
  // a re-read of thousands): a fire of the schedule and a run_right_now request come back from the row
  // as it now is (Schedule::upsert), and the retry is asked for under its new version.
  std::set<std::string> ids;
  for (const auto& [id, at, attempt] : changed) ids.insert(id);
  rows_.reload(*store_, std::vector<std::string>(ids.begin(), ids.end()));
  return changed;
}

void SchedulerLoop::heartbeat() {
  store_->heartbeat(getpid(), parts_.host);
  const Duration lost_after = from_seconds(options_.lost_after);
  const bool unregistered_too = clock_() >= next_unregistered_;
  // Both count ended runs into job_info rows; one that another transaction holds (a user's UPDATE not
  // yet committed) leaves the work to a later heartbeat instead of holding the claims up.
  try {
    endings_.lost(store_->mark_lost_runs(lost_after, unregistered_too));
    if (unregistered_too) next_unregistered_ = clock_() + kUnregisteredEvery;
    // Ends the worker runs nobody will end and retries the ones that ended badly (sql/010_workers.sql).
    endings_.worker_runs_ended(store_->sweep_worker_runs(lost_after));
    if (held_heartbeats_ > 0) spdlog::info("heartbeat: the held job_info row was released after {} heartbeats", held_heartbeats_);
    held_heartbeats_ = 0;
  } catch (const store::RowsLocked& e) {
    // A user's transaction can hold a row for minutes: a line at the first heartbeat and every 20th.
    if (++held_heartbeats_ == 1 || held_heartbeats_ % 20 == 0)
      spdlog::warn("heartbeat: a job_info row is held by another transaction (an UPDATE or DELETE of job_info not yet committed; "
                   "{} heartbeats in a row); runs left by a stopped instance or a worker are ended at a later heartbeat: {}",
                   held_heartbeats_, store::format_pg_error(e));
  }
  queue_gauges_.report(store_->worker_queues());
  next_heartbeat_ = clock_() + from_seconds(options_.heartbeat_interval);
}

void SchedulerLoop::record_results() { endings_.finished(runs_->take_finished()); }

void SchedulerLoop::resync(bool announced) {
  // Repairs anything a lost notification missed. First one aggregate over the table; only when its
  // fingerprint differs from ours is the (job_id, version) list read and compared.
  const TimePoint start = clock_();
  if (store_->version_fingerprint() != jobs_.fingerprint()) {
    const auto stale = jobs_.differing(store_->versions());
    if (announced) {
      announced_took_ = clock_() - start;
      spdlog::info("a statement changed {} job_info rows (its notification gives the count, not the ids): re-reading them", stale.size());
    } else if (!stale.empty()) {
      spdlog::info("resync: {} jobs changed without a notification reaching us; re-reading them", stale.size());
    }
    reload_in_chunks(stale, /*claim_first=*/announced);
  }
  next_resync_ = clock_() + from_seconds(options_.resync_interval);
}

int SchedulerLoop::shutdown() {
  metrics_.readiness.set_not_ready("shutting down");
  pruner_.reset();  // a pass under way is cancelled
  // The fires claimed before SIGTERM still start at their instants: the CPU wake-up request is dropped
  // after the last of them, not held while running runs finish.
  return ShutdownSequence{*runs_, *writer_, *store_, *waiter_, clock_, [this] { record_results(); },
                          from_seconds(options_.shutdown_timeout), [this] { set_cpu_wake(false); }}
      .run(claimed_until_);
}

}  // namespace rowsched::daemon
