// Whether the database's schema has every migration this binary embeds (store/migrations.h): a
// daemon started on an older schema stops with the names of the missing migrations and how to apply
// them, instead of failing later on a missing column.
#pragma once

#include "daemon/loop_store.h"
#include "store/fault.h"

namespace rowsched::daemon {

// Throws store::SchemaNotCurrent naming what is missing. Files run by hand with psql are not
// recorded (docs/sql-contract.md): when nothing is recorded, or the role may not read the record,
// there is nothing to compare with and this passes.
void check_schema_current(LoopStore& store, const store::FaultContext& context);

}  // namespace rowsched::daemon
