// LISTEN for the job_info triggers' notifications (channel rowsched_job_info) on the control
// connection, and what a payload says. Payloads are hints: the rows they name are re-read. Internal
// to src/store (JobStore::drain_notifications is the public side).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <pqxx/pqxx>

#include "store/job_store.h"

namespace rowsched::store {

// The notifications one payload announces for `schema`: none when the payload is not JSON, not an
// object or about another schema; one per job id of {"op":..,"job_ids":[..]}; one with `many` set for
// {"op":..,"count":N} (a statement with too many rows to name); else one for {"op":..,"job_id":..,
// "old_job_id":..}.
std::vector<Notification> parse_notification(std::string_view payload, const std::string& schema);

// LISTENs on `conn` while it lives (the LISTEN itself goes out with the connection's next statement).
class JobListener {
 public:
  explicit JobListener(pqxx::connection& conn);
  ~JobListener();
  JobListener(const JobListener&) = delete;
  JobListener& operator=(const JobListener&) = delete;

  // Reads whatever notifications have arrived, without blocking. Throws ConnectionLost when the
  // connection broke.
  std::vector<Notification> drain(const std::string& schema);

 private:
  class Receiver;
  pqxx::connection& conn_;
  std::vector<std::string> payloads_;
  std::unique_ptr<Receiver> receiver_;
};

}  // namespace rowsched::store
