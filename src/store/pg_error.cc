#include "store/pg_error.h"

#include <vector>

#include <pqxx/pqxx>

namespace rowsched::store {

namespace {
constexpr std::string_view kSeverities[] = {"ERROR:", "FATAL:", "PANIC:", "WARNING:"};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
  return s;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

std::string assemble(std::string_view primary, std::string_view sqlstate, std::string_view detail, std::string_view hint,
                     std::string_view context) {
  std::string out(trim(primary));
  // libpq puts the server's severity inside its own text ("... port 5432 failed: FATAL:  database ...").
  for (std::string_view inner : {": FATAL:  ", ": ERROR:  "})
    for (auto at = out.find(inner); at != std::string::npos; at = out.find(inner, at + 2)) out.replace(at, inner.size(), ": ");
  if (!sqlstate.empty()) out.append(" (SQLSTATE ").append(sqlstate).append(")");
  const auto add = [&](std::string_view label, std::string_view value) {
    if (!trim(value).empty()) out.append("; ").append(label).append(": ").append(trim(value));
  };
  add("DETAIL", detail);
  add("HINT", hint);
  add("CONTEXT", context);
  return out;
}

}  // namespace

std::string format_pg_error(std::string_view text, std::string_view sqlstate) {
  std::string primary, detail, hint, context;
  std::string* current = &primary;
  bool in_excerpt = false;  // the "LINE n:" excerpt and its caret line
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(start, end - start);
    start = end + 1;
    std::string_view body;
    bool labelled = false;
    for (auto sev : kSeverities)
      if (starts_with(line, sev)) {
        // Only the first severity line is the message; a second one (libpq may add its own) is context.
        if (primary.empty()) current = &primary;
        else current = &context;
        body = line.substr(sev.size());
        labelled = true;
      }
    if (!labelled) {
      if (starts_with(line, "DETAIL:")) current = &detail, body = line.substr(7), labelled = true;
      else if (starts_with(line, "HINT:")) current = &hint, body = line.substr(5), labelled = true;
      else if (starts_with(line, "CONTEXT:")) current = &context, body = line.substr(8), labelled = true;
      else if (starts_with(line, "QUERY:")) current = &context, body = line.substr(6), labelled = true;
      else if (starts_with(line, "LINE ") && line.find(':') != std::string_view::npos) in_excerpt = true;
    }
    if (labelled) in_excerpt = false;
    if (in_excerpt) continue;
    if (!labelled) body = line;
    body = trim(body);
    if (body.empty()) continue;
    if (!current->empty()) current->append(current == &primary ? " " : " / ");
    current->append(body);
  }
  return assemble(primary, sqlstate, detail, hint, context);
}

std::string format_pg_error(const std::exception& e) {
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) return format_pg_error(sql->what(), sql->sqlstate());
  return format_pg_error(e.what(), "");
}

}  // namespace rowsched::store
