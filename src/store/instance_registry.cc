#include "store/instance_registry.h"

#include "store/guarded.h"

namespace rowsched::store {

InstanceRegistry::InstanceRegistry(pqxx::connection& conn, const Statements& sql, std::string instance)
    : conn_(conn), sql_(sql), instance_(std::move(instance)) {}

void InstanceRegistry::heartbeat(int pid, const std::string& host) {
  guarded([&] {
    pqxx::nontransaction(conn_).exec_params(sql_["heartbeat.sql"], instance_, pid, host, std::string(ROWSCHED_VERSION));
  });
}

void InstanceRegistry::deregister() {
  guarded([&] {
    pqxx::nontransaction(conn_).exec_params("DELETE FROM " + sql_.quoted_schema() +
                                                ".scheduler_instance WHERE instance = $1",
                                            instance_);
  });
}

void InstanceRegistry::clear_is_running_if_last(Duration alive) {
  guarded([&] {
    pqxx::nontransaction(conn_).exec_params(sql_["clear_is_running_if_last.sql"], instance_,
                                            static_cast<long long>(alive.count()));
  });
}

int64_t InstanceRegistry::mark_own_runs_lost() {
  return guarded([&] {
    const auto r = pqxx::nontransaction(conn_).exec_params(sql_["mark_own_runs_lost.sql"], instance_);
    return static_cast<int64_t>(r.affected_rows());
  });
}

}  // namespace rowsched::store
