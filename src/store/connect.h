// Opening a libpqxx connection the way every part of src/store needs it. Internal to src/store.
#pragma once

#include <memory>
#include <string>

#include <pqxx/pqxx>

namespace rowsched::store {

// Connects to `dsn` with automatic reactivation off: libpqxx 6 would otherwise silently reconnect a
// broken connection, losing LISTENs and session state; rowsched reconnects itself, with backoff and
// a full reload. The session's application_name is `application_name`, so operators see in
// pg_stat_activity which sessions are rowsched's. Throws pqxx::broken_connection.
std::unique_ptr<pqxx::connection> open_connection(const std::string& dsn, const std::string& application_name);

}  // namespace rowsched::store
