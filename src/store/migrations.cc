// Each file runs with search_path = <schema>, pg_catalog so that the same files work unchanged with
// `psql -f` (into public) and with `rowsched migrate --schema S`.
#include "store/migrations.h"

#include <cctype>
#include <cstdint>
#include <cstdio>
#include <set>
#include <stdexcept>

#include <pqxx/pqxx>

#include "store/connect.h"
#include "store/table_shape.h"

namespace rowsched::store {

namespace {

// FNV-1a: stable across platforms and builds, no dependency; a fingerprint, not a security measure.
uint64_t fnv1a(uint64_t hash, const std::string& text) {
  for (unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

// One transaction with the per-schema lock held and the schema first in search_path.
void enter_schema(pqxx::work& tx, const std::string& schema) {
  // One lock per schema name: concurrent `migrate` runs serialise, then see each other's work.
  tx.exec_params("SELECT pg_advisory_xact_lock(hashtext('rowsched.migrate.' || $1))", schema);
  tx.exec("CREATE SCHEMA IF NOT EXISTS " + tx.quote_name(schema));
  tx.exec("SET LOCAL search_path = " + tx.quote_name(schema) + ", pg_catalog");
}

std::set<std::string> recorded_names(pqxx::transaction_base& tx, const std::string& schema) {
  std::set<std::string> names;
  if (tx.exec_params1("SELECT to_regclass($1) IS NULL", tx.quote_name(schema) + ".rowsched_migration")[0].as<bool>())
    return names;
  for (const auto& row : tx.exec("SELECT name FROM " + tx.quote_name(schema) + ".rowsched_migration"))
    names.insert(row[0].as<std::string>());
  return names;
}

// A numbered name ("012_x.sql") the schema records and this binary does not embed.
std::vector<std::string> unknown_numbered(const std::set<std::string>& recorded) {
  std::set<std::string> known;
  for (const Migration& m : embedded_migration_files()) known.insert(m.name);
  std::vector<std::string> unknown;
  for (const auto& name : recorded)
    if (name.size() > 4 && isdigit(static_cast<unsigned char>(name[0])) && name.substr(name.size() - 4) == ".sql" &&
        known.count(name) == 0)
      unknown.push_back(name);
  return unknown;
}

}  // namespace

const std::string& definitions_record_name() {
  static const std::string name = [] {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (const Migration& d : embedded_definition_files()) hash = fnv1a(fnv1a(hash, d.name + '\0'), d.sql + '\0');
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(hash));
    return "definitions-" + std::string(hex);
  }();
  return name;
}

const std::vector<Migration>& embedded_migrations() {
  static const std::vector<Migration> all = [] {
    std::vector<Migration> list = embedded_migration_files();
    std::string text;
    for (const Migration& d : embedded_definition_files()) text += d.sql + "\n";
    list.push_back({definitions_record_name(), text});
    return list;
  }();
  return all;
}

std::vector<std::string> apply_migrations(const std::string& dsn, const std::string& schema) {
  auto connection = open_connection(dsn, "rowsched migrate");
  pqxx::connection& conn = *connection;
  std::vector<std::string> applied;
  {
    // Before anything is created: a foreign job_info would otherwise fail half-way with a server
    // message (`column old.version does not exist`) that does not say what to do.
    pqxx::read_transaction tx(conn);
    if (auto problem = foreign_table_problem(tx, schema)) throw std::runtime_error(*problem);
    if (const auto unknown = unknown_numbered(recorded_names(tx, schema)); !unknown.empty()) {
      std::string list;
      for (const auto& name : unknown) list += (list.empty() ? "" : ", ") + name;
      throw std::runtime_error("schema " + schema + " was migrated by a newer rowsched: it has migration" +
                               (unknown.size() == 1 ? " " : "s ") + list + ", which this rowsched " ROWSCHED_VERSION
                               " does not know; migrate with the newer rowsched (this one would replace its "
                               "functions and triggers with older ones)");
    }
  }
  for (const Migration& m : embedded_migration_files()) {
    pqxx::work tx(conn);
    enter_schema(tx, schema);
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
  // Every time: a database whose functions were edited by hand, or migrated by an older binary with
  // the same numbered files, ends with exactly this binary's definitions.
  pqxx::work tx(conn);
  enter_schema(tx, schema);
  for (const Migration& d : embedded_definition_files()) {
    try {
      tx.exec(d.sql);
    } catch (const pqxx::sql_error& e) {
      throw std::runtime_error("sql/" + d.name + " failed: " + e.what());
    }
  }
  const auto recorded = tx.exec_params("INSERT INTO rowsched_migration (name) VALUES ($1) ON CONFLICT DO NOTHING RETURNING 1",
                                       definitions_record_name());
  tx.commit();
  if (!recorded.empty()) applied.push_back(definitions_record_name());
  return applied;
}

}  // namespace rowsched::store
