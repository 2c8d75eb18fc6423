// --metrics-addr: which HOST:PORT forms are accepted, and what they bind.
#include <catch2/catch.hpp>

#include "daemon/metrics_server.h"

using rowsched::daemon::parse_listen_address;

TEST_CASE("The --metrics-addr value accepts host:port, bracketed IPv6 with a port, and :port for every interface", "[metrics]") {
  auto a = parse_listen_address("127.0.0.1:9187");
  REQUIRE(a);
  CHECK((a->host == "127.0.0.1" && a->port == 9187));
  a = parse_listen_address("[::1]:9187");
  REQUIRE(a);
  CHECK((a->host == "::1" && a->port == 9187));
  a = parse_listen_address(":9187");
  REQUIRE(a);
  CHECK((a->host == "0.0.0.0" && a->port == 9187));
  a = parse_listen_address("metrics.internal:80");
  REQUIRE(a);
  CHECK(a->host == "metrics.internal");
}

TEST_CASE("The --metrics-addr value rejects a missing or out-of-range port and IPv6 without brackets", "[metrics]") {
  for (const char* bad : {"localhost", "localhost:", "localhost:0", "localhost:65536", "localhost:http", "::1:9187",
                          "127.0.0.1:91 87", "127.0.0.1:-1"})
    CHECK_FALSE(parse_listen_address(bad));
}
