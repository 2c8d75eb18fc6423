-- A fast INSERT path for job_info. Before this file an inserted row ran two BEFORE row triggers,
-- job_info_before_write (002) and rowsched_stamp_run_right_now (004), and most of their time went into
-- PL/pgSQL helpers that each switch search_path; one AFTER row trigger sent one notification per row.
-- Now:
--
-- - one BEFORE INSERT row trigger, rowsched_before_insert -> job_info_before_insert(), validates,
--   applies the owner rule and stamps: a well-formed row passes one expression that mirrors the rules
--   of job_info_trigger_kwargs_problem; anything that does not pass it goes through the full checks of
--   002, so a rejected row gets exactly the message it always got. An owner equal to current_user
--   needs no look-up.
-- - INSERT and DELETE notify once per statement (transition tables): {"op":"insert","schema":"s",
--   "job_ids":["a","b"]} for up to 100 rows while the payload stays below 7000 bytes, else
--   {"op":"insert","schema":"s","count":12345}; a statement that touched no row sends nothing.
--
-- UPDATE keeps its triggers of 002, 004 and 005 unchanged (one notification per changed row), and so
-- does TRUNCATE. job_info keeps 7 triggers: rowsched_before_insert, rowsched_before_update,
-- job_info_stamp_update, rowsched_notify_insert, rowsched_notify_delete, rowsched_notify_update,
-- rowsched_notify_truncate.

-- Whether job_info_trigger_kwargs_problem(kwargs) is surely NULL, cheaply: true only for values it
-- accepts, false or NULL otherwise (for objects it is exact today, but only "true means valid" is
-- relied on). It follows the same rules: the trigger's name (JSON null counts as absent; absent with
-- "crontab" means cron by crontab, absent without it means date), no key outside the trigger's list,
-- a string crontab, then the job options' types and lower bounds. Built from pg_catalog operators
-- only and without SET search_path so that the planner inlines it into the trigger's expression (a
-- SET clause would make each use a function call with a search_path switch: what made 002 slow).
CREATE OR REPLACE FUNCTION rowsched_trigger_kwargs_fast_ok(kwargs jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $fn$
SELECT jsonb_typeof(kwargs) = 'object'
    AND CASE kwargs ->> 'trigger'
        WHEN 'interval' THEN
            kwargs - '{trigger,weeks,days,hours,minutes,seconds,start_date,end_date,timezone,jitter,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
        WHEN 'cron' THEN
            CASE WHEN kwargs ? 'crontab'
            THEN jsonb_typeof(kwargs -> 'crontab') = 'string'
                 AND kwargs - '{trigger,crontab,start_date,end_date,timezone,jitter,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
            ELSE kwargs - '{trigger,year,month,day,week,day_of_week,hour,minute,second,start_date,end_date,timezone,jitter,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
            END
        WHEN 'date' THEN
            kwargs - '{trigger,run_date,timezone,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
        WHEN 'calendarinterval' THEN
            kwargs - '{trigger,years,months,weeks,days,hour,minute,second,start_date,end_date,timezone,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
        ELSE
            CASE WHEN kwargs ->> 'trigger' IS NOT NULL THEN false  -- not a known name
                 WHEN kwargs ? 'crontab'
                 THEN jsonb_typeof(kwargs -> 'crontab') = 'string'
                      AND kwargs - '{trigger,crontab,start_date,end_date,timezone,jitter,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
                 ELSE kwargs - '{trigger,run_date,timezone,misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay}'::text[] = '{}'
            END
        END
    AND (NOT kwargs ?| '{misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay,jitter}'::text[]
         OR (CASE jsonb_typeof(kwargs -> 'misfire_grace_time')
                 WHEN 'number' THEN (kwargs -> 'misfire_grace_time')::numeric >= 0
                 WHEN 'null' THEN true ELSE kwargs -> 'misfire_grace_time' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'coalesce')
                 WHEN 'boolean' THEN true
                 WHEN 'null' THEN true ELSE kwargs -> 'coalesce' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'max_instances')
                 WHEN 'number' THEN (kwargs -> 'max_instances')::numeric >= 1
                                    AND (kwargs -> 'max_instances')::numeric
                                        = trunc((kwargs -> 'max_instances')::numeric)
                 WHEN 'null' THEN true ELSE kwargs -> 'max_instances' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'next_run_time')
                 WHEN 'string' THEN true
                 WHEN 'null' THEN true ELSE kwargs -> 'next_run_time' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'timeout')
                 WHEN 'number' THEN (kwargs -> 'timeout')::numeric > 0
                 WHEN 'null' THEN true ELSE kwargs -> 'timeout' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'retries')
                 WHEN 'number' THEN (kwargs -> 'retries')::numeric >= 0
                                    AND (kwargs -> 'retries')::numeric
                                        = trunc((kwargs -> 'retries')::numeric)
                 WHEN 'null' THEN true ELSE kwargs -> 'retries' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'retry_delay')
                 WHEN 'number' THEN (kwargs -> 'retry_delay')::numeric >= 0
                 WHEN 'null' THEN true ELSE kwargs -> 'retry_delay' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'jitter')
                 WHEN 'number' THEN (kwargs -> 'jitter')::numeric >= 0
                 WHEN 'null' THEN true ELSE kwargs -> 'jitter' IS NULL END))
$fn$;

-- BEFORE INSERT: validate what the user wrote, apply the owner rule, stamp. Same behaviour as
-- job_info_before_write (002) followed by rowsched_stamp_run_right_now (004) on INSERT.
CREATE OR REPLACE FUNCTION job_info_before_insert() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    problem text;
    problem_column text;
    problem_code text;
BEGIN
    -- The common row passes one expression: surely valid, owned by its writer, the daemon's columns
    -- at their defaults, no run_right_now. It has nothing to raise and nothing to reset.
    IF NOT coalesce((NEW.job_id IS NULL OR char_length(NEW.job_id) BETWEEN 1 AND 200)
                    AND (NEW.func IS NULL OR btrim(NEW.func) <> '')
                    AND (NEW.func_args IS NULL OR jsonb_typeof(NEW.func_args) = 'array')
                    AND rowsched_trigger_kwargs_fast_ok(NEW.trigger_kwargs)
                    AND NEW.owner = current_user AND NOT NEW.run_right_now AND NEW.run_right_now_at IS NULL
                    AND NEW.next_run_time IS NULL AND NOT NEW.is_running AND NEW.state = 'pending'
                    AND NEW.last_error IS NULL AND NEW.last_run_time IS NULL AND NEW.last_status IS NULL
                    AND NEW.run_count = 0 AND NEW.failure_count = 0 AND NEW.version = 1
                    AND NEW.create_time = now() AND NEW.update_time = now(), false) THEN
        -- Validation: the checks of job_info_before_write, in its order, with its messages, unless
        -- the quick ones pass.
        IF NOT coalesce((NEW.job_id IS NULL OR char_length(NEW.job_id) BETWEEN 1 AND 200)
                        AND (NEW.func IS NULL OR btrim(NEW.func) <> '')
                        AND (NEW.func_args IS NULL OR jsonb_typeof(NEW.func_args) = 'array')
                        AND rowsched_trigger_kwargs_fast_ok(NEW.trigger_kwargs), false) THEN
            IF NEW.job_id IS NOT NULL AND char_length(NEW.job_id) NOT BETWEEN 1 AND 200 THEN
                problem := format('job_info.job_id: must be 1-200 characters, got %s', char_length(NEW.job_id));
                problem_column := 'job_id';
            ELSIF NEW.func IS NOT NULL AND btrim(NEW.func) = '' THEN
                problem := 'job_info.func: must not be empty';
                problem_column := 'func';
            ELSIF NEW.func_args IS NOT NULL AND jsonb_typeof(NEW.func_args) <> 'array' THEN
                problem := format('job_info.func_args: must be a JSON array, got %s', jsonb_typeof(NEW.func_args));
                problem_column := 'func_args';
            ELSE
                problem := job_info_trigger_kwargs_problem(NEW.trigger_kwargs);
                problem_column := 'trigger_kwargs';
            END IF;
            IF problem IS NOT NULL THEN
                RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'check_violation', COLUMN = problem_column,
                                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
            END IF;
        END IF;

        -- The owner rule (an INSERT is a definition change): NULL or '' mean "me", which needs no check.
        IF NEW.owner IS NULL OR NEW.owner = '' THEN
            NEW.owner := current_user;
        ELSIF NEW.owner <> current_user THEN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.owner) THEN
                problem := format('job_info.owner: role %s does not exist', to_json(NEW.owner::text));
                problem_code := 'check_violation';
            ELSIF NOT rowsched_may_act_as(NEW.owner) THEN
                problem := format('job_info.owner: role %s is not a member of role %s; '
                                  'a job can only be owned by a role its writer can SET ROLE to',
                                  to_json(current_user::text), to_json(NEW.owner::text));
                problem_code := 'insufficient_privilege';
            END IF;
            IF problem IS NOT NULL THEN
                RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = problem_code, COLUMN = 'owner',
                                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
            END IF;
        END IF;

        -- The daemon's columns start from their defaults whatever the user wrote; version and times
        -- are stamped (002); run_right_now_at as rowsched_stamp_run_right_now (004).
        NEW.next_run_time := NULL;
        NEW.is_running := false;
        NEW.state := 'pending';
        NEW.last_error := NULL;
        NEW.last_run_time := NULL;
        NEW.last_status := NULL;
        NEW.run_count := 0;
        NEW.failure_count := 0;
        NEW.version := 1;
        NEW.create_time := now();
        NEW.update_time := now();
        IF NOT NEW.run_right_now THEN
            NEW.run_right_now_at := NULL;
        ELSE
            NEW.run_right_now_at := clock_timestamp();
        END IF;
    END IF;
    NEW.trigger_time := clock_timestamp();
    NEW.active_time := NEW.trigger_time;
    RETURN NEW;
END
$fn$;

-- AFTER INSERT or DELETE, once per statement: which jobs, or how many when they are too many to name.
CREATE OR REPLACE FUNCTION job_info_notify_rows() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    head constant text := '{"op":"' || lower(TG_OP) || '","schema":' || to_json(TG_TABLE_SCHEMA::text)::text;
    n bigint;
    ids text;
    payload text;
BEGIN
    IF TG_OP = 'INSERT' THEN
        SELECT count(*), string_agg(j, ',') INTO n, ids
          FROM (SELECT to_json(job_id)::text AS j FROM rowsched_new_rows LIMIT 101) AS s;
    ELSE
        SELECT count(*), string_agg(j, ',') INTO n, ids
          FROM (SELECT to_json(job_id)::text AS j FROM rowsched_old_rows LIMIT 101) AS s;
    END IF;
    IF n = 0 THEN
        RETURN NULL;
    END IF;
    IF n <= 100 THEN
        payload := head || ',"job_ids":[' || ids || ']}';
        IF octet_length(payload) < 7000 THEN
            PERFORM pg_notify('rowsched_job_info', payload);
            RETURN NULL;
        END IF;
    ELSIF TG_OP = 'INSERT' THEN
        SELECT count(*) INTO n FROM rowsched_new_rows;
    ELSE
        SELECT count(*) INTO n FROM rowsched_old_rows;
    END IF;
    PERFORM pg_notify('rowsched_job_info', head || ',"count":' || n || '}');
    RETURN NULL;
END
$fn$;

DROP TRIGGER IF EXISTS job_info_stamp_insert ON job_info;

CREATE OR REPLACE TRIGGER rowsched_before_insert
    BEFORE INSERT ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_insert();

DROP TRIGGER IF EXISTS rowsched_notify_insert_delete ON job_info;

CREATE OR REPLACE TRIGGER rowsched_notify_insert
    AFTER INSERT ON job_info
    REFERENCING NEW TABLE AS rowsched_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_rows();

CREATE OR REPLACE TRIGGER rowsched_notify_delete
    AFTER DELETE ON job_info
    REFERENCING OLD TABLE AS rowsched_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_rows();
