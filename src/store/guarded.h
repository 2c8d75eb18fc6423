// One rule for every src/store part that owns a libpqxx connection: which failures mean the session
// is gone (reconnect and reload) and which are a statement's own error. Internal to src/store.
#pragma once

#include <string>

#include <pqxx/pqxx>

#include "store/job_store.h"

namespace rowsched::store {

// Runs `f`, turning a broken connection into ConnectionLost; other errors pass through unchanged.
template <typename F>
auto guarded(F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const pqxx::broken_connection& e) {
    throw ConnectionLost(e.what());
  } catch (const pqxx::in_doubt_error& e) {
    throw ConnectionLost(e.what());
  } catch (const pqxx::sql_error& e) {
    // 57P01 admin_shutdown (pg_terminate_backend), 57P02/57P03, 08xxx: the session is gone.
    const std::string state = e.sqlstate();
    if (state.rfind("57P", 0) == 0 || state.rfind("08", 0) == 0) throw ConnectionLost(e.what());
    if (state == "55P03") throw RowsLocked(e.what());  // lock_not_available: lock_timeout ran out
    throw;
  }
}

}  // namespace rowsched::store
