-- The triggers of job_info: structural validation with exact messages, stamping of owner, version,
-- create_time and update_time, and a NOTIFY on every definition change so that rowsched applies it
-- within milliseconds.
--
-- A "definition change" is a change of any column a user writes (job_id, func, func_args,
-- trigger_kwargs, is_paused, description, owner) or run_right_now going from false to true. rowsched
-- clearing run_right_now (true to false) and its write-backs of next_run_time, state, ... are not:
-- they bump no version and send no notification, so the daemon never wakes itself up.
--
-- CREATE OR REPLACE TRIGGER needs PostgreSQL 14 or later.
--
-- Functions are created with SET search_path FROM CURRENT so that they find each other whatever the
-- search_path of the session that fires them. The key lists below are also checked by the daemon
-- (src/trigger/trigger_kwargs.cc); keep the two in step.

-- How the daemon and these messages name a JSON value's type.
CREATE OR REPLACE FUNCTION rowsched_json_kind(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT CASE jsonb_typeof(value)
        WHEN 'string' THEN 'a string'
        WHEN 'number' THEN 'a number'
        WHEN 'boolean' THEN 'a boolean'
        WHEN 'array' THEN 'an array'
        WHEN 'object' THEN 'an object'
        ELSE 'null'
    END
$fn$;

-- A JSON value as it appears in a message: as JSON (so "25" and 25 differ), cut to 80 characters so
-- that one hostile row cannot fill a log.
CREATE OR REPLACE FUNCTION rowsched_json_render(value jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT CASE WHEN char_length(value::text) > 80 THEN left(value::text, 77) || '...' ELSE value::text END
$fn$;

-- The problem with trigger_kwargs->key as a number of seconds (>= 0, or > 0 when `positive`), or NULL.
-- JSON null means "none" where `nullable`, "the default" otherwise; both are fine.
CREATE OR REPLACE FUNCTION rowsched_seconds_problem(kwargs jsonb, key text, nullable boolean, positive boolean)
RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
DECLARE
    value constant jsonb := kwargs -> key;
    allowed constant text := format('allowed: a number of seconds %s%s',
                                    CASE WHEN positive THEN '> 0' ELSE '>= 0' END,
                                    CASE WHEN nullable THEN ' or null' ELSE '' END);
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(value) <> 'number' THEN
        RETURN format('job_info.trigger_kwargs.%s: %s is %s; %s', key, rowsched_json_render(value),
                      rowsched_json_kind(value), allowed);
    END IF;
    IF value::numeric < 0 OR (positive AND value::numeric = 0) THEN
        RETURN format('job_info.trigger_kwargs.%s: %s is out of range; %s', key, rowsched_json_render(value), allowed);
    END IF;
    RETURN NULL;
END
$fn$;

-- The problem with trigger_kwargs->key as an integer >= minimum, or NULL (JSON null: the default).
CREATE OR REPLACE FUNCTION rowsched_integer_problem(kwargs jsonb, key text, minimum integer) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
DECLARE
    value constant jsonb := kwargs -> key;
    allowed constant text := format('allowed: an integer >= %s', minimum);
BEGIN
    IF value IS NULL OR jsonb_typeof(value) = 'null' THEN
        RETURN NULL;
    END IF;
    IF jsonb_typeof(value) <> 'number' THEN
        RETURN format('job_info.trigger_kwargs.%s: %s is %s; %s', key, rowsched_json_render(value),
                      rowsched_json_kind(value), allowed);
    END IF;
    IF value::numeric <> trunc(value::numeric) THEN
        RETURN format('job_info.trigger_kwargs.%s: %s is not an integer; %s', key, rowsched_json_render(value), allowed);
    END IF;
    IF value::numeric < minimum THEN
        RETURN format('job_info.trigger_kwargs.%s: %s is out of range; %s', key, rowsched_json_render(value), allowed);
    END IF;
    RETURN NULL;
END
$fn$;

-- The problem with trigger_kwargs->key as a boolean, or NULL (JSON null: the default).
CREATE OR REPLACE FUNCTION rowsched_boolean_problem(kwargs jsonb, key text) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT format('job_info.trigger_kwargs.%s: %s is %s; allowed: true or false', key,
                  rowsched_json_render(kwargs -> key), rowsched_json_kind(kwargs -> key))
     WHERE jsonb_typeof(kwargs -> key) NOT IN ('boolean', 'null')
$fn$;

-- The problem with trigger_kwargs->'next_run_time', or NULL: a string ("now" or a timestamp, parsed by
-- the daemon) or null.
CREATE OR REPLACE FUNCTION rowsched_next_run_time_problem(kwargs jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT format('job_info.trigger_kwargs.next_run_time: %s is %s; '
                  'allowed: "now" or a timestamp string such as "2024-01-31 09:00:00"',
                  rowsched_json_render(kwargs -> 'next_run_time'), rowsched_json_kind(kwargs -> 'next_run_time'))
     WHERE jsonb_typeof(kwargs -> 'next_run_time') NOT IN ('string', 'null')
$fn$;

-- The problem with a trigger_kwargs value, or NULL when it is structurally sound. Usable on its own:
-- SELECT job_info_trigger_kwargs_problem('{"trigger": "cron", "minuts": 5}').
CREATE OR REPLACE FUNCTION job_info_trigger_kwargs_problem(kwargs jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
DECLARE
    triggers constant text := 'cron, interval, date, calendarinterval';
    cron_fields constant text[] := ARRAY['year', 'month', 'day', 'week', 'day_of_week', 'hour', 'minute', 'second'];
    job_options constant text[] := ARRAY['misfire_grace_time', 'coalesce', 'max_instances', 'next_run_time',
                                         'timeout', 'retries', 'retry_delay'];
    trigger_value jsonb := kwargs -> 'trigger';
    kind text;
    allowed text[];
    found text;
    value jsonb;
BEGIN
    IF kwargs IS NULL THEN
        RETURN NULL;  -- the NOT NULL constraint says so
    END IF;
    IF jsonb_typeof(kwargs) <> 'object' THEN
        RETURN format('job_info.trigger_kwargs: must be a JSON object, got %s', jsonb_typeof(kwargs));
    END IF;

    -- Which trigger: "trigger" (null counts as absent), else "crontab" means cron.
    IF trigger_value IS NOT NULL AND jsonb_typeof(trigger_value) <> 'null' THEN
        IF jsonb_typeof(trigger_value) <> 'string' THEN
            RETURN format('job_info.trigger_kwargs.trigger: %s is %s; allowed: %s',
                          rowsched_json_render(trigger_value), rowsched_json_kind(trigger_value), triggers);
        END IF;
        kind := trigger_value #>> '{}';
        IF kind NOT IN ('cron', 'interval', 'date', 'calendarinterval') THEN
            RETURN format('job_info.trigger_kwargs: unknown trigger %s; allowed: %s',
                          rowsched_json_render(trigger_value), triggers);
        END IF;
    ELSIF kwargs ? 'crontab' THEN
        kind := 'cron';
    ELSE
        -- APScheduler's add_job without a trigger makes a date trigger (run once, at run_date or
        -- now): the seed's JobInfo defaults trigger_kwargs to {}, so such rows must keep working.
        kind := 'date';
    END IF;

    IF kind = 'cron' AND kwargs ? 'crontab' THEN
        SELECT f INTO found FROM unnest(cron_fields) WITH ORDINALITY AS u(f, i) WHERE kwargs ? f ORDER BY i LIMIT 1;
        IF found IS NOT NULL THEN
            RETURN format('job_info.trigger_kwargs: "crontab" cannot be combined with cron field %s', to_json(found));
        END IF;
        value := kwargs -> 'crontab';
        IF jsonb_typeof(value) <> 'string' THEN
            RETURN format('job_info.trigger_kwargs.crontab: %s is %s; allowed: a crontab string such as "*/5 * * * *"',
                          rowsched_json_render(value), rowsched_json_kind(value));
        END IF;
        allowed := ARRAY['crontab', 'start_date', 'end_date', 'timezone', 'jitter'];
    ELSIF kind = 'cron' THEN
        allowed := cron_fields || ARRAY['start_date', 'end_date', 'timezone', 'jitter'];
    ELSIF kind = 'interval' THEN
        allowed := ARRAY['weeks', 'days', 'hours', 'minutes', 'seconds', 'start_date', 'end_date', 'timezone', 'jitter'];
    ELSIF kind = 'date' THEN
        allowed := ARRAY['run_date', 'timezone'];
    ELSE
        allowed := ARRAY['years', 'months', 'weeks', 'days', 'hour', 'minute', 'second', 'start_date', 'end_date',
                         'timezone'];
    END IF;
    allowed := allowed || job_options;

    -- Of several unknown keys, the first in byte order is named (jsonb itself orders keys by length).
    SELECT k INTO found FROM jsonb_object_keys(kwargs) AS k
     WHERE k <> 'trigger' AND k <> ALL (allowed)
     ORDER BY k COLLATE "C" LIMIT 1;
    IF found IS NOT NULL THEN
        RETURN format('job_info.trigger_kwargs: unknown key %s for trigger "%s"; allowed: %s',
                      to_json(found), kind, array_to_string(allowed, ', '));
    END IF;

    -- The job options' types and lower bounds; the daemon checks upper bounds, grammar and time zones.
    found := coalesce(
        rowsched_seconds_problem(kwargs, 'misfire_grace_time', true, false),
        rowsched_boolean_problem(kwargs, 'coalesce'),
        rowsched_integer_problem(kwargs, 'max_instances', 1),
        rowsched_next_run_time_problem(kwargs),
        rowsched_seconds_problem(kwargs, 'timeout', true, true),
        rowsched_integer_problem(kwargs, 'retries', 0),
        rowsched_seconds_problem(kwargs, 'retry_delay', false, false),
        rowsched_seconds_problem(kwargs, 'jitter', true, false));
    RETURN found;
END
$fn$;

-- Whether the current role may act as `role` (own a job that runs as it): the SET ROLE rule, which
-- superusers always pass. A role that does not exist is nobody's.
CREATE OR REPLACE FUNCTION rowsched_may_act_as(role name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT role = current_user
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) AND pg_has_role(current_user, role, 'MEMBER'))
$fn$;

-- BEFORE INSERT OR UPDATE: validate what the user wrote, then stamp.
CREATE OR REPLACE FUNCTION job_info_before_write() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    inserting constant boolean := TG_OP = 'INSERT';
    problem text;
    problem_column text;
    problem_code text := 'check_violation';
    definition_changed boolean;
BEGIN
    -- Owner: NULL or '' mean "me". The rest is checked below with the definition.
    IF NEW.owner IS NULL OR NEW.owner = '' THEN
        NEW.owner := current_user;
    END IF;

    -- On UPDATE a column is validated only when it changed, so that write-backs (and edits of other
    -- columns) never fail on a row written under older, looser rules.
    IF NEW.job_id IS NOT NULL AND (inserting OR NEW.job_id IS DISTINCT FROM OLD.job_id)
       AND char_length(NEW.job_id) NOT BETWEEN 1 AND 200 THEN
        problem := format('job_info.job_id: must be 1-200 characters, got %s', char_length(NEW.job_id));
        problem_column := 'job_id';
    ELSIF NEW.func IS NOT NULL AND (inserting OR NEW.func IS DISTINCT FROM OLD.func) AND btrim(NEW.func) = '' THEN
        problem := 'job_info.func: must not be empty';
        problem_column := 'func';
    ELSIF NEW.func_args IS NOT NULL AND (inserting OR NEW.func_args IS DISTINCT FROM OLD.func_args)
          AND jsonb_typeof(NEW.func_args) <> 'array' THEN
        problem := format('job_info.func_args: must be a JSON array, got %s', jsonb_typeof(NEW.func_args));
        problem_column := 'func_args';
    ELSIF inserting OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs THEN
        problem := job_info_trigger_kwargs_problem(NEW.trigger_kwargs);
        problem_column := 'trigger_kwargs';
    END IF;
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = problem_code, COLUMN = problem_column,
                              TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;

    definition_changed := inserting
        OR NEW.job_id IS DISTINCT FROM OLD.job_id
        OR NEW.func IS DISTINCT FROM OLD.func
        OR NEW.func_args IS DISTINCT FROM OLD.func_args
        OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs
        OR NEW.is_paused IS DISTINCT FROM OLD.is_paused
        OR NEW.description IS DISTINCT FROM OLD.description
        OR NEW.owner IS DISTINCT FROM OLD.owner
        OR (NEW.run_right_now AND NOT OLD.run_right_now);

    -- The owner rule: a job runs as its owner, so only a role that could SET ROLE to the owner may
    -- create the job or change its definition. Write-backs (no definition change) are anyone's.
    IF definition_changed THEN
        IF NOT inserting AND EXISTS (SELECT 1 FROM pg_roles WHERE rolname = OLD.owner)
           AND NOT rowsched_may_act_as(OLD.owner) THEN
            problem := format('job_info: role %s is not a member of role %s, the owner of job %s; '
                              'only a member of the owner role may change a job''s definition',
                              to_json(current_user::text), to_json(OLD.owner::text), to_json(OLD.job_id));
            problem_code := 'insufficient_privilege';
        ELSIF NEW.owner <> current_user AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = NEW.owner) THEN
            problem := format('job_info.owner: role %s does not exist', to_json(NEW.owner::text));
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

    IF inserting THEN
        -- The daemon's columns start from their defaults whatever the user wrote.
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
    ELSE
        NEW.create_time := OLD.create_time;
        IF definition_changed THEN
            NEW.version := OLD.version + 1;
            NEW.update_time := now();
        ELSE
            NEW.version := OLD.version;
            NEW.update_time := OLD.update_time;
        END IF;
    END IF;
    RETURN NEW;
END
$fn$;

-- AFTER INSERT/UPDATE/DELETE: tell rowsched which job changed. The payload is compact JSON, never
-- the row: {"op":"update","schema":"public","job_id":"b","old_job_id":"a","version":3}.
CREATE OR REPLACE FUNCTION job_info_notify() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    head constant text := '{"op":"' || lower(TG_OP) || '","schema":' || to_json(TG_TABLE_SCHEMA::text)::text;
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('rowsched_job_info',
            head || ',"job_id":' || to_json(OLD.job_id)::text || ',"version":' || OLD.version || '}');
        RETURN NULL;
    END IF;
    IF TG_OP = 'UPDATE' AND NEW.version = OLD.version THEN
        RETURN NULL;  -- a write-back; the trigger's WHEN clause normally spares this call
    END IF;
    PERFORM pg_notify('rowsched_job_info',
        head || ',"job_id":' || to_json(NEW.job_id)::text
        || CASE WHEN TG_OP = 'UPDATE' AND NEW.job_id <> OLD.job_id
                THEN ',"old_job_id":' || to_json(OLD.job_id)::text ELSE '' END
        || ',"version":' || NEW.version || '}');
    RETURN NULL;
END
$fn$;

-- AFTER TRUNCATE: every job is gone.
CREATE OR REPLACE FUNCTION job_info_notify_truncate() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    PERFORM pg_notify('rowsched_job_info',
        '{"op":"truncate","schema":' || to_json(TG_TABLE_SCHEMA::text)::text || '}');
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE TRIGGER rowsched_before_write
    BEFORE INSERT OR UPDATE ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_write();

CREATE OR REPLACE TRIGGER rowsched_notify_insert_delete
    AFTER INSERT OR DELETE ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_notify();

CREATE OR REPLACE TRIGGER rowsched_notify_update
    AFTER UPDATE ON job_info
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION job_info_notify();

CREATE OR REPLACE TRIGGER rowsched_notify_truncate
    AFTER TRUNCATE ON job_info
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_truncate();
