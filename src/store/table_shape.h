// Whether the tables rowsched is about to create already exist in another shape: a schema that holds,
// say, the seed's Django table renamed to job_info (or any hand-made job_info or job_run) must not be
// migrated into, because `CREATE TABLE IF NOT EXISTS` keeps the foreign table and the next migration
// fails on a column it lacks (`column old.version does not exist`), leaving the user no clue.
#pragma once

#include <optional>
#include <string>

#include <pqxx/pqxx>

namespace rowsched::store {

// Inspects <schema>.job_info and <schema>.job_run in the transaction's snapshot. Returns nullopt when
// each is absent or has every column rowsched's first migration gives it; otherwise a message naming
// the table, the columns it lacks and what to do (rename the table, or migrate into another --schema).
std::optional<std::string> foreign_table_problem(pqxx::transaction_base& tx, const std::string& schema);

}  // namespace rowsched::store
