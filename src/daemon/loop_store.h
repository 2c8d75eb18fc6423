// What the scheduler loop asks of the database, and nothing more: the control connection as the
// loop sees it. The production implementation (control_connection.h) forwards to store::JobStore;
// the loop's unit tests drive the loop with an in-memory one, so every decision of the loop (backoff,
// reloads, resync, claims, shutdown) is tested without a database.
//
// Contract: as store::JobStore (store/job_store.h), whose row and request types these are. Methods
// throw store::ConnectionLost when the connection broke, another std::exception otherwise.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/time.h"
#include "store/job_store.h"
#include "store/worker_queues.h"

namespace rowsched::daemon {

class LoopStore {
 public:
  virtual ~LoopStore() = default;

  // Opens the connection and LISTENs for job_info changes.
  virtual void connect() = 0;
  virtual void disconnect() noexcept = 0;
  virtual bool connected() const = 0;
  // The socket to wait on for notifications; -1 when not connected.
  virtual int socket() const = 0;
  virtual std::string role() const = 0;
  // The migrations recorded as applied (nullopt: not readable by this role).
  virtual std::optional<std::vector<std::string>> applied_migrations() = 0;

  virtual std::vector<store::Notification> drain_notifications() = 0;
  virtual size_t load_all(const std::function<void(store::JobRow&&)>& sink, const std::function<void(size_t)>& size_hint) = 0;
  virtual std::vector<store::JobRow> load(const std::vector<std::string>& job_ids) = 0;
  virtual std::pair<int64_t, uint64_t> version_fingerprint() = 0;
  virtual std::vector<std::pair<std::string, int64_t>> versions() = 0;

  virtual std::vector<store::Claim> claim(const std::vector<store::ClaimRequest>& fires) = 0;

  virtual void heartbeat(int pid, const std::string& host) = 0;
  virtual std::vector<store::LostRun> mark_lost_runs(Duration lost_after, bool unregistered_too) = 0;
  virtual int64_t mark_own_runs_lost() = 0;
  virtual std::vector<store::EndedWorkerRun> sweep_worker_runs(Duration lost_after) = 0;
  virtual std::vector<store::WorkerQueue> worker_queues() = 0;

  virtual void clear_is_running_if_last(Duration alive) = 0;
  virtual void deregister() = 0;
};

}  // namespace rowsched::daemon
