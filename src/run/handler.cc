#include "run/handler.h"

#include <future>

namespace rowsched::run {

RunOutcome Handler::run_started(const RunRequest& request) const {
  std::promise<RunOutcome> outcome;
  auto future = outcome.get_future();
  start(request, [&outcome](RunOutcome o) { outcome.set_value(std::move(o)); });
  return future.get();
}

}  // namespace rowsched::run
