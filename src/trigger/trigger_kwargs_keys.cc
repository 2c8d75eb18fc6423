// Look-up in the generated list (see trigger_kwargs_keys.h); a kind missing from the SQL is a
// programming error found by the first parse of that trigger, in the unit tests.
#include "trigger/trigger_kwargs_keys.h"

#include <stdexcept>

namespace rowsched {

const std::vector<std::string>& trigger_kwargs_keys(std::string_view kind) {
  for (const auto& entry : all_trigger_kwargs_keys())
    if (entry.kind == kind) return entry.keys;
  throw std::logic_error("rowsched_trigger_kwargs_keys in sql/definitions/10_trigger_kwargs.sql lists no kind \"" +
                         std::string(kind) + "\"");
}

}  // namespace rowsched
