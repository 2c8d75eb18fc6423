// How far ahead fires are claimed (daemon/claim_lead.h): 1.5 x the recent longest claim, decaying,
// within 5-100 ms, and earlier before a burst of fires due at one instant.
#include <catch2/catch.hpp>

#include "daemon/claim_lead.h"

using namespace rowsched;
using namespace rowsched::daemon;
using std::chrono::microseconds;
using std::chrono::milliseconds;

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
  // 50 us per fire to start with: 1,000 fires take 50 ms, so claim 75 ms ahead.
  CHECK(lead.horizon(1000) == milliseconds(75));
  CHECK(lead.horizon(100000) == milliseconds(100));
  // Large claims measure the cost per fire: 2,000 fires in 20 ms is 10 us each, averaged with 50.
  lead.claimed(2000, milliseconds(20));
  CHECK(lead.horizon(1000) == milliseconds(45));
  CHECK(lead.burst_worth_counting() == 2223);  // past 100 ms / (1.5 x 30 us) the horizon is 100 ms anyway
}
