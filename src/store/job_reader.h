// Reading job_info rows for the scheduler loop: the whole table through a cursor (the next chunk is
// fetched while the caller applies the last one), the rows a notification named, and the versions
// and fingerprint that tell whether a notification was missed. Columns are read by name. Internal to
// src/store (JobStore is the public side).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <pqxx/pqxx>

#include "store/job_store.h"
#include "store/statements.h"

namespace rowsched::store {

class JobReader {
 public:
  JobReader(pqxx::connection& conn, const Statements& sql, std::string schema);

  // See JobStore::load_all, load, versions and version_fingerprint.
  size_t load_all(const std::function<void(JobRow&&)>& sink, const std::function<void(size_t)>& size_hint, int chunk);
  std::vector<JobRow> load(const std::vector<std::string>& job_ids);
  std::vector<std::pair<std::string, int64_t>> versions();
  std::pair<int64_t, uint64_t> version_fingerprint();

 private:
  pqxx::connection& conn_;
  const Statements& sql_;
  std::string schema_;
};

}  // namespace rowsched::store
