-- The worker protocol (docs/workers.md): the SQL functions a worker process calls, the daemon's
-- sweep, the NOTIFY of a queued run and the worker views. Its tables and columns are in
-- sql/010_workers.sql.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.
--
--   rowsched_worker_register(worker, queues, pid, host)   announce (and re-announce) a worker
--   rowsched_take(worker, queues, max_runs)               queued -> running, FOR UPDATE SKIP LOCKED
--   rowsched_heartbeat(worker)                            keep the worker and its runs alive
--   rowsched_finish(run_id, worker, status, output, error) record the outcome (false: not yours any more)
--   rowsched_worker_deregister(worker)                    leave
--
-- The daemon calls rowsched_worker_sweep(lost_after) with its heartbeat: queued runs past their
-- take_by become `missed`, runs of a worker that stopped heart-beating `lost`, runs past their timeout
-- plus lost_after `timeout`, and it returns the ended runs a retry may follow.

-- Whether a func names a worker's function: `module:callable`, each side dotted ASCII identifiers.
CREATE OR REPLACE FUNCTION rowsched_is_worker_func(func text) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT func ~ '^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$'
$fn$;

-- Whether a worker counts as live: a heartbeat in the last 10 seconds (workers heart-beat every 2 s).
-- The views use it; the daemon's lost-run detection uses its own --lost-after.
CREATE OR REPLACE FUNCTION rowsched_worker_is_live(heartbeat_at timestamptz) RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
    SELECT heartbeat_at > now() - interval '10 seconds'
$fn$;

-- Wakes idle workers: the payload is the queue of the run that became queued.
CREATE OR REPLACE FUNCTION rowsched_notify_queued() RETURNS trigger
LANGUAGE plpgsql
AS $fn$
BEGIN
    PERFORM pg_notify('rowsched_worker', NEW.queue);
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER rowsched_notify_queued AFTER INSERT ON job_run
    FOR EACH ROW WHEN (NEW.status = 'queued') EXECUTE FUNCTION rowsched_notify_queued();

-- Text as job_run keeps it: at most 64 KiB, with a note of how much there was (as the daemon does).
CREATE OR REPLACE FUNCTION rowsched_bounded(value text) RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN octet_length(value) <= 65536 THEN value
                ELSE left(value, 65472) || format(' [truncated: %s bytes in all]', octet_length(value)) END
$fn$;

-- Folds one ended worker run into its job's counters, as the daemon does for its own runs.
CREATE OR REPLACE FUNCTION rowsched_count_worker_run(run_job_id text, run_status text, run_started timestamptz,
                                                     run_error text) RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
AS $fn$
    UPDATE job_info SET
        last_run_time = coalesce(run_started, last_run_time),
        last_status = run_status,
        run_count = run_count + 1,
        failure_count = failure_count + CASE WHEN run_status = 'succeeded' THEN 0 ELSE 1 END,
        last_error = CASE WHEN state = 'invalid' THEN last_error
                          WHEN run_status = 'succeeded' THEN NULL
                          ELSE run_error END
     WHERE job_id = run_job_id
$fn$;

-- Announces a worker and its queues (again after a restart: its name's runs still `running` were
-- left by the earlier process and become `lost`).
CREATE OR REPLACE FUNCTION rowsched_worker_register(worker text, queues text[], pid integer, host text) RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_variable
DECLARE
    earlier record;
    r record;
BEGIN
    IF worker IS NULL OR worker = '' THEN
        RAISE EXCEPTION 'rowsched_worker_register: the worker name is empty; allowed: any non-empty text';
    END IF;
    IF queues IS NULL OR cardinality(queues) = 0 THEN
        RAISE EXCEPTION 'rowsched_worker_register: worker % names no queue; allowed: one or more queue names', worker;
    END IF;
    SELECT w.pid, w.host INTO earlier FROM rowsched_worker w WHERE w.worker = rowsched_worker_register.worker;
    INSERT INTO rowsched_worker AS w (worker, queues, pid, host, started_at, heartbeat_at)
    VALUES (worker, queues, pid, host, now(), now())
    ON CONFLICT ON CONSTRAINT rowsched_worker_pkey DO UPDATE
        SET queues = EXCLUDED.queues, pid = EXCLUDED.pid, host = EXCLUDED.host,
            started_at = CASE WHEN w.pid IS DISTINCT FROM EXCLUDED.pid THEN now() ELSE w.started_at END,
            heartbeat_at = now();
    -- Another process under this name (a fixed name after a crash): its runs will never be finished.
    IF earlier IS NOT NULL AND (earlier.pid, earlier.host) IS DISTINCT FROM (pid, host) THEN
        FOR r IN UPDATE job_run j SET status = 'lost', finished_at = now(), retry_due = true,
                        error = format('lost: worker %s restarted while this run was in progress', worker)
                  WHERE j.worker = rowsched_worker_register.worker AND j.status = 'running' AND j.queue IS NOT NULL
              RETURNING j.job_id, j.started_at, j.error LOOP
            PERFORM rowsched_count_worker_run(r.job_id, 'lost', r.started_at, r.error);
        END LOOP;
    END IF;
END
$fn$;

-- Takes up to max_runs queued runs of the queues, oldest fire first; each is taken by exactly one
-- worker (SKIP LOCKED). A run claimed ahead of its instant can be taken before not_before: the worker
-- waits until then to call the function (started_at is stamped as not_before in that case).
CREATE OR REPLACE FUNCTION rowsched_take(worker text, queues text[], max_runs integer)
RETURNS TABLE (run_id bigint, job_id text, func text, func_args jsonb, scheduled_for timestamptz, attempt integer,
               timeout_seconds double precision, not_before timestamptz)
LANGUAGE sql
SET search_path FROM CURRENT
AS $fn$
    WITH picked AS (
        SELECT r.run_id FROM job_run r
         WHERE r.status = 'queued' AND r.queue = ANY (rowsched_take.queues)
           AND (r.take_by IS NULL OR r.take_by >= now())
         ORDER BY r.scheduled_for, r.run_id
         LIMIT greatest(rowsched_take.max_runs, 0)
           FOR UPDATE SKIP LOCKED),
    taken AS (
        UPDATE job_run r SET status = 'running', worker = rowsched_take.worker, heartbeat_at = now(),
                             started_at = greatest(now(), r.not_before)
          FROM picked WHERE r.run_id = picked.run_id
        RETURNING r.run_id, r.job_id, r.scheduled_for, r.attempt, r.not_before)
    SELECT t.run_id, t.job_id, j.func, j.func_args, t.scheduled_for, t.attempt,
           CASE WHEN jsonb_typeof(j.trigger_kwargs -> 'timeout') = 'number'
                THEN (j.trigger_kwargs ->> 'timeout')::double precision END,
           t.not_before
      FROM taken t LEFT JOIN job_info j ON j.job_id = t.job_id
     ORDER BY t.scheduled_for, t.run_id
$fn$;

-- Keeps the worker live and stamps its runs in progress.
CREATE OR REPLACE FUNCTION rowsched_heartbeat(worker text) RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
AS $fn$
    UPDATE rowsched_worker w SET heartbeat_at = now() WHERE w.worker = rowsched_heartbeat.worker;
    UPDATE job_run r SET heartbeat_at = now()
     WHERE r.worker = rowsched_heartbeat.worker AND r.status = 'running' AND r.queue IS NOT NULL;
$fn$;

-- Records a run's outcome: status succeeded | failed | timeout, output and error bounded to 64 KiB.
-- False when the run is not this worker's running run any more (marked lost or timeout meanwhile).
CREATE OR REPLACE FUNCTION rowsched_finish(run_id bigint, worker text, status text, output text, error text)
RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
#variable_conflict use_variable
DECLARE
    r record;
BEGIN
    IF status IS NULL OR status NOT IN ('succeeded', 'failed', 'timeout') THEN
        RAISE EXCEPTION 'rowsched_finish: status % is not an outcome; allowed: succeeded, failed, timeout',
            coalesce(quote_literal(status), 'NULL');
    END IF;
    UPDATE job_run j SET status = rowsched_finish.status, finished_at = now(), heartbeat_at = now(),
                         output = rowsched_bounded(rowsched_finish.output),
                         error = rowsched_bounded(rowsched_finish.error),
                         retry_due = rowsched_finish.status <> 'succeeded'
     WHERE j.run_id = rowsched_finish.run_id AND j.worker = rowsched_finish.worker AND j.status = 'running'
    RETURNING j.job_id, j.started_at, j.error INTO r;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM rowsched_count_worker_run(r.job_id, status, r.started_at, r.error);
    RETURN true;
END
$fn$;

CREATE OR REPLACE FUNCTION rowsched_worker_deregister(worker text) RETURNS void
LANGUAGE sql
SET search_path FROM CURRENT
AS $fn$
    DELETE FROM rowsched_worker w WHERE w.worker = rowsched_worker_deregister.worker;
$fn$;

-- The daemon's side (with its heartbeat): ends the worker runs nobody will end, and hands back every
-- worker run that ended failed, timeout or lost since the last sweep (exactly once across instances:
-- each is returned by the sweep that cleared its retry_due), so that the daemon retries it when the
-- job asks for retries. `missed` runs are returned too, for the log; they are not retried.
CREATE OR REPLACE FUNCTION rowsched_worker_sweep(lost_after double precision)
RETURNS TABLE (job_id text, scheduled_for timestamptz, attempt integer, status text, queue text, error text)
LANGUAGE plpgsql
SET search_path FROM CURRENT
-- Runs every heartbeat on the scheduler's session, whose plans are made once (generic): each statement
-- reads its partial index of job_run, never job_run whole, whatever size job_run had when the plan was
-- made (sql/definitions/70_claim.sql). rowsched_worker has no index but its primary key: its scans
-- are the only path, costed at the disabled path's 1e10, so JIT is off (it compiled each call).
SET enable_seqscan = off
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    grace constant interval := lost_after * interval '1 second';
    r record;
    -- The runs ended here, counted into job_info only after every job_run row is locked: job_run
    -- first, then job_info, the order of rowsched_finish, so that the two never deadlock.
    ended_jobs text[] := '{}';
    ended_status text[] := '{}';
    ended_started timestamptz[] := '{}';
    ended_error text[] := '{}';
BEGIN
    -- Queued runs no worker took in time.
    FOR r IN UPDATE job_run j SET status = 'missed', finished_at = now(),
                    error = format('missed: no worker took it from queue "%s" within its misfire_grace_time '
                                   '(it waited %s s; live workers on that queue: %s)', j.queue,
                                   round(extract(epoch FROM now() - coalesce(j.not_before, j.scheduled_for))::numeric, 3),
                                   (SELECT count(*) FROM rowsched_worker w
                                     WHERE j.queue = ANY (w.queues) AND rowsched_worker_is_live(w.heartbeat_at)))
              WHERE j.status = 'queued' AND j.take_by < now()
          RETURNING j.job_id, j.scheduled_for, j.attempt, j.status, j.queue, j.error LOOP
        job_id := r.job_id; scheduled_for := r.scheduled_for; attempt := r.attempt; status := r.status;
        queue := r.queue; error := r.error;
        RETURN NEXT;
    END LOOP;
    -- Runs of a worker that stopped heart-beating (or deregistered, or was never registered).
    FOR r IN UPDATE job_run j SET status = 'lost', finished_at = now(), retry_due = true,
                    error = format('lost: worker %s stopped heart-beating while this run was in progress', j.worker)
              WHERE j.status = 'running' AND j.queue IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM rowsched_worker w
                                 WHERE w.worker = j.worker AND w.heartbeat_at >= now() - grace)
          RETURNING j.job_id, j.started_at, j.error LOOP
        ended_jobs := ended_jobs || r.job_id; ended_status := ended_status || 'lost'::text;
        ended_started := ended_started || r.started_at; ended_error := ended_error || r.error;
    END LOOP;
    -- Runs past their timeout (plus lost_after for the worker to report it) whose worker says nothing.
    FOR r IN UPDATE job_run j SET status = 'timeout', finished_at = now(), retry_due = true,
                    error = format('timeout: ran longer than its timeout of %s s and worker %s did not end it',
                                   i.trigger_kwargs ->> 'timeout', j.worker)
               FROM job_info i
              WHERE j.status = 'running' AND j.queue IS NOT NULL AND i.job_id = j.job_id
                AND jsonb_typeof(i.trigger_kwargs -> 'timeout') = 'number'
                AND j.started_at + (i.trigger_kwargs ->> 'timeout')::double precision * interval '1 second' + grace < now()
          RETURNING j.job_id, j.started_at, j.error LOOP
        ended_jobs := ended_jobs || r.job_id; ended_status := ended_status || 'timeout'::text;
        ended_started := ended_started || r.started_at; ended_error := ended_error || r.error;
    END LOOP;
    FOR i IN 1 .. coalesce(array_length(ended_jobs, 1), 0) LOOP
        PERFORM rowsched_count_worker_run(ended_jobs[i], ended_status[i], ended_started[i], ended_error[i]);
    END LOOP;
    -- Every ended worker run not yet looked at (the worker counted its own outcomes).
    FOR r IN UPDATE job_run j SET retry_due = false WHERE j.retry_due
          RETURNING j.job_id, j.scheduled_for, j.attempt, j.status, j.queue, j.error LOOP
        job_id := r.job_id; scheduled_for := r.scheduled_for; attempt := r.attempt; status := r.status;
        queue := r.queue; error := r.error;
        RETURN NEXT;
    END LOOP;
    -- Workers silent for an hour are forgotten (their runs were marked lost long ago).
    DELETE FROM rowsched_worker w WHERE w.heartbeat_at < now() - interval '1 hour';
END
$fn$;

-- Per queue: live workers, the runs waiting and running, and how long the oldest has waited. A queue
-- appears when a live worker serves it or a run waits in it.
CREATE OR REPLACE VIEW worker_queue_status AS
WITH workers AS (
    SELECT q AS queue, count(*) AS live_workers
      FROM rowsched_worker w, unnest(w.queues) AS q
     WHERE rowsched_worker_is_live(w.heartbeat_at) GROUP BY q),
-- Worker runs only, each status from its own partial index (job_run_queued, job_run_worker_running):
-- read through an index of every run in flight (the daemon's too, until sql/014_in_flight_apart.sql),
-- the daemon's heartbeat walked the entry of every run in flight, and while a long transaction holds
-- back the horizon, of every run finished since.
runs AS (
    SELECT r.queue, count(*) FILTER (WHERE r.status = 'queued') AS queued,
           count(*) FILTER (WHERE r.status = 'running') AS running,
           min(coalesce(r.not_before, r.scheduled_for)) FILTER (WHERE r.status = 'queued') AS oldest_queued
      FROM (SELECT q.queue, q.status, q.not_before, q.scheduled_for FROM job_run q
             WHERE q.status = 'queued' AND q.queue IS NOT NULL
            UNION ALL
            SELECT w.queue, w.status, w.not_before, w.scheduled_for FROM job_run w
             WHERE w.status = 'running' AND w.queue IS NOT NULL) r
     GROUP BY r.queue)
SELECT coalesce(w.queue, r.queue) AS queue, coalesce(w.live_workers, 0) AS live_workers,
       coalesce(r.queued, 0) AS queued, coalesce(r.running, 0) AS running, r.oldest_queued,
       extract(epoch FROM now() - r.oldest_queued)::double precision AS oldest_queued_age_seconds
  FROM workers w FULL JOIN runs r ON r.queue = w.queue;

-- For each worker job: its queue, the live workers serving it and a note when there are none. A view
-- of its own: re-creating job_status with more columns would make 003 fail when the files are run
-- again with psql (a view cannot lose columns).
CREATE OR REPLACE VIEW worker_job_status AS
SELECT j.job_id, q.queue, j.state,
       (SELECT count(*) FROM rowsched_worker w
         WHERE q.queue = ANY (w.queues) AND rowsched_worker_is_live(w.heartbeat_at)) AS live_workers,
       CASE WHEN NOT EXISTS (SELECT 1 FROM rowsched_worker w
                              WHERE q.queue = ANY (w.queues) AND rowsched_worker_is_live(w.heartbeat_at))
            THEN format('no live worker on queue "%s"', q.queue) END AS worker_note
  FROM job_info j
 CROSS JOIN LATERAL (SELECT coalesce(j.trigger_kwargs ->> 'queue', 'default') AS queue) q
 WHERE rowsched_is_worker_func(j.func);
