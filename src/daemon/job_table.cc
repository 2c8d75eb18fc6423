#include "daemon/job_table.h"

#include <string_view>
#include <unordered_set>

namespace rowsched::daemon {

KnownJob* JobTable::find(const std::string& job_id) {
  const auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

const KnownJob* JobTable::find(const std::string& job_id) const {
  const auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::pair<KnownJob*, bool> JobTable::find_or_add(const std::string& job_id) {
  auto [it, added] = jobs_.try_emplace(job_id);
  return {&it->second, added};
}

std::array<int, kAllJobStates.size()> JobTable::count_by_state() const {
  std::array<int, kAllJobStates.size()> by_state{};
  for (const auto& [_, k] : jobs_) ++by_state[static_cast<size_t>(k.state)];
  return by_state;
}

std::pair<int64_t, uint64_t> JobTable::fingerprint() const {
  uint64_t sum = 0;
  for (const auto& [_, k] : jobs_) sum += k.version_hash;
  return {static_cast<int64_t>(jobs_.size()), sum};
}

std::vector<std::string> JobTable::differing(const std::vector<std::pair<std::string, int64_t>>& table) const {
  std::vector<std::string> stale;
  std::unordered_set<std::string_view> in_table;
  in_table.reserve(table.size());
  for (const auto& [id, version] : table) {
    in_table.insert(id);
    const auto it = jobs_.find(id);
    if (it == jobs_.end() || it->second.version != version) stale.push_back(id);
  }
  for (const auto& [id, _] : jobs_)
    if (in_table.count(id) == 0) stale.push_back(id);
  return stale;
}

}  // namespace rowsched::daemon
