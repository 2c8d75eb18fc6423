// Each migration runs with search_path = <schema>, pg_catalog so that the same files work unchanged
// with `psql -f` (into public) and with `rowsched migrate --schema S`.
#include "store/migrations.h"

#include <stdexcept>

#include <pqxx/pqxx>

#include "store/connect.h"
#include "store/table_shape.h"

namespace rowsched::store {

std::vector<std::string> apply_migrations(const std::string& dsn, const std::string& schema) {
  auto connection = open_connection(dsn, "rowsched migrate");
  pqxx::connection& conn = *connection;
  const std::string s = conn.quote_name(schema);
  std::vector<std::string> applied;
  {
    // Before anything is created: a foreign job_info would otherwise fail half-way with a server
    // message (`column old.version does not exist`) that does not say what to do.
    pqxx::read_transaction tx(conn);
    if (auto problem = foreign_table_problem(tx, schema)) throw std::runtime_error(*problem);
  }
  for (const Migration& m : embedded_migrations()) {
    pqxx::work tx(conn);
    // One lock per schema name: concurrent `migrate` runs serialise, then see each other's work.
    tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('rowsched.migrate.' || $1))", schema);
    tx.exec("CREATE SCHEMA IF NOT EXISTS " + s);
    tx.exec("SET LOCAL search_path = " + s + ", pg_catalog");
    const bool has_table = !tx.exec_params1("SELECT to_regclass($1) IS NULL", schema + ".rowsched_migration")[0].as<bool>();
    if (has_table && !tx.exec_params("SELECT 1 FROM rowsched_migration WHERE name = $1", m.name).empty()) {
      tx.commit();
      continue;
    }
    try {
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO rowsched_migration (name) VALUES ($1) ON CONFLICT DO NOTHING", m.name);
      tx.commit();
    } catch (const pqxx::sql_error& e) {
      throw std::runtime_error("migration " + m.name + " failed: " + e.what());
    }
    applied.push_back(m.name);
  }
  return applied;
}

}  // namespace rowsched::store
