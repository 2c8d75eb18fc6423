// store::OwnerPipelines' pure parts: which statements are pipelined, which run over the simple query
// protocol on a pipelined session (COPY goes to a blocking one), and the shape that tells statements
// known to be fast.
#include <catch2/catch.hpp>

#include "store/owner_pipelines.h"

using rowsched::store::OwnerPipelines;

TEST_CASE("a single statement is pipelined, with or without a trailing semicolon", "[owner]") {
  CHECK(OwnerPipelines::can_pipeline("INSERT INTO stamp VALUES (clock_timestamp())"));
  CHECK(OwnerPipelines::can_pipeline("VACUUM items;  \n"));
  CHECK(OwnerPipelines::can_pipeline("SELECT pg_notify($1, $2)"));
}

TEST_CASE("several statements, COPY and transaction control are not pipelined", "[owner]") {
  CHECK_FALSE(OwnerPipelines::can_pipeline("SELECT 1; SELECT 2"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("DO $$ BEGIN PERFORM 1; END $$"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("COPY (SELECT 1) TO STDOUT"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("  begin"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("START TRANSACTION"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("COMMIT"));
  CHECK_FALSE(OwnerPipelines::can_pipeline("PREPARE p AS SELECT 1"));
  CHECK_FALSE(OwnerPipelines::can_pipeline(" ; "));
}

TEST_CASE("what is not pipelined runs over the simple protocol on a pipelined session, but COPY", "[owner]") {
  CHECK(OwnerPipelines::can_run_simple("SELECT 1; SELECT 2"));
  CHECK(OwnerPipelines::can_run_simple("BEGIN; INSERT INTO t VALUES (1); COMMIT"));
  CHECK(OwnerPipelines::can_run_simple("DO $$ BEGIN PERFORM 1; END $$"));
  CHECK_FALSE(OwnerPipelines::can_run_simple("COPY (SELECT 1) TO STDOUT"));
  CHECK_FALSE(OwnerPipelines::can_run_simple("SELECT 1; copy t FROM stdin"));
  CHECK_FALSE(OwnerPipelines::can_run_simple(" ; "));
}

TEST_CASE("statements that differ only in their literals have one shape", "[owner]") {
  const auto a = OwnerPipelines::statement_shape("INSERT INTO t VALUES ('job-17', 3.5, clock_timestamp())");
  const auto b = OwnerPipelines::statement_shape("INSERT INTO t VALUES ('it''s job 2', 42, clock_timestamp())");
  CHECK(a == b);
  CHECK(a == "INSERT INTO t VALUES (?, ?, clock_timestamp())");
  CHECK(OwnerPipelines::statement_shape("SELECT pg_sleep(4)") != OwnerPipelines::statement_shape("SELECT 1"));
  CHECK(OwnerPipelines::statement_shape("SELECT col2 FROM t1") == "SELECT col2 FROM t1");
}
