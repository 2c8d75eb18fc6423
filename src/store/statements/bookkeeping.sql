-- Run outcomes into job_run and, per job_info row, one UPDATE that folds the runs' counters together
-- with the row's write-back (two would leave two row versions behind per fire) (BookkeepingWriter).
-- $1: the runs, a jsonb array of (run_id, job_id, status, started_at, finished_at, output, error);
-- $2: the write-backs, a jsonb array of (job_id, version, next_run_time, state, last_error, is_running).
-- The write-back applies only while the row still has `version`: a result computed from an older
-- definition never overwrites a newer one. last_error: set while the row is invalid, cleared when it
-- stops being invalid, else the newest run's error (none after a success); an invalid row keeps its
-- reason whatever its runs did.
WITH u AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS u(run_id int8,
             job_id text, status text, started_at timestamptz, finished_at timestamptz, output text, error text)),
     -- Only runs still open are written, and only runs still `running` are counted: a batch written
     -- again after its connection broke at COMMIT counts nothing twice. A run another instance
     -- already marked `lost` (and counted) gets its real outcome without being counted again.
     prev AS (SELECT r.run_id, r.status FROM @schema@.job_run r WHERE r.run_id IN (SELECT run_id FROM u)),
     done AS (UPDATE @schema@.job_run r SET status = u.status, started_at = u.started_at,
                finished_at = u.finished_at, output = u.output, error = u.error FROM u
               WHERE r.run_id = u.run_id AND r.status IN ('running', 'lost') RETURNING r.run_id),
     s AS (SELECT job_id, count(*) AS n, count(*) FILTER (WHERE u.status <> 'succeeded') AS failed,
                  (array_agg(started_at ORDER BY started_at DESC))[1] AS last_start,
                  (array_agg(u.status ORDER BY started_at DESC))[1] AS last_status,
                  (array_agg(error ORDER BY started_at DESC))[1] AS last_err
             FROM u JOIN prev USING (run_id) WHERE prev.status = 'running' AND run_id IN (SELECT run_id FROM done)
            GROUP BY job_id),
     w AS (SELECT * FROM jsonb_to_recordset($2::jsonb) AS w(job_id text,
             version int8, next_run_time timestamptz, state text, last_error text, is_running bool)),
     x AS (SELECT coalesce(s.job_id, w.job_id) AS job_id, s.n, s.failed, s.last_start, s.last_status, s.last_err,
                  w.version, w.next_run_time, w.state AS w_state, w.last_error AS w_error, w.is_running
             FROM s FULL JOIN w ON s.job_id = w.job_id)
UPDATE @schema@.job_info j SET
  next_run_time = CASE WHEN x.version = j.version THEN x.next_run_time ELSE j.next_run_time END,
  state = CASE WHEN x.version = j.version THEN x.w_state ELSE j.state END,
  is_running = CASE WHEN x.version = j.version THEN x.is_running ELSE j.is_running END,
  last_run_time = CASE WHEN x.n IS NOT NULL THEN x.last_start ELSE j.last_run_time END,
  last_status = CASE WHEN x.n IS NOT NULL THEN x.last_status ELSE j.last_status END,
  run_count = j.run_count + coalesce(x.n, 0),
  failure_count = j.failure_count + coalesce(x.failed, 0),
  last_error = CASE WHEN x.version = j.version AND x.w_state = 'invalid' THEN x.w_error
                    WHEN x.version = j.version AND j.state = 'invalid' THEN NULL
                    WHEN x.n IS NULL OR j.state = 'invalid' THEN j.last_error
                    WHEN x.last_status = 'succeeded' THEN NULL
                    ELSE x.last_err END
  FROM x
 WHERE j.job_id = x.job_id AND (x.n IS NOT NULL OR (x.version = j.version AND
       (j.next_run_time IS DISTINCT FROM x.next_run_time OR j.state IS DISTINCT FROM x.w_state OR
        j.is_running IS DISTINCT FROM x.is_running OR
        (x.w_state = 'invalid' AND j.last_error IS DISTINCT FROM x.w_error))))
