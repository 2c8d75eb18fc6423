-- Every job_info row with the newest fire of its schedule claimed in job_run (JobReader::load_all,
-- read through a cursor). The newest fires come from one pass over job_run, hash-joined, instead of
-- one index probe per row. Columns are read by name (src/store/job_reader.cc).
SELECT j.job_id, j.func, j.func_args::text AS func_args, j.trigger_kwargs::text AS trigger_kwargs,
       j.is_paused, j.run_right_now, j.owner::text AS owner, j.version, j.update_time,
       r.last_fire, j.run_right_now_at,
       hashtextextended(j.job_id || ':' || j.version::text, 0) AS version_hash,
       j.trigger_time, j.active_time, j.next_run_time, j.state, j.last_error, j.is_running
  FROM @schema@.job_info j
  LEFT JOIN (SELECT job_id, max(scheduled_for) AS last_fire
               FROM @schema@.job_run WHERE kind = 'schedule' GROUP BY job_id) r ON r.job_id = j.job_id
