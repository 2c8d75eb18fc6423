-- A run_right_now request is cleared once claimed; a newer request made meanwhile is left alone. Not a
-- definition change: no notification. $1: a jsonb array of (job_id, at = the request's run_right_now_at).
UPDATE @schema@.job_info j SET run_right_now = false
  FROM jsonb_to_recordset($1::jsonb) AS u(job_id text, at timestamptz)
 WHERE j.job_id = u.job_id AND j.run_right_now AND j.run_right_now_at = u.at
