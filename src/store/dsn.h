// Connection strings: where the DSN comes from, and how it is shown in logs (never with a password).
#pragma once

#include <string>
#include <string_view>

namespace rowsched::store {

// The DSN to use: `flag` when given, else $DATABASE_URL, else "" (libpq's PGHOST, PGPORT, ... defaults).
std::string resolve_dsn(const std::string& flag);

// `dsn` with any password replaced by "***", for both the key=value form (password=secret) and the
// URI form (postgresql://user:secret@host/db). Safe to log.
std::string redact_dsn(std::string_view dsn);

}  // namespace rowsched::store
