#include "daemon/control_connection.h"

namespace rowsched::daemon {

ControlConnection::ControlConnection(std::string dsn, std::string schema, std::string instance)
    : store_(std::move(dsn), std::move(schema), std::move(instance)) {}

}  // namespace rowsched::daemon
