// The read-only queries behind the web page and its JSON endpoints (docs/web.md): the narrow index
// of every job that the jobs list is sorted and filtered from, jobs by id, runs, the live instances.
// Every query names its columns and reads on one short read-only transaction; all but job_index()
// are bounded (LIMIT, an index), so with 100,000 jobs they answer in milliseconds.
//
// Thread safety: none; one WebReader per connection, used by one request at a time (the web server
// keeps a small pool). Never the scheduler loop's connection. Methods throw ConnectionLost
// (store/job_store.h) when the connection broke, std::runtime_error otherwise.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "base/time.h"

namespace rowsched::store {

// What the jobs table shows of one job_info row.
struct WebJob {
  std::string job_id;
  std::string owner;
  std::string func;
  std::string func_args;       // jsonb as text
  std::string trigger_kwargs;  // jsonb as text
  std::optional<std::string> description;
  bool is_paused = false;
  std::string state;
  std::optional<TimePoint> next_run_time;
  std::optional<TimePoint> last_run_time;
  std::optional<std::string> last_status;
  int64_t run_count = 0;
  int64_t failure_count = 0;
  std::optional<std::string> last_error;
  TimePoint trigger_time{};  // the schedule's "now" (sql/004_run_now_identity.sql)
  TimePoint create_time{};
  TimePoint update_time{};
  int64_t version = 0;
};

struct WebRun {
  int64_t run_id = 0;
  std::string job_id;
  TimePoint scheduled_for{};
  std::string instance;
  int attempt = 1;
  std::string status;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  std::optional<std::string> output;
  std::optional<std::string> error;
};

struct WebInstance {
  std::string instance;
  std::optional<int> pid;
  std::optional<std::string> host;
  TimePoint started_at{};
  TimePoint heartbeat_at{};
  std::optional<std::string> version;
  TimePoint now{};  // the server's clock when read: heartbeat age = now - heartbeat_at
};

// What sorting and filtering the jobs list need of one job_info row.
struct JobIndexRow {
  std::string job_id;
  std::string state;
  std::optional<TimePoint> next_run_time;
  std::string text;  // job_id, owner, func and description, separated by new lines
};

class WebReader {
 public:
  // Connects to `dsn` (application_name "rowsched web"); the tables are in `schema`.
  WebReader(const std::string& dsn, const std::string& schema);
  ~WebReader();
  WebReader(const WebReader&) = delete;
  WebReader& operator=(const WebReader&) = delete;

  // Every job, narrowly: one sequential read of job_info.
  std::vector<JobIndexRow> job_index();
  // The rows of `job_ids` that still exist, in no particular order.
  std::vector<WebJob> jobs_by_id(const std::vector<std::string>& job_ids);
  std::optional<WebJob> job(const std::string& job_id);
  // The newest runs first: of `job_id` when given, scheduled at or after `since` when given.
  std::vector<WebRun> runs(const std::optional<std::string>& job_id, std::optional<TimePoint> since, int limit);
  // Runs of the jobs in `job_ids` scheduled in [from, to], oldest first, at most `limit`.
  std::vector<WebRun> runs_between(const std::vector<std::string>& job_ids, TimePoint from, TimePoint to, int limit);
  std::vector<WebInstance> instances();

 private:
  struct Session;  // the libpqxx connection, kept out of this header
  std::unique_ptr<Session> session_;
  std::string job_info_, job_run_, scheduler_instance_;
};

}  // namespace rowsched::store
