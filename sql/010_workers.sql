-- Worker jobs: a job whose func is a Python-style reference `module:callable` (dotted identifiers, one
-- colon) is run by a worker process of the user's application, not inside rowsched. rowsched claims
-- the fire as any other, but inserts its job_run row as `queued` for the job's queue
-- (trigger_kwargs.queue, default "default"); a worker takes it, runs it and reports the outcome. The
-- protocol is the SQL functions below plus the NOTIFY channel `rowsched_worker`, so a worker in any
-- language needs a PostgreSQL driver and nothing else (docs/workers.md).
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
--
-- These are the tables and columns; the functions, the trigger and the views are in
-- sql/definitions/50_workers.sql.

ALTER TABLE job_run ADD COLUMN IF NOT EXISTS queue text;               -- NULL: not a worker run
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS worker text;              -- who took it
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS heartbeat_at timestamptz; -- its worker's last sign of life
-- A queued run no worker took by then is `missed` (the fire instant plus its misfire_grace_time;
-- NULL: it waits for ever). A run is not taken before not_before (a fire claimed ahead of its instant).
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS take_by timestamptz;
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS not_before timestamptz;
-- Set when a worker run ended failed, timeout or lost and no daemon has yet looked at it for a retry.
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS retry_due boolean NOT NULL DEFAULT false;

ALTER TABLE job_run DROP CONSTRAINT IF EXISTS job_run_status_known;
ALTER TABLE job_run ADD CONSTRAINT job_run_status_known
    CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'timeout', 'lost', 'missed', 'skipped'));

-- What a worker takes: the oldest queued runs of its queues.
CREATE INDEX IF NOT EXISTS job_run_queued ON job_run (queue, scheduled_for) WHERE status = 'queued';
-- What the sweep and the heartbeat look at: worker runs in progress.
CREATE INDEX IF NOT EXISTS job_run_worker_running ON job_run (worker) WHERE status = 'running' AND queue IS NOT NULL;
CREATE INDEX IF NOT EXISTS job_run_retry_due ON job_run (run_id) WHERE retry_due;

CREATE TABLE IF NOT EXISTS rowsched_worker (
    worker       text PRIMARY KEY,
    queues       text[] NOT NULL DEFAULT '{default}',
    pid          integer,
    host         text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
