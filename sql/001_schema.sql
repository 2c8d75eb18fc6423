-- The tables of rowsched: job_info (the jobs, written by users), job_run (one row per fire, whose
-- insertion is the claim) and scheduler_instance (live daemons and their heartbeats), plus the
-- bookkeeping table of applied migrations.
--
-- sql/NNN_*.sql are the table and index changes, applied once each in name order and recorded in
-- rowsched_migration; every function, trigger, view and policy has one current definition in
-- sql/definitions/, re-applied by every `rowsched migrate` after them (sql/definitions/README.md).
-- Every file is idempotent, uses unqualified names (it lands in the first schema of search_path;
-- `rowsched migrate --schema S` sets `search_path = S, pg_catalog`) and contains no BEGIN/COMMIT and
-- no psql meta-commands, so it runs unchanged both with `psql -v ON_ERROR_STOP=1 -1 -f` and embedded
-- in the binary. docs/sql-contract.md is the prose version of this contract.

CREATE TABLE IF NOT EXISTS rowsched_migration (
    name       text PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS job_info (
    -- Written by users.
    job_id         text        PRIMARY KEY DEFAULT gen_random_uuid()::text,
    func           text        NOT NULL,
    func_args      jsonb       NOT NULL DEFAULT '[]',
    trigger_kwargs jsonb       NOT NULL DEFAULT '{}',
    is_paused      boolean     NOT NULL DEFAULT false,
    run_right_now  boolean     NOT NULL DEFAULT false,
    description    text,
    owner          name        NOT NULL DEFAULT current_user,
    -- Written by rowsched (a user's write is harmless and is overwritten).
    next_run_time  timestamptz,
    is_running     boolean     NOT NULL DEFAULT false,
    state          text        NOT NULL DEFAULT 'pending',
    last_error     text,
    last_run_time  timestamptz,
    last_status    text,
    run_count      bigint      NOT NULL DEFAULT 0,
    failure_count  bigint      NOT NULL DEFAULT 0,
    -- Stamped by the BEFORE triggers (sql/definitions/20_job_info_triggers.sql).
    version        bigint      NOT NULL DEFAULT 1,
    create_time    timestamptz NOT NULL DEFAULT now(),
    update_time    timestamptz NOT NULL DEFAULT now(),
    -- The trigger reports these with precise messages first; the constraints keep the table sound
    -- even where triggers do not fire (session_replication_role = replica, ALTER TABLE ... DISABLE).
    CONSTRAINT job_info_job_id_length CHECK (char_length(job_id) BETWEEN 1 AND 200),
    CONSTRAINT job_info_func_args_array CHECK (jsonb_typeof(func_args) = 'array'),
    CONSTRAINT job_info_trigger_kwargs_object CHECK (jsonb_typeof(trigger_kwargs) = 'object'),
    CONSTRAINT job_info_state_known CHECK (state IN ('pending', 'scheduled', 'paused', 'finished', 'invalid'))
);

CREATE TABLE IF NOT EXISTS job_run (
    run_id        bigserial   PRIMARY KEY,
    job_id        text        NOT NULL,  -- no foreign key: the history outlives the job
    scheduled_for timestamptz NOT NULL,  -- the nominal fire instant (before jitter)
    instance      text        NOT NULL,
    attempt       integer     NOT NULL DEFAULT 1,
    status        text        NOT NULL,
    started_at    timestamptz,
    finished_at   timestamptz,
    output        text,
    error         text,
    CONSTRAINT job_run_attempt_positive CHECK (attempt >= 1),
    CONSTRAINT job_run_status_known
        CHECK (status IN ('running', 'succeeded', 'failed', 'timeout', 'lost', 'missed', 'skipped')),
    -- The claim: INSERT ... ON CONFLICT (job_id, scheduled_for, attempt) DO NOTHING RETURNING run_id.
    -- A fire is (job_id, scheduled_for) with attempt 1; retries of it are attempts 2, 3, ...
    CONSTRAINT job_run_claim UNIQUE (job_id, scheduled_for, attempt)
);

-- Pruning old history, and "the last runs of this job".
CREATE INDEX IF NOT EXISTS job_run_finished_at ON job_run (finished_at);
CREATE INDEX IF NOT EXISTS job_run_job_recent ON job_run (job_id, run_id DESC);
-- Runs in flight: counted for max_instances, marked 'lost' when their instance stops heart-beating.
CREATE INDEX IF NOT EXISTS job_run_running ON job_run (instance, job_id) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS scheduler_instance (
    instance     text PRIMARY KEY,
    pid          integer,
    host         text,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now(),
    version      text
);
