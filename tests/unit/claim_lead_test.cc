// How far ahead fires are claimed (daemon/claim_lead.h): 1.5 x the recent longest claim, decaying,
// within 5-100 ms, and earlier (up to 1 s) before a burst of fires due at one instant.
#include <catch2/catch.hpp>

#include "daemon/claim_lead.h"

using namespace rowsched;
using namespace rowsched::daemon;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_CASE("Before any claim the lead is the 5 ms minimum", "[claim_lead]") {
  ClaimLead lead;
  CHECK(lead.lead() == milliseconds(5));
  CHECK(lead.horizon(1) == milliseconds(5));
}

TEST_CASE("The lead is one and a half times the longest recent claim, within 5 to 100 ms", "[claim_lead]") {
  ClaimLead lead;
  lead.claimed(1, milliseconds(40));
  CHECK(lead.lead() == milliseconds(60));
  lead.claimed(1, milliseconds(1));
  CHECK(lead.lead() == microseconds(56250));  // 40 ms decayed by 1/16, times 1.5
  lead.claimed(1, milliseconds(500));
  CHECK(lead.lead() == milliseconds(100));
  ClaimLead quick;
  quick.claimed(1, microseconds(100));
  CHECK(quick.lead() == milliseconds(5));
}

TEST_CASE("The lead decays back to the minimum once claims are quick again", "[claim_lead]") {
  ClaimLead lead;
  lead.claimed(1, milliseconds(60));
  for (int i = 0; i < 100; ++i) lead.claimed(1, microseconds(100));
  CHECK(lead.lead() == milliseconds(5));
}

TEST_CASE("A burst of fires due at one instant is claimed earlier, by the measured cost per fire", "[claim_lead]") {
  ClaimLead lead;
  // 50 us per fire to start with: 1,000 fires take 50 ms, so claim 75 ms ahead; but a burst of 64 or
  // more is claimed at least 300 ms ahead, for its owner connections to open first.
  CHECK(lead.horizon(50) == milliseconds(5));  // 3.75 ms, below the minimum
  CHECK(lead.horizon(64) == milliseconds(300));
  CHECK(lead.horizon(1000) == milliseconds(300));
  CHECK(lead.horizon(10000) == milliseconds(750));
  CHECK(lead.horizon(100000) == seconds(1));  // kMaxBurstLead
  // Large claims measure the cost per fire: 2,000 fires in 20 ms is 10 us each, averaged with 50.
  lead.claimed(2000, milliseconds(20));
  CHECK(lead.horizon(1000) == milliseconds(300));
  CHECK(lead.horizon(10000) == milliseconds(450));
  CHECK(lead.burst_worth_counting() == 22223);  // past 1 s / (1.5 x 30 us) the horizon is 1 s anyway
}
