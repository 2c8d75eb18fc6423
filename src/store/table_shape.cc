// The columns below are those sql/001_schema.sql creates; later migrations add columns with
// ADD COLUMN IF NOT EXISTS, so only the first migration's set tells rowsched's table from another.
#include "store/table_shape.h"

#include <string_view>
#include <utility>
#include <vector>

namespace rowsched::store {
namespace {

struct ExpectedTable {
  std::string_view name;
  std::vector<std::string> columns;
};

const std::vector<ExpectedTable>& expected_tables() {
  static const std::vector<ExpectedTable> tables = {
      {"job_info",
       {"job_id", "func", "func_args", "trigger_kwargs", "is_paused", "run_right_now", "description", "owner",
        "next_run_time", "is_running", "state", "last_error", "last_run_time", "last_status", "run_count",
        "failure_count", "version", "create_time", "update_time"}},
      {"job_run",
       {"run_id", "job_id", "scheduled_for", "instance", "attempt", "status", "started_at", "finished_at", "output",
        "error"}},
  };
  return tables;
}

std::string join(const std::vector<std::string>& names, std::string_view separator) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : std::string(separator)) + n;
  return out;
}

}  // namespace

std::optional<std::string> foreign_table_problem(pqxx::transaction_base& tx, const std::string& schema) {
  for (const ExpectedTable& table : expected_tables()) {
    const std::string qualified = tx.quote_name(schema) + "." + tx.quote_name(std::string(table.name));
    const pqxx::result missing = tx.exec_params(
        "SELECT c FROM unnest($2::text[]) WITH ORDINALITY AS u(c, i)"
        " WHERE to_regclass($1) IS NOT NULL"
        "   AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = to_regclass($1)"
        "                      AND a.attname = u.c AND a.attnum > 0 AND NOT a.attisdropped)"
        " ORDER BY i",
        qualified, "{" + join(table.columns, ",") + "}");  // plain identifiers: a literal needs no quoting
    if (missing.empty()) continue;
    std::vector<std::string> lacking;
    for (const auto& row : missing) lacking.push_back(row[0].as<std::string>());
    const std::string old_name = std::string(table.name) + "_old";
    return "schema " + schema + " already has a table " + std::string(table.name) +
           " that rowsched did not create (it lacks the columns " + join(lacking, ", ") +
           "); rowsched will not change it. Either rename it (ALTER TABLE " + qualified + " RENAME TO " +
           tx.quote_name(old_name) + "), run `rowsched migrate` again and copy its rows into the new " +
           std::string(table.name) + " (docs/django.md shows the INSERT ... SELECT for the Django seed's "
           "table), or install rowsched into a schema of its own with --schema";
  }
  return std::nullopt;
}

}  // namespace rowsched::store
