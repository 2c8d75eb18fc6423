// Worker jobs as rowsched sees them without a database: which funcs are `module:callable`, the
// `queue` job option, and the worker-queue lines of `rowsched status`.
#include <catch2/catch.hpp>

#include "daemon/worker_queue_table.h"
#include "run/worker_func.h"
#include "trigger/trigger_kwargs.h"

using namespace rowsched;

namespace {
std::string queue_error(const std::string& kwargs) {
  try {
    parse_trigger_kwargs_text(kwargs, ParseContext{});
  } catch (const TriggerError& e) {
    return e.what();
  }
  return "(no error)";
}
}  // namespace

TEST_CASE("A func of dotted identifiers, one colon, dotted identifiers is a worker job's function") {
  for (const char* func : {"scheduler_jobs.tasks:send_emails", "tasks:run", "a.b.c:Klass.method", "_m:_f", "m2:f2"})
    CHECK(run::is_worker_func(func));
  for (const char* func : {"log", "scheduler_jobs.tasks.test", "a:b:c", ":f", "m:", "m.:f", "m:f.", "1m:f", "m:2f",
                           "a..b:f", "my tasks:f", "m:f()", "ü:f", ""})
    CHECK_FALSE(run::is_worker_func(func));
}

TEST_CASE("trigger_kwargs.queue names a worker queue, default \"default\"") {
  CHECK(parse_trigger_kwargs_text(R"({"trigger": "date"})", ParseContext{}).options.queue == "default");
  CHECK(parse_trigger_kwargs_text(R"({"trigger": "date", "queue": "reports"})", ParseContext{}).options.queue == "reports");
  CHECK(queue_error(R"({"trigger": "date", "queue": 5})") ==
        "trigger_kwargs.queue: 5 is a number; allowed: a queue name, a string of 1 to 100 characters");
  CHECK(queue_error(R"({"trigger": "date", "queue": ""})") ==
        "trigger_kwargs.queue: \"\" is out of range; allowed: a queue name, a string of 1 to 100 characters");
  CHECK(queue_error(R"({"trigger": "date", "queue": null})").find("is null; allowed: a queue name") != std::string::npos);
}

TEST_CASE("rowsched status lists each worker queue and the worker jobs no live worker serves") {
  CHECK(daemon::format_worker_queue_table({}, {}).empty());
  const auto table = daemon::format_worker_queue_table(
      {{"default", 2, 0, 1, 0}, {"reports", 0, 3, 0, 12.34}}, {{"nightly", "no live worker on queue \"reports\""}});
  CHECK(table ==
        "WORKER QUEUE  LIVE WORKERS  QUEUED  RUNNING  OLDEST WAITING\n"
        "default       2             0       1        -\n"
        "reports       0             3       0        12.3 s\n"
        "job nightly: no live worker on queue \"reports\"\n");
}
