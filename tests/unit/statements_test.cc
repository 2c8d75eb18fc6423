// store::Statements: the embedded statements of src/store/statements/ reach the server with the
// schema's quoted name in place of @schema@ and without their leading comment.
#include <catch2/catch.hpp>

#include <stdexcept>

#include "store/statements.h"

using rowsched::store::embedded_statements;
using rowsched::store::Statements;

TEST_CASE("every embedded statement names its tables in the schema it was given", "[statements]") {
  const Statements sql("\"my \"\"odd\"\" schema\"");
  REQUIRE_FALSE(embedded_statements().empty());
  for (const auto& s : embedded_statements()) {
    INFO(s.name);
    const std::string& text = sql[s.name];
    CHECK(text.find("@schema@") == std::string::npos);
    CHECK(text.rfind("--", 0) != 0);  // the leading comment is not sent
    CHECK_FALSE(text.empty());
  }
  CHECK(sql["bookkeeping.sql"].find("UPDATE \"my \"\"odd\"\" schema\".job_info") != std::string::npos);
}

TEST_CASE("asking for a statement that does not exist names the missing file", "[statements]") {
  const Statements sql("\"public\"");
  CHECK_THROWS_WITH(sql["nope.sql"], Catch::Contains("src/store/statements/nope.sql"));
}
