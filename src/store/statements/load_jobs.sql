-- The job_info rows named in $1 (a jsonb array of job ids), with the newest fire of each one's
-- schedule claimed in job_run (JobReader::load): the same columns as load_all_jobs.sql, one index
-- probe per row.
SELECT j.job_id, j.func, j.func_args::text AS func_args, j.trigger_kwargs::text AS trigger_kwargs,
       j.is_paused, j.run_right_now, j.owner::text AS owner, j.version, j.update_time,
       (SELECT max(r.scheduled_for) FROM @schema@.job_run r
         WHERE r.job_id = j.job_id AND r.kind = 'schedule') AS last_fire,
       j.run_right_now_at,
       hashtextextended(j.job_id || ':' || j.version::text, 0) AS version_hash,
       j.trigger_time, j.active_time, j.next_run_time, j.state, j.last_error, j.is_running
  FROM @schema@.job_info j
 WHERE j.job_id IN (SELECT jsonb_array_elements_text($1::jsonb))
