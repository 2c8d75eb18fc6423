#include "daemon/web_job_index.h"

#include <algorithm>
#include <cctype>

namespace rowsched::daemon {

namespace {

constexpr auto kFresh = std::chrono::seconds(2);
constexpr auto kUsable = std::chrono::seconds(30);

std::string ascii_lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

JobIndex::JobIndex(std::vector<store::JobIndexRow> rows, TimePoint taken_at) : rows_(std::move(rows)), taken_at_(taken_at) {
  for (auto& row : rows_) row.text = ascii_lower(std::move(row.text));
  std::sort(rows_.begin(), rows_.end(), listed_before<store::JobIndexRow>);
}

JobIndex::Page JobIndex::page(const JobFilter& filter) const {
  const std::string needle = ascii_lower(filter.text);
  Page page;
  for (const auto& row : rows_) {
    if (filter.state && row.state != *filter.state) continue;
    if (!needle.empty() && row.text.find(needle) == std::string::npos) continue;
    if (page.total >= filter.offset && page.total < filter.offset + filter.limit) page.job_ids.push_back(row.job_id);
    ++page.total;
  }
  return page;
}

JobIndexCache::JobIndexCache(std::function<TimePoint()> clock) : clock_(std::move(clock)) {}

std::shared_ptr<const JobIndex> JobIndexCache::get(store::WebReader& reader) {
  {
    std::lock_guard lock(mutex_);
    if (current_) {
      const auto age = clock_() - current_->taken_at();
      if (age < kFresh) return current_;
      if (age < kUsable) {
        wanted_ = true;
        wanted_changed_.notify_all();
        return current_;
      }
    }
  }
  refresh(reader);
  std::lock_guard lock(mutex_);
  return current_;
}

bool JobIndexCache::wait_until_wanted() {
  std::unique_lock lock(mutex_);
  wanted_changed_.wait(lock, [this] { return wanted_ || stopping_; });
  wanted_ = false;
  return !stopping_;
}

void JobIndexCache::refresh(store::WebReader& reader) {
  const TimePoint taken_at = clock_();  // before the read: the snapshot is at least this fresh
  auto index = std::make_shared<const JobIndex>(reader.job_index(), taken_at);
  std::lock_guard lock(mutex_);
  if (!current_ || current_->taken_at() < taken_at) current_ = std::move(index);
}

void JobIndexCache::stop() {
  std::lock_guard lock(mutex_);
  stopping_ = true;
  wanted_changed_.notify_all();
}

}  // namespace rowsched::daemon
