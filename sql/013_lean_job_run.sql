-- What a fire costs PostgreSQL (docs/benchmarks.md, 2026-12-07). Idempotent.
--
-- job_run_job_recent (job_id, run_id DESC) took an index entry per claim and another per outcome:
-- 15% of what the claim and the bookkeeping cost the server per fire. A job's newest runs are the
-- end of its range in job_run_claim (job_id, scheduled_for, attempt) instead: ORDER BY scheduled_for
-- DESC (docs/sql-contract.md). The run_id order of one job's runs differs from it only for claims
-- committed out of order.
DROP INDEX IF EXISTS job_run_job_recent;
