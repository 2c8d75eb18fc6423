#include "store/fault.h"

#include <pqxx/pqxx>

#include "store/dsn.h"
#include "store/pg_error.h"

namespace rowsched::store {

namespace {
bool contains(const std::string& text, std::string_view part) { return text.find(part) != std::string::npos; }

std::string quote_ident(const std::string& name) {
  std::string out = "\"";
  for (char c : name) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

// The object named after `prefix` in `text` ("permission denied for table job_run" -> "job_run").
std::string word_after(const std::string& text, std::string_view prefix) {
  const auto at = text.find(prefix);
  if (at == std::string::npos) return "";
  const auto start = at + prefix.size();
  auto end = text.find_first_of(" (;\n", start);
  return text.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string grant_advice(const std::string& message, const FaultContext& ctx) {
  const std::string role = ctx.role.empty() ? "<the role in --dsn>" : quote_ident(ctx.role);
  const std::string schema = quote_ident(ctx.schema);
  if (auto t = word_after(message, "permission denied for table "); !t.empty())
    return "GRANT SELECT, INSERT, UPDATE, DELETE ON " + schema + "." + quote_ident(t) + " TO " + role;
  if (auto t = word_after(message, "permission denied for view "); !t.empty())
    return "GRANT SELECT ON " + schema + "." + quote_ident(t) + " TO " + role;
  if (auto t = word_after(message, "permission denied for sequence "); !t.empty())
    return "GRANT USAGE, SELECT ON SEQUENCE " + schema + "." + quote_ident(t) + " TO " + role;
  if (auto t = word_after(message, "permission denied for schema "); !t.empty())
    return "GRANT USAGE ON SCHEMA " + quote_ident(t) + " TO " + role;
  if (auto t = word_after(message, "permission denied for function "); !t.empty())
    return "GRANT EXECUTE ON FUNCTION " + schema + "." + quote_ident(t) + " TO " + role;
  return "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA " + schema + " TO " + role;
}
}  // namespace

std::string migrate_command(const FaultContext& ctx) {
  std::string cmd = "rowsched migrate";
  if (!ctx.dsn.empty()) cmd += " --dsn '" + redact_dsn(ctx.dsn) + "'";
  if (ctx.schema != "public") cmd += " --schema " + ctx.schema;
  return cmd;
}

std::string schema_not_current_message(const std::vector<std::string>& missing, const FaultContext& ctx) {
  std::string list;
  for (const auto& m : missing) list += (list.empty() ? "" : ", ") + m;
  return "schema " + ctx.schema + " is older than this rowsched " ROWSCHED_VERSION ": migration" +
         (missing.size() == 1 ? " " : "s ") + list + (missing.size() == 1 ? " is" : " are") +
         " not applied; run `" + migrate_command(ctx) + "`";
}

std::string describe_fault(const std::exception& e, const FaultContext& ctx) {
  if (dynamic_cast<const SchemaNotCurrent*>(&e)) return e.what();
  std::string sqlstate;
  if (const auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) sqlstate = sql->sqlstate();
  const std::string message = format_pg_error(e);
  const std::string what = e.what();
  if (sqlstate == "42P01" || sqlstate == "3F000")
    return message + " -- schema " + ctx.schema + " has no rowsched tables: run `" + migrate_command(ctx) + "`";
  if (sqlstate == "42883" || sqlstate == "42703")
    return message + " -- schema " + ctx.schema + " looks older than this rowsched: run `" + migrate_command(ctx) + "`";
  if (sqlstate == "42501" || contains(what, "permission denied for "))
    return message + " -- the role lacks a privilege: " + grant_advice(what, ctx);
  if (sqlstate == "28P01" || sqlstate == "28000" || contains(what, "authentication failed") ||
      contains(what, "no password supplied") || contains(what, "no pg_hba.conf entry"))
    return message + " -- check the user and password rowsched connects with (--dsn, $DATABASE_URL, PGPASSWORD or "
                     "~/.pgpass) and pg_hba.conf";
  if (sqlstate == "53300" || contains(what, "too many clients") || contains(what, "remaining connection slots"))
    return message + " -- PostgreSQL has no free connection slot: rowsched needs 2 connections plus one per --workers "
                     "thread running sql jobs; raise max_connections, lower --workers or close idle sessions";
  return message;
}

}  // namespace rowsched::store
