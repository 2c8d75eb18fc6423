-- rowsched writes back next_run_time, state, counters, ... into job_info many times a second. The
-- BEFORE trigger of 002 has nothing to do for such an UPDATE (it validates and stamps only changed
-- definition columns, and resets user writes to version/create_time/update_time), but running its
-- PL/pgSQL costs tens of microseconds per row. Split it: INSERT always, UPDATE only WHEN a column it
-- looks at changed. Same function, same behaviour, idempotent.

DROP TRIGGER IF EXISTS rowsched_before_write ON job_info;

CREATE OR REPLACE TRIGGER rowsched_before_insert
    BEFORE INSERT ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_write();

CREATE OR REPLACE TRIGGER rowsched_before_update
    BEFORE UPDATE ON job_info
    FOR EACH ROW WHEN (NEW.job_id IS DISTINCT FROM OLD.job_id
                       OR NEW.func IS DISTINCT FROM OLD.func
                       OR NEW.func_args IS DISTINCT FROM OLD.func_args
                       OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs
                       OR NEW.is_paused IS DISTINCT FROM OLD.is_paused
                       OR NEW.description IS DISTINCT FROM OLD.description
                       OR NEW.owner IS DISTINCT FROM OLD.owner
                       OR NEW.run_right_now IS DISTINCT FROM OLD.run_right_now
                       OR NEW.version IS DISTINCT FROM OLD.version
                       OR NEW.create_time IS DISTINCT FROM OLD.create_time
                       OR NEW.update_time IS DISTINCT FROM OLD.update_time)
    EXECUTE FUNCTION job_info_before_write();
