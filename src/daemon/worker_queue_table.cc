#include "daemon/worker_queue_table.h"

#include <algorithm>
#include <array>
#include <cstdio>

#include "daemon/status_table.h"

namespace rowsched::daemon {

namespace {
// One line of text: control characters shown as spaces, so that no cell can break the table.
std::string one_line_cell(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}
}  // namespace

std::string format_worker_queue_table(const std::vector<store::WorkerQueue>& queues,
                                      const std::vector<store::UnservedJob>& unserved) {
  if (queues.empty() && unserved.empty()) return "";
  using Row = std::array<std::string, 5>;
  std::vector<Row> rows{{"WORKER QUEUE", "LIVE WORKERS", "QUEUED", "RUNNING", "OLDEST WAITING"}};
  for (const auto& q : queues) {
    char age[32] = "-";
    if (q.queued > 0) std::snprintf(age, sizeof age, "%.1f s", q.oldest_queued_age_seconds);
    rows.push_back({one_line_cell(q.queue), std::to_string(q.live_workers), std::to_string(q.queued),
                    std::to_string(q.running), age});
  }
  std::array<size_t, 5> width{};
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], display_width(r[i]));
  std::string out;
  for (const auto& r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - display_width(r[i]) + 2, ' ');
    }
    out += line + "\n";
  }
  for (const auto& j : unserved) out += "job " + one_line_cell(j.job_id) + ": " + one_line_cell(j.note) + "\n";
  return out;
}

}  // namespace rowsched::daemon
