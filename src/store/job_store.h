// Everything the scheduler loop asks of PostgreSQL on its one control connection: LISTEN for
// job_info changes, (re)load rows, compare versions, claim fires in job_run, write state back into
// job_info, record run outcomes, and keep this instance's scheduler_instance row alive.
//
// Every batch operation is one statement whatever its size (rows travel as one array parameter per
// column and are expanded with unnest), so a tick with 1,000 due fires is one round trip. The work
// is done by one class per concept (job_listener, job_reader, fire_claimer, bookkeeping_writer,
// instance_registry, run_history), over the statements in src/store/statements/.
//
// Thread safety: none; one JobStore per scheduler loop. Methods throw pqxx-independent exceptions:
// ConnectionLost when the connection broke (reconnect and reload), std::runtime_error otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/worker_queues.h"
#include "base/time.h"

namespace rowsched::store {

class ConnectionLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A statement of the writer's session (or the heartbeat's counting of ended runs) waited
// kWriterLockWait for a row another transaction holds (lock_not_available): it was rolled back, and
// the session is fine. Nothing of it was written.
class RowsLocked : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How long the writer's statements wait for a row lock (its session's lock_timeout). A user's UPDATE
// or DELETE of many job_info rows locks them in its own order while the writer's bookkeeping locks
// the rows of its batch: each can come to wait for a row the other holds, and PostgreSQL then ends one
// of them after deadlock_timeout (1 s), often the user's, whose statement failed with "deadlock
// detected". Giving up first, the writer never closes such a cycle; it writes the batch again.
inline constexpr std::chrono::milliseconds kWriterLockWait{50};

// The definition columns of one job_info row, plus the newest fire already claimed for it and what
// rowsched last wrote back into it.
struct JobRow {
  std::string job_id;
  std::string func;
  std::string func_args;       // jsonb as text (an array)
  std::string trigger_kwargs;  // jsonb as text (an object)
  bool is_paused = false;
  bool run_right_now = false;
  std::optional<TimePoint> run_right_now_at;  // the identity of a pending run_right_now request
  std::string owner;
  int64_t version = 0;
  TimePoint update_time{};
  TimePoint trigger_time{};  // when trigger_kwargs was last set: the schedule's "now"
  TimePoint active_time{};   // when the job last became schedulable (set, or resumed)
  uint64_t version_hash = 0;  // hash of (job_id, version): summed, it fingerprints the whole table
  std::optional<TimePoint> last_fire;  // the newest fire of the job's schedule claimed in job_run, if any
  // The row's written-back columns as read: a write-back that would change none of them is skipped.
  std::optional<TimePoint> next_run_time;
  std::string state;
  std::optional<std::string> last_error;
  bool is_running = false;
};

// A change announced by the job_info triggers. Only a hint: the row is re-read.
struct Notification {
  std::string op;  // insert, update, delete, truncate
  std::string job_id;
  std::string old_job_id;  // set when an update renamed the job
  // A statement changed more rows than one notification names: compare the whole table.
  bool many = false;
};

// One fire to claim. A `running` request becomes `skipped` in the claim when max_instances runs of
// the job are already running, counted across all instances: other instances' from job_run, this
// instance's from `own_running` (its job_run rows may still say running for runs that have ended
// and whose outcome the writer has not yet written).
struct ClaimRequest {
  std::string job_id;
  TimePoint scheduled_for;
  int attempt = 1;
  std::string status;  // running, missed, skipped
  bool run_now = false;  // a run_right_now request rather than a fire of the schedule
  int max_instances = 1;
  std::string note;    // job_run.error for a fire that does not run
  int own_running = 0;  // runs of this job this instance has claimed and not seen end
  // A worker job's fire (sql/010_workers.sql): claimed as `queued` for this queue instead of
  // `running`, taken by a worker from not_before on, `missed` when no worker took it by take_by.
  // Its queued and running runs count for max_instances from job_run, whoever claimed them.
  std::string queue{};  // empty: not a worker job
  std::optional<TimePoint> take_by{}, not_before{};
  // The job_info version the fire was decided under: when the row has another by the time of the
  // claim (an UPDATE the daemon has not applied yet), the fire is not claimed and comes back as
  // kChanged. None: claimed whatever the version.
  std::optional<int64_t> version{};
};

// What the claim did with a fire it did not claim because its job changed (ClaimRequest::version).
inline constexpr const char* kChanged = "changed";

struct Claim {
  int64_t run_id = 0;  // 0 for a fire not claimed (kChanged)
  std::string job_id;
  TimePoint scheduled_for;
  int attempt = 1;
  std::string status;
};

// A run marked lost because its instance stopped heart-beating.
struct LostRun {
  std::string job_id;
  TimePoint scheduled_for;
  int attempt = 1;
};

// A fire recorded without a run (missed, skipped): what the job's row says happened to it last.
struct FireOutcome {
  std::string job_id;
  std::string status;                 // missed, skipped
  std::optional<std::string> error;   // into last_error when given (missed: how late, and the grace)
};

// A worker run that ended badly or was ended by the sweep (rowsched_worker_sweep in sql/010).
struct EndedWorkerRun {
  std::string job_id;
  TimePoint scheduled_for;
  int attempt = 1;
  std::string status;  // failed, timeout, lost (retried when asked), missed (not retried)
  std::string queue, error;
};

// What rowsched writes back into a job_info row; applied only while the row still has `version`.
struct JobStateUpdate {
  std::string job_id;
  int64_t version = 0;
  std::optional<TimePoint> next_run_time;
  std::string state;  // pending, scheduled, paused, finished, invalid
  std::optional<std::string> last_error;
  bool is_running = false;
};

// The outcome of one run, for job_run and the job's counters.
struct RunRecord {
  int64_t run_id = 0;
  std::string job_id;
  std::string status;  // succeeded, failed, timeout
  TimePoint started_at{}, finished_at{};
  std::string output, error;
};

class JobStore {
 public:
  // `session` names this connection's role in its application_name ("rowsched INSTANCE SESSION"), so
  // that operators tell an instance's connections apart in pg_stat_activity; empty for the control one.
  JobStore(std::string dsn, std::string schema, std::string instance, std::string session = "");
  ~JobStore();
  JobStore(const JobStore&) = delete;
  JobStore& operator=(const JobStore&) = delete;

  // Opens the connection and, when `listen`, LISTENs (before any load, so no change falls between).
  // `writer`: the writer's session, whose statements all find their rows by key: its plans use an
  // index wherever one serves (enable_seqscan off), and it waits for a job_info row another
  // transaction holds for at most kWriterLockWait, then fails with RowsLocked. Throws.
  void connect(bool listen = true, bool writer = false);
  void disconnect() noexcept;
  bool connected() const;
  // The connection's socket, to wait on for notifications; -1 when not connected.
  int socket() const;

  // Reads whatever notifications have arrived, without blocking.
  std::vector<Notification> drain_notifications();

  // Streams every row to `sink`, read through a server-side cursor in chunks of kLoadChunk rows, so
  // that the whole table never sits in memory at once (the next chunk is fetched while `sink` runs).
  // `size_hint`, if given, first gets PostgreSQL's estimate of the row count. Returns the number of rows.
  size_t load_all(const std::function<void(JobRow&&)>& sink, const std::function<void(size_t)>& size_hint = {});
  static constexpr int kLoadChunk = 10000;
  std::vector<JobRow> load(const std::vector<std::string>& job_ids);
  // (job_id, version) of every row, in no particular order: the comparison that repairs missed hints.
  std::vector<std::pair<std::string, int64_t>> versions();
  // The row count and the wrapping sum of every row's version_hash: one aggregate that tells whether
  // versions() would find anything (equal fingerprints mean nothing changed unseen).
  std::pair<int64_t, uint64_t> version_fingerprint();

  // Inserts the fires into job_run; returns those this instance won (the others were claimed by
  // another instance, or earlier). One transaction and one round trip per chunk: the fires' jobs are
  // locked (advisory, in job_id order) so that max_instances holds exactly across instances.
  std::vector<Claim> claim(const std::vector<ClaimRequest>& fires);
  static constexpr size_t kClaimChunk = 1000;

  // What the writer thread does: run outcomes into job_run, and one UPDATE per job_info row that
  // folds the runs' counters together with the row's write-back (at most one update per job_id),
  // after setting run_right_now back to false for the served requests (job_id, run_right_now_at) (a
  // newer request made meanwhile is left alone) and the last status of the jobs whose fires were
  // recorded without a run (`fire_outcomes`: last_status, and last_error when given; last_run_time
  // stays the last real run; an invalid row keeps its reason; a job's last outcome wins). None of it
  // is a definition change (no notification). One round trip per kind of item present.
  void write_bookkeeping(const std::vector<RunRecord>& runs, const std::vector<JobStateUpdate>& updates,
                         const std::vector<std::pair<std::string, TimePoint>>& run_now_served,
                         const std::vector<FireOutcome>& fire_outcomes = {});
  // The jobs among `job_ids` whose job_info rows another transaction holds now (what made
  // write_bookkeeping throw RowsLocked); waits for none.
  std::set<std::string> held_jobs(const std::vector<std::string>& job_ids);

  // scheduler_instance: register (or refresh) this instance, heartbeat, deregister.
  void heartbeat(int pid, const std::string& host);
  void deregister();
  // Clears is_running on every row unless another instance is alive (heartbeat within `alive`).
  void clear_is_running_if_last(Duration alive);

  // Marks `lost` every run left `running` by an instance whose heartbeat is older than `lost_after`
  // (or, when `unregistered_too`, that has no scheduler_instance row: someone deleted it), counts them
  // as failures, removes the dead instances' rows, and returns the runs so that the caller can retry
  // them. Without `unregistered_too` it reads no job_run row while no instance is dead.
  // Throws RowsLocked (nothing done) when a job_info row it counts into is held for kWriterLockWait.
  std::vector<LostRun> mark_lost_runs(Duration lost_after, bool unregistered_too);

  // Ends the worker runs nobody will end (queued past take_by: missed; a silent worker's: lost; past
  // their timeout plus `lost_after`: timeout) and returns every worker run that ended failed,
  // timeout, lost or missed since the last sweep by any instance (each exactly once).
  // Throws RowsLocked (nothing done) as mark_lost_runs.
  std::vector<EndedWorkerRun> sweep_worker_runs(Duration lost_after);
  // The worker_queue_status view, ordered by queue.
  std::vector<WorkerQueue> worker_queues();

  // At process start: runs still `running` under this instance's own name were left by an earlier
  // process of the same name (a fixed --instance after a crash); marks them lost. Returns how many.
  int64_t mark_own_runs_lost();

  // One pruning pass, in a transaction that one instance at a time runs (`skipped`: another was).
  // Reads the job_run rows new since the last pass (`new_range`, HistoryCounts) and gives them to
  // `choose`, which returns the jobs to rank. Then deletes at most `batch` rows finished
  // more than `max_age` ago or beyond the newest `per_job` finished runs of a chosen job, but never a
  // job's newest fire of its schedule (the point a restart resumes from). `left`: the rows each
  // chosen job has left, all statuses.
  using RowsPerJob = std::vector<std::pair<std::string, int64_t>>;
  // The rows above `after` are new, but for those at or below `seen` or within `margin` of the newest
  // run_id: those come one by one, with their run_id (statements/prune_new_runs.sql).
  struct NewRange {
    int64_t after = 0, seen = 0, margin = 0;
  };
  struct NewRuns {
    int64_t newest = 0;  // the newest run_id in the table
    RowsPerJob counts;   // (job_id, rows)
    RowsPerJob single;   // (job_id, run_id)
  };
  struct PrunePass {
    bool skipped = false;
    int64_t deleted = 0;
    RowsPerJob left;
  };
  PrunePass prune_history(Duration max_age, int per_job, int batch, NewRange new_range,
                          const std::function<std::vector<std::string>(const NewRuns& rows)>& choose);
  // Asks the server to cancel the statement this connection runs. Any thread, while no other
  // connects or disconnects this store.
  void cancel() noexcept;

  // The names recorded in <schema>.rowsched_migration; nullopt when this role may not read it (throws
  // a pqxx::sql_error 42P01 when the table does not exist: the schema was never migrated); and the
  // role this connection is logged in as.
  std::optional<std::vector<std::string>> applied_migrations();
  std::string role() const;

  // The schema-qualified, quoted name of a table, e.g. "public"."job_info".
  std::string table(const char* name) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string dsn_, schema_, instance_, session_;
};

}  // namespace rowsched::store
