#include "daemon/status_table.h"

#include <algorithm>
#include <array>

#include <date/tz.h>

#include "base/states.h"

namespace rowsched::daemon {

namespace {

constexpr std::string_view kNone = "-";

bool is_continuation_byte(char c) { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// Earlier next run first; jobs with no next run last; ties by job_id.
bool runs_earlier(const store::JobStatus& a, const store::JobStatus& b) {
  if (a.next_run_time.has_value() != b.next_run_time.has_value()) return a.next_run_time.has_value();
  if (a.next_run_time && *a.next_run_time != *b.next_run_time) return *a.next_run_time < *b.next_run_time;
  return a.job_id < b.job_id;
}

// One line of text, control characters shown as spaces so that no cell can break the table.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return out;
}

}  // namespace

size_t display_width(std::string_view text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) { return !is_continuation_byte(c); }));
}

std::string cut_to_width(std::string_view text, size_t width) {
  if (display_width(text) <= width) return std::string(text);
  if (width == 0) return "";
  size_t kept = 0, end = 0;
  while (end < text.size()) {
    if (!is_continuation_byte(text[end])) {
      if (kept == width - 1) break;
      ++kept;
    }
    ++end;
  }
  return std::string(text.substr(0, end)) + "…";
}

std::string format_table_time(TimePoint t, Zone zone) {
  return date::format("%a %F %T %Z", date::make_zoned(zone, std::chrono::floor<std::chrono::seconds>(t)));
}

std::string format_status_table(std::vector<store::JobStatus> jobs, Zone zone, size_t max_job_width) {
  std::sort(jobs.begin(), jobs.end(), runs_earlier);
  constexpr size_t kColumns = 7;
  using Row = std::array<std::string, kColumns>;
  // RUNS and FAILURES are numbers: right-aligned.
  constexpr std::array<bool, kColumns> right_aligned{false, false, false, false, false, true, true};
  std::vector<Row> rows{{"JOB", "STATE", "NEXT RUN", "LAST RUN", "LAST STATUS", "RUNS", "FAILURES"}};
  auto time_or_none = [&](const std::optional<TimePoint>& t) { return t ? format_table_time(*t, zone) : std::string(kNone); };
  for (const auto& j : jobs) {
    rows.push_back({cut_to_width(one_line(j.job_id), max_job_width), one_line(j.state), time_or_none(j.next_run_time),
                    time_or_none(j.last_run_time), j.last_status ? one_line(*j.last_status) : std::string(kNone),
                    std::to_string(j.run_count), std::to_string(j.failure_count)});
  }
  std::array<size_t, kColumns> width{};
  for (const auto& row : rows)
    for (size_t c = 0; c < kColumns; ++c) width[c] = std::max(width[c], display_width(row[c]));

  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < kColumns; ++c) {
      const std::string pad(width[c] - display_width(row[c]), ' ');
      if (c > 0) line += "  ";
      line += right_aligned[c] ? pad + row[c] : row[c] + pad;
    }
    line.erase(line.find_last_not_of(' ') + 1);
    out += line + "\n";
  }
  out += "\n" + std::to_string(jobs.size()) + (jobs.size() == 1 ? " job" : " jobs") + " listed.\n";
  for (const auto& j : jobs)
    if (j.state == to_sql(JobState::invalid)) out += "invalid: " + one_line(j.job_id) + ": " + one_line(j.last_error.value_or("")) + "\n";
  return out;
}

}  // namespace rowsched::daemon
