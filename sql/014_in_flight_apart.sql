-- Runs in flight, indexed apart by who runs them (docs/decisions.md, "A long transaction elsewhere").
-- Idempotent.
--
-- job_run_in_flight (job_id) WHERE status IN ('queued', 'running') held the daemon's runs and worker
-- runs alike, so the planner could also read it for a statement about worker runs only (the claim's
-- "is any worker run queued or running" and the heartbeat's worker sweep): implied by `status =
-- 'queued'` or by `status = 'running' AND queue IS NOT NULL`, it was as cheap, on paper, as their
-- own indexes once an ANALYZE had seen job_run holding little but runs in flight. Those plans walked
-- it whole, and while a long transaction elsewhere holds back the horizon it keeps the entry of every
-- run finished since: 25,000 entries read in 4 s at 200 fires/s. Each index below admits only one
-- kind of run, so a statement about the other kind can never be planned on it.
CREATE INDEX IF NOT EXISTS job_run_daemon_running ON job_run (job_id) WHERE status = 'running' AND queue IS NULL;
CREATE INDEX IF NOT EXISTS job_run_worker_in_flight ON job_run (job_id)
 WHERE status IN ('queued', 'running') AND queue IS NOT NULL;
DROP INDEX IF EXISTS job_run_in_flight;
