-- A run_right_now request gets its own identity: job_info.run_right_now_at, stamped when the flag goes
-- from false to true (or a row is inserted with it true), kept unchanged by later writes, cleared with
-- the flag. rowsched claims the request's run as the fire (job_id, run_right_now_at), so any number of
-- instances run it once, and a quick second edit of the row does not make it a second request.
--
-- Two more stamps anchor the schedule so that editing a description, a func or an owner does not move
-- it: trigger_time (set on insert and whenever trigger_kwargs changes) is the "now" of the schedule
-- (next_run_time "now", a date trigger without run_date, an interval's default start); active_time
-- (also set when is_paused goes from true to false) is when the job last became schedulable: fires
-- claimed since then are continued from, older ones are not (a resumed job starts afresh).
--
-- The stamping is rowsched_stamp_run_right_now and job_info_before_insert
-- (sql/definitions/20_job_info_triggers.sql).
--
-- job_run.kind tells a fire of the schedule ('schedule') from a requested run ('run_now'): only the
-- former say where the schedule has got to, so a run-now of a date job never finishes that job.

ALTER TABLE job_info ADD COLUMN IF NOT EXISTS run_right_now_at timestamptz;
ALTER TABLE job_info ADD COLUMN IF NOT EXISTS trigger_time timestamptz;
ALTER TABLE job_info ADD COLUMN IF NOT EXISTS active_time timestamptz;
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'schedule';
