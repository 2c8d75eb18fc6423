// Claiming fires: inserting them into job_run, where the row is the claim (UNIQUE (job_id,
// scheduled_for): any number of instances fire each instant once), with max_instances counted across
// instances under per-job advisory locks. Internal to src/store (JobStore::claim is the public side).
#pragma once

#include <string>
#include <vector>

#include <pqxx/pqxx>

#include "store/job_store.h"
#include "store/statements.h"

namespace rowsched::store {

class FireClaimer {
 public:
  FireClaimer(pqxx::connection& conn, const Statements& sql, std::string instance);

  // See JobStore::claim; `fires` holds at most JobStore::kClaimChunk fires (one lock each).
  std::vector<Claim> claim(const std::vector<ClaimRequest>& fires);

  // Calls the claim with no fires: PL/pgSQL compiles the function and the planner makes its plans
  // (30-40 ms on a fresh session), now rather than in the first claim after a start or a reconnect,
  // whose fires would start late by that much. A failure is left for the first real claim to report.
  void warm() noexcept;

 private:
  pqxx::connection& conn_;
  const Statements& sql_;
  std::string instance_;
};

}  // namespace rowsched::store
