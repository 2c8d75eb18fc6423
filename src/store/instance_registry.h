// This instance's presence in scheduler_instance (register, heartbeat, deregister) and what its
// arrival and departure mean for job_info.is_running and for the runs an earlier process of the same
// name left open. Internal to src/store (JobStore is the public side).
#pragma once

#include <cstdint>
#include <string>

#include <pqxx/pqxx>

#include "store/job_store.h"
#include "store/statements.h"

namespace rowsched::store {

class InstanceRegistry {
 public:
  InstanceRegistry(pqxx::connection& conn, const Statements& sql, std::string instance);

  // See JobStore::heartbeat, deregister, clear_is_running_if_last and mark_own_runs_lost.
  void heartbeat(int pid, const std::string& host);
  void deregister();
  void clear_is_running_if_last(Duration alive);
  int64_t mark_own_runs_lost();

 private:
  pqxx::connection& conn_;
  const Statements& sql_;
  std::string instance_;
};

}  // namespace rowsched::store
