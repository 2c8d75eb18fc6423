// Turns one job_info row into what the loop keeps of it (a KnownJob) and, when the row is valid,
// the definition the Schedule takes: func_args checked by the func's handler, trigger_kwargs parsed
// with the default time zone and the row's trigger_time, the options resolved against the daemon's
// defaults. An invalid row comes back with state invalid and the reason; only a bug throws.
//
// Between begin_batch() and the end of its scope, a DefinitionCache shares the parses of repeated
// values between rows (definition_cache.h).
//
// Thread safety: none; the loop's thread only.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "daemon/definition_cache.h"
#include "daemon/job_table.h"
#include "run/handler.h"
#include "schedule/schedule.h"
#include "store/job_store.h"

namespace rowsched::daemon {

struct ParsedRow {
  KnownJob job;  // state invalid (with error) or scheduled; the caller settles paused or finished
  std::optional<schedule::JobDefinition> definition;  // set when the row is valid
};

class RowParser {
 public:
  // `handlers` must outlive the parser. `throw_on` is a test hook: parsing that job_id's row throws
  // ($ROWSCHED_TEST_THROW_ON_APPLY).
  RowParser(const run::HandlerRegistry& handlers, Zone default_zone, Duration default_grace,
            std::optional<std::string> throw_on = std::nullopt);

  ParsedRow parse(const store::JobRow& row);

  // Shares parses between the rows parsed while the returned object lives (when `worth_it`).
  class Batch {
   public:
    Batch(std::unique_ptr<DefinitionCache>& slot, bool worth_it) : slot_(slot) {
      if (worth_it) slot_ = std::make_unique<DefinitionCache>();
    }
    ~Batch() { slot_.reset(); }
    Batch(const Batch&) = delete;
    Batch& operator=(const Batch&) = delete;

   private:
    std::unique_ptr<DefinitionCache>& slot_;
  };
  Batch begin_batch(bool worth_it) { return Batch(cache_, worth_it); }

 private:
  DefinitionCache::Args parse_args(const store::JobRow& row);
  DefinitionCache::Spec parse_spec(const store::JobRow& row);

  const run::HandlerRegistry& handlers_;
  Zone default_zone_;
  Duration default_grace_;
  std::optional<std::string> throw_on_;
  std::unique_ptr<DefinitionCache> cache_;
};

}  // namespace rowsched::daemon
