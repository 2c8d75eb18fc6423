// Which jobs a pruning pass ranks against --history-per-job (HistoryCounts), checked against a model
// of job_run: every job past the limit must be ranked, whatever order claims commit in and whatever
// else deletes rows; a job nothing was added to since it was ranked is not ranked again.
#include <algorithm>
#include <map>
#include <random>
#include <set>

#include <catch2/catch.hpp>

#include "daemon/history_pruner.h"

using namespace rowsched;
using namespace rowsched::daemon;

namespace {
using Rows = std::vector<std::pair<std::string, int64_t>>;

// job_run as the passes see it: committed rows by run_id, and claims that hold run_ids but have not
// committed yet.
struct Table {
  std::map<int64_t, std::string> rows;
  std::vector<std::pair<int64_t, std::string>> uncommitted;
  int64_t next_id = 1;

  void insert(const std::string& job, bool commit) {
    if (commit) rows[next_id++] = job;
    else uncommitted.emplace_back(next_id++, job);
  }
  void commit_all() {
    for (auto& [id, job] : uncommitted) rows[id] = job;
    uncommitted.clear();
  }
  int64_t newest() const { return rows.empty() ? 0 : rows.rbegin()->first; }
  std::map<std::string, int64_t> per_job() const {
    std::map<std::string, int64_t> n;
    for (const auto& [id, job] : rows) ++n[job];
    return n;
  }
  // What statements/prune_new_runs.sql returns for `r`.
  rowsched::store::JobStore::NewRuns read(rowsched::store::JobStore::NewRange r) const {
    rowsched::store::JobStore::NewRuns out;
    out.newest = newest();
    const int64_t after = out.newest < r.seen ? 0 : r.after;
    std::map<std::string, int64_t> n;
    for (auto it = rows.upper_bound(after); it != rows.end(); ++it) {
      if (it->first <= r.seen || it->first > out.newest - r.margin) out.single.emplace_back(it->second, it->first);
      else ++n[it->second];
    }
    out.counts.assign(n.begin(), n.end());
    return out;
  }
  // Deletes the oldest rows of each job in `jobs` beyond `keep`; the rows each has left.
  Rows rank(const std::vector<std::string>& jobs, int keep) {
    Rows left;
    for (const auto& job : jobs) {
      std::vector<int64_t> ids;
      for (const auto& [id, j] : rows)
        if (j == job) ids.push_back(id);
      for (size_t i = 0; i + keep < ids.size(); ++i) rows.erase(ids[i]);
      left.emplace_back(job, std::min<int64_t>(static_cast<int64_t>(ids.size()), keep));
    }
    return left;
  }
};

// One pass: count what is new, rank what may be past the limit. Checks that no job past the limit
// was left out, and returns the jobs ranked.
std::vector<std::string> pass(Table& t, HistoryCounts& counts, int per_job) {
  const auto ranked = counts.counted(t.read(counts.new_range()));
  const std::set<std::string> chosen(ranked.begin(), ranked.end());
  for (const auto& [job, n] : t.per_job())
    if (n > per_job) CHECK(chosen.count(job) == 1);
  counts.ranked(t.rank(ranked, per_job));
  return ranked;
}
}  // namespace

TEST_CASE("every job past the limit is ranked, under random inserts, late commits and other deletes", "[prune]") {
  const int per_job = 20;
  std::mt19937_64 random(42);
  for (int trial = 0; trial < 20; ++trial) {
    Table t;
    HistoryCounts counts(per_job);
    const int jobs = 1 + static_cast<int>(random() % 40);
    for (int p = 0; p < 60; ++p) {
      const int inserts = static_cast<int>(random() % 300);
      for (int i = 0; i < inserts; ++i)
        t.insert("job-" + std::to_string(random() % jobs), /*commit=*/random() % 10 != 0);
      // Someone else deletes a few rows (another instance's pass, a user): counts only get high.
      if (random() % 4 == 0 && !t.rows.empty()) t.rows.erase(std::next(t.rows.begin(), static_cast<long>(random() % t.rows.size())));
      pass(t, counts, per_job);
      if (random() % 2 == 0) t.commit_all();  // the late claims commit, with run_ids below the newest seen
    }
    t.commit_all();
    pass(t, counts, per_job);
    for (const auto& [job, n] : t.per_job()) CHECK(n <= per_job);
  }
}

TEST_CASE("a pass ranks only the jobs that grew past the limit, not the whole history", "[prune]") {
  const int per_job = 100;
  Table t;
  HistoryCounts counts(per_job);
  for (int j = 0; j < 1000; ++j)
    for (int i = 0; i < 50; ++i) t.insert("job-" + std::to_string(j), true);
  CHECK(pass(t, counts, per_job).empty());  // the first pass counts everything: none is past 100
  // Far more than kMargin rows later, so that the margin does not reach back to the first rows.
  for (int i = 0; i < 60; ++i)
    for (int j = 0; j < 1000; j += 5) t.insert("job-" + std::to_string(j), true);
  for (int i = 0; i < 60; ++i) t.insert("job-7", true);
  const auto ranked = pass(t, counts, per_job);
  // job-0, job-5, ...: 110 rows each; job-7: 110; the other 799 untouched at 50 are not ranked.
  CHECK(ranked.size() == 201);
  CHECK(std::count(ranked.begin(), ranked.end(), "job-7") == 1);
  CHECK(pass(t, counts, per_job).empty());  // nothing new: nothing to rank
}

TEST_CASE("run_ids that start over (TRUNCATE ... RESTART IDENTITY) make the next pass count everything", "[prune]") {
  const int per_job = 3;
  Table t;
  HistoryCounts counts(per_job);
  for (int i = 0; i < 20000; ++i) t.insert("a", true);
  CHECK(pass(t, counts, per_job) == std::vector<std::string>{"a"});
  CHECK(counts.new_range().after == 20000 - HistoryCounts::kMargin);
  t = Table{};  // restarted: run_ids from 1 again
  for (int i = 0; i < 10; ++i) t.insert("b", true);
  CHECK(pass(t, counts, per_job) == std::vector<std::string>{"b"});  // every row read: "a" is forgotten
  CHECK(t.per_job()["b"] == per_job);
  CHECK(counts.jobs() == 1);
}

TEST_CASE("a job whose runs were still in flight when it was ranked is ranked again once they end", "[prune]") {
  HistoryCounts counts(2);
  CHECK(counts.counted({3, {}, {{"a", 1}, {"a", 2}, {"a", 3}}}) == std::vector<std::string>{"a"});
  counts.ranked({{"a", 3}});  // 2 finished kept, 1 still running: not yet one of the 2 newest finished
  CHECK(counts.counted({3, {}, {{"a", 2}, {"a", 3}}}) == std::vector<std::string>{"a"});  // seen: not counted again
  counts.ranked({{"a", 2}});
  CHECK(counts.counted({3, {}, {{"a", 2}, {"a", 3}}}).empty());
}

TEST_CASE("batches double while a pass deletes all it may, and halve back once passes keep up", "[prune]") {
  using std::chrono::milliseconds;
  int64_t batch = HistoryPruner::kMinBatch;
  const Duration interval = std::chrono::seconds(60);
  CHECK(HistoryPruner::next_pass(1000, batch, interval) == HistoryPruner::kBehindInterval);
  CHECK(batch == 2000);
  for (int i = 0; i < 10; ++i) HistoryPruner::next_pass(batch, batch, interval);
  CHECK(batch == HistoryPruner::kMaxBatch);
  CHECK(HistoryPruner::next_pass(6000, batch, interval) == interval);  // not behind, over a quarter: stays
  CHECK(batch == HistoryPruner::kMaxBatch);
  CHECK(HistoryPruner::next_pass(0, batch, interval) == interval);
  CHECK(batch == HistoryPruner::kMaxBatch / 2);
  CHECK(HistoryPruner::next_pass(0, batch, milliseconds(100)) == milliseconds(100));
}
