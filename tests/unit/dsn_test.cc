// store::redact_dsn: whatever form a connection string has, what rowsched logs never holds its password.
#include <catch2/catch.hpp>

#include "store/dsn.h"

using rowsched::store::redact_dsn;

TEST_CASE("a key=value DSN is logged with its password replaced and everything else kept", "[dsn]") {
  CHECK(redact_dsn("host=db port=5432 user=app password=hunter2 dbname=jobs") ==
        "host=db port=5432 user=app password=*** dbname=jobs");
  CHECK(redact_dsn("password=hunter2 host=db") == "password=*** host=db");
  CHECK(redact_dsn("host=db password=hunter2") == "host=db password=***");
}

TEST_CASE("a quoted key=value password with spaces and escaped quotes is hidden whole", "[dsn]") {
  CHECK(redact_dsn("host=db password='hunter2 and more' user=app") == "host=db password=*** user=app");
  CHECK(redact_dsn(R"(host=db password='it\'s secret' user=app)") == "host=db password=*** user=app");
}

TEST_CASE("the password keyword is found whatever its case and spacing", "[dsn]") {
  CHECK(redact_dsn("host=db PASSWORD=hunter2") == "host=db PASSWORD=***");
  CHECK(redact_dsn("host=db password = hunter2 user=app") == "host=db password = *** user=app");
}

TEST_CASE("a URI DSN is logged with the password of its user info replaced", "[dsn]") {
  CHECK(redact_dsn("postgresql://app:hunter2@db:5432/jobs") == "postgresql://app:***@db:5432/jobs");
  CHECK(redact_dsn("postgres://app:hunter2@db/jobs?sslmode=require") == "postgres://app:***@db/jobs?sslmode=require");
}

TEST_CASE("a URI DSN is logged with a password in its query string replaced", "[dsn]") {
  CHECK(redact_dsn("postgresql://db/jobs?user=app&password=hunter2&sslmode=require") ==
        "postgresql://db/jobs?user=app&password=***&sslmode=require");
  CHECK(redact_dsn("postgresql://db/jobs?password=hunter2") == "postgresql://db/jobs?password=***");
}

TEST_CASE("a DSN without a password is logged unchanged", "[dsn]") {
  CHECK(redact_dsn("host=db port=5432 user=app dbname=jobs") == "host=db port=5432 user=app dbname=jobs");
  CHECK(redact_dsn("postgresql://app@db:5432/jobs") == "postgresql://app@db:5432/jobs");
  CHECK(redact_dsn("") == "");
}

TEST_CASE("a key merely ending in password is not mistaken for the password", "[dsn]") {
  // libpq has no such key, but nothing other than `password` must be touched.
  CHECK(redact_dsn("host=db passfile=/etc/pgpass") == "host=db passfile=/etc/pgpass");
}
