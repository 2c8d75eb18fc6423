-- What a job's row says happened to its last fire when the fire was recorded without a run (missed,
-- skipped): last_status, and last_error when given; last_run_time stays the last real run; an invalid
-- row keeps its reason. One element per job: $1 job_id, $2 status, $3 error.
UPDATE @schema@.job_info j SET last_status = x.status, last_error = coalesce(x.error, j.last_error)
  FROM unnest($1::text[], $2::text[], $3::text[]) AS x(job_id, status, error)
 WHERE j.job_id = x.job_id AND j.state IS DISTINCT FROM 'invalid'
