// store::ResultSummary: a query's rows fed one by one (libpq's single-row mode) summarize exactly as
// the whole result does (owner_result_summary, what job_run.output said before rows were streamed).
// The results are built with libpq's own constructors; no server. And the owner login messages: a
// refusal for lack of room told from one for who logs in.
#include <libpq-fe.h>

#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "store/owner_session.h"

using rowsched::store::owner_result_summary;
using rowsched::store::ResultSummary;

namespace {

struct Clear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Result = std::unique_ptr<PGresult, Clear>;

using Row = std::vector<std::optional<std::string>>;

// A result of `status` with columns n and note (text) and `rows`.
Result make(ExecStatusType status, const std::vector<Row>& rows) {
  Result r(PQmakeEmptyPGresult(nullptr, status));
  PGresAttDesc columns[2] = {};
  columns[0].name = const_cast<char*>("n");
  columns[0].typid = 25;
  columns[0].typlen = -1;
  columns[1].name = const_cast<char*>("note");
  columns[1].typid = 25;
  columns[1].typlen = -1;
  REQUIRE(PQsetResultAttrs(r.get(), 2, columns));
  for (size_t i = 0; i < rows.size(); ++i)
    for (int c = 0; c < 2; ++c) {
      const auto& v = rows[i][static_cast<size_t>(c)];
      REQUIRE(PQsetvalue(r.get(), static_cast<int>(i), c, v ? const_cast<char*>(v->c_str()) : nullptr,
                         v ? static_cast<int>(v->size()) : -1));
    }
  return r;
}

std::vector<Row> rows_of(int count) {
  std::vector<Row> rows;
  for (int i = 1; i <= count; ++i)
    rows.push_back({std::to_string(i), i % 3 == 0 ? std::nullopt : std::optional<std::string>("é \"q\" " + std::to_string(i))});
  return rows;
}

// The summary of `rows` streamed: one PGRES_SINGLE_TUPLE each, then a PGRES_TUPLES_OK of none.
std::string streamed(ResultSummary& summary, const std::vector<Row>& rows) {
  for (const Row& row : rows) summary.add(make(PGRES_SINGLE_TUPLE, {row}).get());
  summary.add(make(PGRES_TUPLES_OK, {}).get());
  return summary.text();
}

}  // namespace

TEST_CASE("a query's rows streamed one by one summarize as the whole result does", "[owner]") {
  for (int count : {0, 1, 9, 10, 11, 250}) {
    CAPTURE(count);
    const auto rows = rows_of(count);
    ResultSummary summary;
    CHECK(streamed(summary, rows) == owner_result_summary(make(PGRES_TUPLES_OK, rows).get()));
  }
}

TEST_CASE("a whole result fed to the summary is the summary of that result", "[owner]") {
  const auto rows = rows_of(12);
  ResultSummary summary;
  summary.add(make(PGRES_TUPLES_OK, rows).get());
  CHECK(summary.text() == owner_result_summary(make(PGRES_TUPLES_OK, rows).get()));
  CHECK(summary.text().find("\"rows\":12") != std::string::npos);
}

TEST_CASE("the next statement's result starts the summary anew: the last statement's is kept", "[owner]") {
  ResultSummary summary;
  streamed(summary, rows_of(30));
  CHECK(streamed(summary, rows_of(2)) == owner_result_summary(make(PGRES_TUPLES_OK, rows_of(2)).get()));
}

TEST_CASE("nothing fed summarizes as no rows affected, and an error result is not the summary's", "[owner]") {
  ResultSummary summary;
  CHECK(summary.text() == R"({"affected_rows":0})");
  summary.add(make(PGRES_FATAL_ERROR, {}).get());
  CHECK(summary.text() == R"({"affected_rows":0})");
}

TEST_CASE("a login refused for lack of room is told from one refused for who logs in", "[owner]") {
  using rowsched::store::owner_login_error_message;
  using rowsched::store::refused_for_lack_of_room;
  const std::string role_full = "connection to server failed: FATAL:  too many connections for role \"alice\"";
  const std::string server_full = "connection to server failed: FATAL:  sorry, too many clients already";
  const std::string no_login = "connection to server failed: FATAL:  role \"alice\" is not permitted to log in";
  CHECK(refused_for_lack_of_room(role_full));
  CHECK(refused_for_lack_of_room(server_full));
  CHECK_FALSE(refused_for_lack_of_room(no_login));
  for (const auto& why : {role_full, server_full}) {
    const std::string m = owner_login_error_message("alice", why);
    CHECK(m.find("cannot open another session as the job's owner role \"alice\"") == 0);
    CHECK(m.find("CONNECTION LIMIT or the server's max_connections") != std::string::npos);
    CHECK(m.find(why) != std::string::npos);
  }
  const std::string m = owner_login_error_message("alice", no_login);
  CHECK(m.find("cannot log in as the job's owner role \"alice\"") == 0);
  CHECK(m.find("ALTER ROLE \"alice\" LOGIN") != std::string::npos);
}
