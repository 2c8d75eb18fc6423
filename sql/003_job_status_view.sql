-- job_status: what a user asks of the scheduler ("what will run next, what failed"), without the
-- definition columns. A view runs with its owner's rights: grant SELECT on it only to roles that may
-- see every job (docs/sql-contract.md, "Grants").

CREATE OR REPLACE VIEW job_status AS
SELECT job_id, state, next_run_time, last_run_time, last_status, run_count, failure_count, is_paused, last_error
  FROM job_info;
