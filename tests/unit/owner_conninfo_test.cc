// store::owner_conninfo: a job owner's session is the daemon's DSN logged in as the owner, never with
// the daemon's password, whichever form the DSN has.
#include <catch2/catch.hpp>

#include "store/owner_conninfo.h"

using rowsched::store::login_user;
using rowsched::store::owner_conninfo;

TEST_CASE("an owner's session keeps the daemon's host and database but not its user or password", "[owner]") {
  const auto c = owner_conninfo("host=db port=5433 dbname=jobs user=rowsched password=hunter2", "alice", "rowsched job");
  // In libpq's order of keywords.
  CHECK(c == "dbname='jobs' host='db' port='5433' user='alice' password='' application_name='rowsched job'");
}

TEST_CASE("a URL DSN loses its password the same way", "[owner]") {
  const auto c = owner_conninfo("postgresql://rowsched:hunter2@db:5433/jobs?sslmode=require", "alice", "rowsched job");
  CHECK(c.find("hunter2") == std::string::npos);
  CHECK(c.find("user='alice'") != std::string::npos);
  CHECK(c.find("sslmode='require'") != std::string::npos);
  CHECK(c.find("host='db'") != std::string::npos);
}

TEST_CASE("a job owned by the daemon's own login role keeps the daemon's password", "[owner]") {
  CHECK(owner_conninfo("host=db user=rowsched password=hunter2", "rowsched", "x") ==
        "password='hunter2' host='db' user='rowsched' application_name='x'");
  CHECK(login_user("postgresql://rowsched@db/jobs") == "rowsched");
}

TEST_CASE("owner names and values with quotes and backslashes are quoted for libpq", "[owner]") {
  CHECK(owner_conninfo("host=db application_name=mine", R"(o'brien\x)", "x") ==
        R"(host='db' application_name='mine' user='o\'brien\\x' password='')");
}

TEST_CASE("a DSN libpq cannot parse is an error that does not repeat the DSN", "[owner]") {
  try {
    owner_conninfo("host=db password=hunter2 nonsense", "alice", "x");
    FAIL("no error");
  } catch (const std::invalid_argument& e) {
    CHECK(std::string(e.what()).find("cannot be parsed") != std::string::npos);
    CHECK(std::string(e.what()).find("hunter2") == std::string::npos);
  }
}

TEST_CASE("whatever a role is named, libpq reads back exactly that user and no other keyword", "[owner]") {
  for (const std::string owner : {"alice host=evil.example", "x' password='stolen", R"(back\slash\)", "' user='postgres",
                                  "Ünïcödé rôle", "trailing\\"}) {
    const auto c = owner_conninfo("host=db dbname=jobs user=rowsched password=hunter2", owner, "rowsched job");
    CHECK(login_user(c) == owner);
    CHECK(c.find("hunter2") == std::string::npos);
    CHECK(c.rfind("dbname='jobs' host='db' ", 0) == 0);
  }
}
