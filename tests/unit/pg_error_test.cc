// PostgreSQL errors as they are stored in job_run.error and job_info.last_error: one clean line.
#include <catch2/catch.hpp>

#include "store/pg_error.h"

using rowsched::store::format_pg_error;

TEST_CASE("a server error loses libpq's prefix and newline and gains its SQLSTATE", "[pg_error]") {
  CHECK(format_pg_error("ERROR:  division by zero\n", "22012") == "division by zero (SQLSTATE 22012)");
}

TEST_CASE("DETAIL, HINT and CONTEXT follow the message on the same line", "[pg_error]") {
  const std::string text =
      "ERROR:  duplicate key value violates unique constraint \"t_pkey\"\n"
      "DETAIL:  Key (id)=(1) already exists.\n"
      "HINT:  Pick another id.\n"
      "CONTEXT:  SQL statement \"INSERT INTO t VALUES (1)\"\n"
      "PL/pgSQL function f() line 3 at SQL statement\n";
  CHECK(format_pg_error(text, "23505") ==
        "duplicate key value violates unique constraint \"t_pkey\" (SQLSTATE 23505); DETAIL: Key (id)=(1) already "
        "exists.; HINT: Pick another id.; CONTEXT: SQL statement \"INSERT INTO t VALUES (1)\" / PL/pgSQL function f() "
        "line 3 at SQL statement");
}

TEST_CASE("the LINE excerpt and its caret of a syntax error are dropped", "[pg_error]") {
  const std::string text =
      "ERROR:  syntax error at or near \"SELEC\"\n"
      "LINE 1: SELEC 1\n"
      "        ^\n";
  CHECK(format_pg_error(text, "42601") == "syntax error at or near \"SELEC\" (SQLSTATE 42601)");
}

TEST_CASE("a connection error without a severity prefix keeps its text on one line", "[pg_error]") {
  CHECK(format_pg_error("connection to server at \"127.0.0.1\", port 1 failed: Connection refused\n"
                        "\tIs the server running on that host and accepting TCP/IP connections?\n",
                        "") ==
        "connection to server at \"127.0.0.1\", port 1 failed: Connection refused Is the server running on that host "
        "and accepting TCP/IP connections?");
}

TEST_CASE("a severity libpq embeds inside its connection message is dropped too", "[pg_error]") {
  CHECK(format_pg_error("connection to server at \"127.0.0.1\", port 5432 failed: FATAL:  database \"nope\" does not exist\n", "") ==
        "connection to server at \"127.0.0.1\", port 5432 failed: database \"nope\" does not exist");
}
