-- A run_right_now request is cleared once claimed; a newer request made meanwhile is left alone. Not a
-- definition change: no notification. $1 the jobs' ids, $2 the requests' run_right_now_at.
UPDATE @schema@.job_info j SET run_right_now = false
  FROM unnest($1::text[], $2::timestamptz[]) AS u(job_id, at)
 WHERE j.job_id = u.job_id AND j.run_right_now AND j.run_right_now_at = u.at
