-- Run outcomes into job_run and, per job_info row, one UPDATE that folds the runs' counters together
-- with the row's write-back (two would leave two row versions behind per fire) (BookkeepingWriter).
-- Batches come as one array per column. The runs: $1 run_id, $2 job_id, $3 status, $4 started_at,
-- $5 finished_at, $6 output, $7 error. The write-backs: $8 job_id, $9 version, $10 next_run_time,
-- $11 state, $12 last_error, $13 is_running.
-- The write-back applies only while the row still has `version`: a result computed from an older
-- definition never overwrites a newer one. last_error: set while the row is invalid, cleared when it
-- stops being invalid, else the newest run's error (none after a success); an invalid row keeps its
-- reason whatever its runs did.
WITH u AS (SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::timestamptz[], $5::timestamptz[], $6::text[],
                                $7::text[])
                         AS u(run_id, job_id, status, started_at, finished_at, output, error)),
     -- Only runs still open are written, and only runs still `running` are counted: a batch written
     -- again after its connection broke at COMMIT counts nothing twice. A run another instance
     -- already marked `lost` (and counted) gets its real outcome without being counted again. `p` is
     -- the run as it was before this statement (the statement's snapshot), found by primary key.
     done AS (UPDATE @schema@.job_run r SET status = u.status, started_at = u.started_at,
                finished_at = u.finished_at, output = u.output, error = u.error
                FROM u JOIN @schema@.job_run p ON p.run_id = u.run_id
               -- Written as a CASE, so that the planner does not take the share of open runs in its
               -- statistics (near 0: a run is open for milliseconds) for the number of rows this
               -- side of the join yields: it then scanned job_run and joined the batch to it by nested
               -- loop, quadratic in the batch (7 s for 2,000 runs). Now it probes by run_id per element.
               WHERE r.run_id = u.run_id AND CASE WHEN r.status IN ('running', 'lost') THEN true END
              RETURNING u.job_id, u.status, u.started_at, u.error, p.status = 'running' AS counted),
     -- Per job: how many runs were counted, how many failed, and the newest one (by started_at; all
     -- three `last_` columns from that one run). One sort of the batch: three ordered aggregates per
     -- job cost a sort each (2.2 against 1.0 µs per run).
     s AS (SELECT DISTINCT ON (job_id) job_id, count(*) OVER g AS n,
                  count(*) FILTER (WHERE status <> 'succeeded') OVER g AS failed,
                  started_at AS last_start, status AS last_status, error AS last_err
             FROM done WHERE counted WINDOW g AS (PARTITION BY job_id) ORDER BY job_id, started_at DESC),
     w AS (SELECT * FROM unnest($8::text[], $9::int8[], $10::timestamptz[], $11::text[], $12::text[], $13::bool[])
                         AS w(job_id, version, next_run_time, state, last_error, is_running)),
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
