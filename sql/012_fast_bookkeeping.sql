-- What a fire costs PostgreSQL (docs/benchmarks.md, "Where the time goes"). Idempotent. The claim
-- function that uses this index is in sql/definitions/70_claim.sql.
--
-- Claims count the runs in flight of the jobs they claim (max_instances), by job_id: an index on
-- job_id of just those runs makes that count an index probe per job, where job_run_running (keyed by
-- instance first) could not serve it and the claim walked each job's whole history instead. Runs in
-- flight are few, so the index stays a few pages; it replaces job_run_running, whose other users
-- (marking a dead instance's runs lost) scan the whole of either.
CREATE INDEX IF NOT EXISTS job_run_in_flight ON job_run (job_id) WHERE status IN ('queued', 'running');
DROP INDEX IF EXISTS job_run_running;
