-- What a job's row says happened to its last fire when the fire was recorded without a run (missed,
-- skipped): last_status, and last_error when given; last_run_time stays the last real run; an invalid
-- row keeps its reason. $1: a jsonb array of (job_id, status, error), one per job.
UPDATE @schema@.job_info j SET last_status = x.status, last_error = coalesce(x.error, j.last_error)
  FROM jsonb_to_recordset($1::jsonb) AS x(job_id text, status text, error text)
 WHERE j.job_id = x.job_id AND j.state IS DISTINCT FROM 'invalid'
