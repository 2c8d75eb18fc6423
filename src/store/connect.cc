#include "store/connect.h"

namespace rowsched::store {

std::unique_ptr<pqxx::connection> open_connection(const std::string& dsn, const std::string& application_name) {
  auto conn = std::make_unique<pqxx::connection>(dsn);
  // Deprecated in 6.4 but still the only switch there is.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
  conn->inhibit_reactivation(true);
#pragma GCC diagnostic pop
  conn->set_client_encoding("UTF8");
  pqxx::nontransaction(*conn).exec_params("SELECT set_config('application_name', $1, false)", application_name);
  return conn;
}

}  // namespace rowsched::store
