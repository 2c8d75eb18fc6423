// What an operator reads when a database fault persists: the error on one line and what to do.
#include <catch2/catch.hpp>

#include <pqxx/pqxx>

#include "store/fault.h"

using namespace rowsched::store;

namespace {
const FaultContext kContext{"postgresql://sched:hunter2@db.example/prod", "public", "sched"};
}

TEST_CASE("a missing table says to run migrate with the password masked", "[fault]") {
  const pqxx::undefined_table e("ERROR:  relation \"public.job_run\" does not exist\n", "SELECT 1", "42P01");
  const std::string text = describe_fault(e, kContext);
  CHECK(text ==
        "relation \"public.job_run\" does not exist (SQLSTATE 42P01) -- schema public has no rowsched tables: run "
        "`rowsched migrate --dsn 'postgresql://sched:***@db.example/prod'`");
  CHECK(text.find("hunter2") == std::string::npos);
}

TEST_CASE("another schema than public is named in the migrate command", "[fault]") {
  CHECK(migrate_command({"host=db password=x", "jobs", ""}) == "rowsched migrate --dsn 'host=db password=***' --schema jobs");
  CHECK(migrate_command({"", "public", ""}) == "rowsched migrate");
}

TEST_CASE("a schema older than the binary names the missing migrations", "[fault]") {
  CHECK(schema_not_current_message({"008_a.sql", "009_b.sql"}, kContext).find(
            "migrations 008_a.sql, 009_b.sql are not applied; run `rowsched migrate --dsn") != std::string::npos);
  CHECK(schema_not_current_message({"009_b.sql"}, kContext).find("migration 009_b.sql is not applied") != std::string::npos);
}

TEST_CASE("a missing privilege names the GRANT for the role rowsched logs in as", "[fault]") {
  const pqxx::insufficient_privilege e("ERROR:  permission denied for table scheduler_instance\n", "", "42501");
  CHECK(describe_fault(e, kContext) ==
        "permission denied for table scheduler_instance (SQLSTATE 42501) -- the role lacks a privilege: GRANT SELECT, "
        "INSERT, UPDATE, DELETE ON \"public\".\"scheduler_instance\" TO \"sched\"");
  const pqxx::insufficient_privilege seq("ERROR:  permission denied for sequence job_run_run_id_seq\n", "", "42501");
  CHECK(describe_fault(seq, kContext).find("GRANT USAGE, SELECT ON SEQUENCE \"public\".\"job_run_run_id_seq\" TO \"sched\"") !=
        std::string::npos);
}

TEST_CASE("failed authentication and a full server say what to check, never the password", "[fault]") {
  const std::runtime_error auth(
      "connection to server at \"db.example\", port 5432 failed: FATAL:  password authentication failed for user \"sched\"\n");
  const std::string a = describe_fault(auth, kContext);
  CHECK(a.find("password authentication failed for user \"sched\" -- check the user and password") != std::string::npos);
  CHECK(a.find("hunter2") == std::string::npos);
  const std::runtime_error full("connection to server failed: FATAL:  sorry, too many clients already\n");
  CHECK(describe_fault(full, kContext).find("no free connection slot") != std::string::npos);
}

TEST_CASE("an unknown fault is the clean error alone", "[fault]") {
  const std::runtime_error e("connection to server at \"db\", port 1 failed: Connection refused\n");
  CHECK(describe_fault(e, kContext) == "connection to server at \"db\", port 1 failed: Connection refused");
}
