#include "daemon/schema_check.h"

#include <set>
#include <string>
#include <vector>

#include "store/migrations.h"

namespace rowsched::daemon {

void check_schema_current(LoopStore& store, const store::FaultContext& context) {
  const auto applied = store.applied_migrations();
  if (!applied || applied->empty()) return;
  const std::set<std::string> have(applied->begin(), applied->end());
  std::vector<std::string> missing;
  for (const auto& m : store::embedded_migrations())
    if (have.count(m.name) == 0) missing.push_back(m.name);
  if (!missing.empty()) throw store::SchemaNotCurrent(store::schema_not_current_message(missing, context));
}

}  // namespace rowsched::daemon
