// The read-only queries behind the web page and its JSON endpoints (docs/web.md): a page of jobs
// filtered and sorted by next run, one job with its recent runs, runs in a window, the live instances.
// Every query names its columns, reads on one short read-only transaction and is bounded (LIMIT, an
// index on job_run), so a table of 100,000 jobs answers in milliseconds.
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

#include "trigger/time.h"

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

struct JobFilter {
  std::optional<std::string> state;  // one of pending, scheduled, paused, finished, invalid
  std::string text;                  // case-insensitive substring of job_id, owner, func or description
  int limit = 50;
  int64_t offset = 0;
};

struct JobPage {
  int64_t total = 0;  // rows matching the filter
  std::vector<WebJob> jobs;  // by next_run_time (none last), then job_id
};

class WebReader {
 public:
  // Connects to `dsn` (application_name "rowsched web"); the tables are in `schema`.
  WebReader(const std::string& dsn, const std::string& schema);
  ~WebReader();
  WebReader(const WebReader&) = delete;
  WebReader& operator=(const WebReader&) = delete;

  JobPage jobs(const JobFilter& filter);
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
