// The production LoopStore: the scheduler loop's control connection, a store::JobStore that
// LISTENs. Every method forwards; nothing is decided here.
//
// Thread safety: none (one per loop), as store::JobStore.
#pragma once

#include <string>

#include "daemon/loop_store.h"
#include "store/job_store.h"

namespace rowsched::daemon {

class ControlConnection final : public LoopStore {
 public:
  ControlConnection(std::string dsn, std::string schema, std::string instance);

  void connect() override { store_.connect(/*listen=*/true); }
  void disconnect() noexcept override { store_.disconnect(); }
  bool connected() const override { return store_.connected(); }
  int socket() const override { return store_.socket(); }
  std::string role() const override { return store_.role(); }
  std::optional<std::vector<std::string>> applied_migrations() override { return store_.applied_migrations(); }

  std::vector<store::Notification> drain_notifications() override { return store_.drain_notifications(); }
  size_t load_all(const std::function<void(store::JobRow&&)>& sink, const std::function<void(size_t)>& size_hint) override {
    return store_.load_all(sink, size_hint);
  }
  std::vector<store::JobRow> load(const std::vector<std::string>& job_ids) override { return store_.load(job_ids); }
  std::pair<int64_t, uint64_t> version_fingerprint() override { return store_.version_fingerprint(); }
  std::vector<std::pair<std::string, int64_t>> versions() override { return store_.versions(); }

  std::vector<store::Claim> claim(const std::vector<store::ClaimRequest>& fires) override { return store_.claim(fires); }

  void heartbeat(int pid, const std::string& host) override { store_.heartbeat(pid, host); }
  std::vector<store::LostRun> mark_lost_runs(Duration lost_after, bool unregistered_too) override {
    return store_.mark_lost_runs(lost_after, unregistered_too);
  }
  int64_t mark_own_runs_lost() override { return store_.mark_own_runs_lost(); }
  std::vector<store::EndedWorkerRun> sweep_worker_runs(Duration lost_after) override { return store_.sweep_worker_runs(lost_after); }
  std::vector<store::WorkerQueue> worker_queues() override { return store_.worker_queues(); }

  void clear_is_running_if_last(Duration alive) override { store_.clear_is_running_if_last(alive); }
  void deregister() override { store_.deregister(); }

 private:
  store::JobStore store_;
};

}  // namespace rowsched::daemon
