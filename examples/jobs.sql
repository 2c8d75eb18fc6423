-- Example jobs for `scripts/demo`: one of each trigger type, the sql, log and notify handlers (exec and
-- http need allowlists given to `rowsched run`: docs/handlers.md), a paused job, a job that asks
-- for an immediate run, a row written for the APScheduler/Django setup rowsched replaces (its func
-- names a Python function: a worker job, run by the demo's Python worker), and an invalid row.
--
-- Idempotent: run it again and every example row is reset to what is written here (ON CONFLICT ...
-- DO UPDATE), so the date job moves to a few seconds from the new now and the run_right_now job
-- asks for another run. Other rows of job_info are left alone; history in job_run is kept.
--
--   psql -v ON_ERROR_STOP=1 -d "$DSN" -f examples/jobs.sql      (after `rowsched migrate`)

-- The table the `sql` example writes into.
CREATE TABLE IF NOT EXISTS demo_ticks (
    id      bigserial PRIMARY KEY,
    note    text NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);

INSERT INTO job_info (job_id, func, func_args, trigger_kwargs, is_paused, run_right_now, description)
VALUES
    -- interval, in the seed's own words: every 5 seconds, late fires still run for 1000 s.
    ('every-5-seconds', 'log', '["tick from an interval job"]',
     '{"trigger": "interval", "seconds": 5, "misfire_grace_time": 1000}',
     false, false, 'interval trigger, log handler'),

    -- cron by fields: second 0, 10, 20, ... of every minute; the sql handler binds $1.
    ('write-a-row', 'sql', '["INSERT INTO demo_ticks (note) VALUES ($1)", "written by the sql job write-a-row"]',
     '{"trigger": "cron", "second": "*/10"}',
     false, false, 'cron trigger by fields, sql handler: see SELECT * FROM demo_ticks'),

    -- crontab string (Vixie cron): every minute, a NOTIFY on channel demo_events (try LISTEN demo_events).
    ('notify-every-minute', 'notify', '["demo_events"]',
     '{"crontab": "* * * * *"}',
     false, false, 'crontab string, notify handler'),

    -- cron by fields with a time zone: 03:30 Berlin time, every night.
    ('nightly-report', 'log', '["the nightly report would run now"]',
     '{"trigger": "cron", "hour": 3, "minute": 30, "timezone": "Europe/Berlin"}',
     false, false, 'cron trigger with a time zone'),

    -- date: once, a few seconds from now (UTC); then the job is finished.
    ('once-soon', 'log', '["a date job, fired once"]',
     jsonb_build_object('trigger', 'date',
                        'run_date', to_char((now() + interval '6 seconds') AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'),
                        'misfire_grace_time', 60),
     false, false, 'date trigger: fires once'),

    -- calendarinterval: every day at 09:00 wall-clock time in Berlin (stays at 09:00 across DST).
    ('daily-at-nine', 'log', '["good morning, Berlin"]',
     '{"trigger": "calendarinterval", "days": 1, "hour": 9, "minute": 0, "timezone": "Europe/Berlin"}',
     false, false, 'calendarinterval trigger'),

    -- paused: stays in the table, never fires until is_paused is set back to false.
    ('paused-job', 'log', '["this only appears once the job is unpaused"]',
     '{"trigger": "interval", "seconds": 2}',
     true, false, 'a paused job'),

    -- run_right_now: runs once immediately, then follows its own schedule (Mondays at 08:00).
    ('run-me-now', 'log', '["run_right_now ran me"]',
     '{"trigger": "cron", "day_of_week": "mon", "hour": 8}',
     false, true, 'run_right_now: one immediate run, then the cron schedule'),

    -- A row as the Django/APScheduler setup wrote it: func is a Python function (module:callable),
    -- a worker job. scripts/demo starts `python3 -m rowsched worker --path examples/worker`, which
    -- imports scheduler_jobs.tasks and calls test("hello") every 5 seconds (docs/workers.md).
    ('seed-style', 'scheduler_jobs.tasks:test', '["hello"]',
     '{"trigger": "interval", "seconds": 5, "misfire_grace_time": 1000}',
     false, false, 'a row from the APScheduler/Django setup: run by the Python worker'),

    -- A func that is neither a handler nor module:callable: state 'invalid', the reason in last_error.
    -- Fix it with: UPDATE job_info SET func = 'log' WHERE job_id = 'not-a-handler';
    ('not-a-handler', 'send_report', '["hello"]',
     '{"trigger": "interval", "seconds": 5}',
     false, false, 'invalid until func names a handler')
ON CONFLICT (job_id) DO UPDATE
    SET func = EXCLUDED.func,
        func_args = EXCLUDED.func_args,
        trigger_kwargs = EXCLUDED.trigger_kwargs,
        is_paused = EXCLUDED.is_paused,
        run_right_now = EXCLUDED.run_right_now,
        description = EXCLUDED.description;
