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
-- job_run.kind tells a fire of the schedule ('schedule') from a requested run ('run_now'): only the
-- former say where the schedule has got to, so a run-now of a date job never finishes that job.

ALTER TABLE job_info ADD COLUMN IF NOT EXISTS run_right_now_at timestamptz;
ALTER TABLE job_info ADD COLUMN IF NOT EXISTS trigger_time timestamptz;
ALTER TABLE job_info ADD COLUMN IF NOT EXISTS active_time timestamptz;
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS kind text NOT NULL DEFAULT 'schedule';

CREATE OR REPLACE FUNCTION rowsched_stamp_run_right_now() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF NOT NEW.run_right_now THEN
        NEW.run_right_now_at := NULL;
    ELSIF TG_OP = 'INSERT' OR NOT OLD.run_right_now THEN
        NEW.run_right_now_at := clock_timestamp();
    ELSE
        NEW.run_right_now_at := OLD.run_right_now_at;  -- a user's write to it is ignored
    END IF;
    IF TG_OP = 'INSERT' OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs THEN
        NEW.trigger_time := clock_timestamp();
        NEW.active_time := NEW.trigger_time;
    ELSE
        NEW.trigger_time := OLD.trigger_time;
        NEW.active_time := CASE WHEN OLD.is_paused AND NOT NEW.is_paused THEN clock_timestamp() ELSE OLD.active_time END;
    END IF;
    RETURN NEW;
END
$fn$;

CREATE OR REPLACE TRIGGER job_info_stamp_insert
    BEFORE INSERT ON job_info
    FOR EACH ROW EXECUTE FUNCTION rowsched_stamp_run_right_now();

-- Only when a stamped column or what it depends on changes: rowsched's write-backs skip PL/pgSQL.
CREATE OR REPLACE TRIGGER job_info_stamp_update
    BEFORE UPDATE ON job_info
    FOR EACH ROW WHEN (NEW.run_right_now IS DISTINCT FROM OLD.run_right_now
                       OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs
                       OR NEW.is_paused IS DISTINCT FROM OLD.is_paused
                       OR NEW.run_right_now_at IS DISTINCT FROM OLD.run_right_now_at
                       OR NEW.trigger_time IS DISTINCT FROM OLD.trigger_time
                       OR NEW.active_time IS DISTINCT FROM OLD.active_time)
    EXECUTE FUNCTION rowsched_stamp_run_right_now();
