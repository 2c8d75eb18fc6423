// The command line: `rowsched migrate`, `rowsched run`, `rowsched status`, `rowsched next`. Parses
// arguments (for migrate, run and status also ROWSCHED_* environment variables and --config, see
// daemon/config.h), then hands over to src/daemon (migrate, run, status) or to src/trigger (next).
// Exit codes: 0 success, 1 runtime failure (database unreachable, ...), 2 invalid input.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "daemon/commands.h"
#include "daemon/config.h"
#include "daemon/import_pg_cron.h"
#include "trigger/jitter.h"
#include "trigger/trigger_kwargs.h"

namespace {

using rowsched::TimePoint;

constexpr int kInvalidInput = 2;

// The next `count` fires of one trigger_kwargs, as the scheduler would advance a job that always
// runs on time: the first at or after `from`, each next one after the previous.
std::vector<TimePoint> next_fires(const std::string& kwargs_json, TimePoint from, int count, rowsched::Zone zone) {
  rowsched::ParseContext ctx{zone, from};
  const rowsched::JobSpec spec = rowsched::parse_trigger_kwargs_text(kwargs_json, ctx);
  std::vector<TimePoint> out;
  std::optional<TimePoint> nominal =
      spec.options.next_run_time ? spec.options.next_run_time : spec.trigger->next_fire_time(std::nullopt, from);
  while (nominal && static_cast<int>(out.size()) < count) {
    out.push_back(*nominal + rowsched::jitter_offset("", *nominal, spec.trigger->jitter()));
    nominal = spec.trigger->next_fire_time(*nominal, *nominal);
  }
  return out;
}

std::optional<TimePoint> parse_from(const std::string& text) {
  return rowsched::parse_timestamp(text, date::locate_zone("UTC"));
}

// `next --batch`: one JSON request per input line, one JSON answer per output line. Used by the
// differential test so that thousands of cases cost one process.
int run_next_batch() {
  std::string line;
  while (std::getline(std::cin, line)) {
    nlohmann::json answer;
    try {
      const auto req = nlohmann::json::parse(line);
      const auto from = parse_from(req.at("from").get<std::string>());
      if (!from) throw rowsched::TriggerError("from: not an RFC 3339 timestamp");
      auto zone = rowsched::find_zone(req.value("timezone", "UTC"));
      if (!zone) throw rowsched::TriggerError("timezone: not a known IANA time zone");
      answer["times"] = nlohmann::json::array();
      for (TimePoint t : next_fires(req.at("trigger_kwargs").dump(), *from, req.value("count", 10), *zone))
        answer["times"].push_back(rowsched::format_rfc3339(t));
    } catch (const std::exception& e) {
      answer = {{"error", e.what()}};
    }
    std::cout << answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << '\n' << std::flush;
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"rowsched: a PostgreSQL table as a job scheduler"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "rowsched " ROWSCHED_VERSION);

  // One Options per command: CLI11 also reads the environment for commands that were not invoked,
  // so commands sharing one struct would overwrite a flag of the invoked one (ROWSCHED_TIMEZONE
  // through `status` over `run --timezone`).
  rowsched::daemon::Options migrate_opt, run_opt, status_opt;
  auto add_db_options = [](CLI::App* cmd, rowsched::daemon::Options& opt) {
    cmd->add_option("--dsn", opt.dsn, "PostgreSQL connection string (default: $DATABASE_URL, then libpq's PG* variables)")
        ->envname("DATABASE_URL");
    cmd->add_option("--schema", opt.schema, "Schema holding job_info, job_run and scheduler_instance")->capture_default_str();
  };

  auto* migrate = app.add_subcommand("migrate", "Create or upgrade the tables, triggers and views");
  add_db_options(migrate, migrate_opt);
  rowsched::daemon::add_logging_options(*migrate, migrate_opt);

  auto* run = app.add_subcommand("run", "Run the scheduler in the foreground");
  add_db_options(run, run_opt);
  rowsched::daemon::add_run_options(*run, run_opt);

  auto* status = app.add_subcommand("status", "Print every job's state, next and last run and run counts (from job_status)");
  add_db_options(status, status_opt);
  status->add_option("--timezone", status_opt.timezone, "Time zone the times are shown in")->capture_default_str();

  const std::pair<CLI::App*, rowsched::daemon::Options*> commands[] = {{migrate, &migrate_opt}, {run, &run_opt}, {status, &status_opt}};
  for (auto [cmd, opt] : commands) {
    rowsched::daemon::add_config_option(*cmd, opt->config);
    rowsched::daemon::bind_environment(*cmd);
  }

  rowsched::daemon::Options import_opt;
  bool import_unschedule = false;
  auto* import_pg_cron = app.add_subcommand("import-pg-cron", "Copy pg_cron's jobs (cron.job) into job_info (docs/pg-cron.md)");
  add_db_options(import_pg_cron, import_opt);
  import_pg_cron->add_flag("--unschedule", import_unschedule, "Remove each job copied from pg_cron (cron.unschedule)");

  auto* next = app.add_subcommand("next", "Print the next fire times of a trigger_kwargs object, one per line (RFC 3339 UTC)");
  std::string from_text, zone_name = "UTC", kwargs_json;
  int count = 10;
  bool batch = false;
  next->add_option("--from", from_text, "Start instant, RFC 3339 (no offset = UTC); default now");
  next->add_option("--count", count, "How many fire times to print")->capture_default_str()->check(CLI::Range(1, 100000));
  next->add_option("--timezone", zone_name, "Time zone for triggers without a timezone key")->capture_default_str();
  next->add_flag("--batch", batch, "Read JSON requests from stdin, one per line (for tests)");
  next->add_option("trigger_kwargs", kwargs_json, "The trigger_kwargs JSON object");

  try {
    app.parse(argc, argv);
    for (auto [cmd, opt] : commands)
      if (*cmd) rowsched::daemon::apply_config_file(*cmd, opt->config, app);
  } catch (const CLI::ParseError& e) {
    if (app.exit(e) == 0) return 0;
    for (CLI::App* cmd : {migrate, run, status}) {
      if (!*cmd) continue;
      const auto source = rowsched::daemon::environment_source(*cmd, e.what(), std::vector<std::string>(argv + 1, argv + argc));
      if (!source.empty()) std::cerr << source << "\n";
    }
    return kInvalidInput;
  }

  if (*migrate) return rowsched::daemon::migrate(migrate_opt);
  if (*run) return rowsched::daemon::run(run_opt);
  if (*status) return rowsched::daemon::status(status_opt);
  if (*import_pg_cron) return rowsched::daemon::import_pg_cron(import_opt, import_unschedule);

  if (batch) return run_next_batch();
  if (kwargs_json.empty()) {
    std::cerr << "rowsched next: give the trigger_kwargs JSON object, e.g. '{\"trigger\": \"cron\", \"minute\": \"*/5\"}'\n";
    return kInvalidInput;
  }
  TimePoint from = std::chrono::time_point_cast<rowsched::Duration>(std::chrono::system_clock::now());
  if (!from_text.empty()) {
    auto parsed = parse_from(from_text);
    if (!parsed) {
      std::cerr << "rowsched next: --from \"" << from_text << "\" is not a timestamp; allowed: RFC 3339 such as 2024-03-31T01:30:00Z\n";
      return kInvalidInput;
    }
    from = *parsed;
  }
  auto zone = rowsched::find_zone(zone_name);
  if (!zone) {
    std::cerr << "rowsched next: --timezone \"" << zone_name << "\" is not a known IANA time zone; allowed: e.g. UTC, Europe/Berlin\n";
    return kInvalidInput;
  }
  try {
    for (TimePoint t : next_fires(kwargs_json, from, count, *zone)) std::cout << rowsched::format_rfc3339(t) << '\n';
  } catch (const std::exception& e) {
    std::cerr << "rowsched next: " << e.what() << '\n';
    return kInvalidInput;
  }
  return 0;
}
