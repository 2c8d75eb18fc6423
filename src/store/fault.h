// What a failure of rowsched's database work means for an operator: the error as one clean line
// (pg_error.h), followed, for the known persistent faults that retrying alone never fixes, by what
// to do about them:
//   schema not migrated      -> run `rowsched migrate --dsn ...` (the password masked)
//   schema older than binary -> which migrations are missing, and the same command
//   permission denied        -> the GRANT that is missing, for the role rowsched logs in as
//   authentication failed    -> where the credentials come from (never the password itself)
//   too many connections     -> how many rowsched needs and what to raise or lower
// Pure text: no I/O (pqxx is looked at only to read an exception's SQLSTATE).
#pragma once

#include <exception>
#include <stdexcept>
#include <string>
#include <vector>

namespace rowsched::store {

// The schema lacks migrations this binary embeds (its what() is the whole advice).
class SchemaNotCurrent : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct FaultContext {
  std::string dsn;     // as given; shown only through redact_dsn
  std::string schema;  // --schema
  std::string role;    // the role rowsched is logged in as ("" when unknown)
};

// One line: the cleaned error and, for a known fault, what to do.
std::string describe_fault(const std::exception& e, const FaultContext& ctx);

// The `rowsched migrate ...` command line for this DSN and schema, password masked.
std::string migrate_command(const FaultContext& ctx);

// The message of SchemaNotCurrent: `missing` are embedded migrations not recorded in
// <schema>.rowsched_migration.
std::string schema_not_current_message(const std::vector<std::string>& missing, const FaultContext& ctx);

}  // namespace rowsched::store
