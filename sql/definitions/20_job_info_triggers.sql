-- The triggers of job_info: structural validation with exact messages, the owner rule, stamping of
-- owner, version, create_time, update_time, run_right_now_at, trigger_time and active_time, and a
-- NOTIFY on every definition change so that rowsched applies it within milliseconds.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.
--
-- A "definition change" is a change of any column a user writes (job_id, func, func_args,
-- trigger_kwargs, is_paused, description, owner) or run_right_now going from false to true. rowsched
-- clearing run_right_now (true to false) and its write-backs of next_run_time, state, ... are not:
-- they bump no version and send no notification, so the daemon never wakes itself up. The list of
-- definition columns appears in job_info_before_update() and in the WHEN clause of
-- rowsched_before_update below, side by side: a WHEN clause must name the columns itself so that a
-- write-back runs no PL/pgSQL at all.
--
-- job_info's triggers (fired in name order within each timing):
--   BEFORE INSERT  rowsched_before_insert      job_info_before_insert()
--   BEFORE UPDATE  job_info_stamp_update       rowsched_stamp_run_right_now()  (WHEN a stamp's input changed)
--   BEFORE UPDATE  rowsched_before_update      job_info_before_update()        (WHEN a definition column changed)
--   BEFORE DELETE  job_info_before_delete      job_info_before_delete()
--   AFTER INSERT   rowsched_notify_insert      job_info_notify_rows()          (per statement)
--   AFTER DELETE   rowsched_notify_delete      job_info_notify_rows()          (per statement)
--   AFTER UPDATE   rowsched_notify_update      job_info_notify()               (WHEN the version changed)
--   AFTER TRUNCATE rowsched_notify_truncate    job_info_notify_truncate()
--
-- Functions are created with SET search_path FROM CURRENT so that they find each other whatever the
-- search_path of the session that fires them. CREATE OR REPLACE TRIGGER needs PostgreSQL 14 or later.

-- Whether the current role may act as `role` (own a job that runs as it): the SET ROLE rule, which
-- superusers always pass. A role that does not exist is nobody's.
CREATE OR REPLACE FUNCTION rowsched_may_act_as(role name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT role = current_user
        OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = role) AND pg_has_role(current_user, role, 'MEMBER'))
$fn$;

-- The first problem with the columns a user wrote (NULL: not to be checked, e.g. unchanged by an
-- UPDATE), in this order: job_id, func, func_args, trigger_kwargs; and the column it is about. NULLs
-- when there is none. The trigger functions raise it (check_violation) so that the error's context
-- names them.
CREATE OR REPLACE FUNCTION rowsched_column_problem(job_id text, func text, func_args jsonb, trigger_kwargs jsonb,
                                                   OUT problem text, OUT problem_column text)
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF char_length(job_id) NOT BETWEEN 1 AND 200 THEN
        problem := format('job_info.job_id: must be 1-200 characters, got %s', char_length(job_id));
        problem_column := 'job_id';
    ELSIF btrim(func) = '' THEN
        problem := 'job_info.func: must not be empty';
        problem_column := 'func';
    ELSIF jsonb_typeof(func_args) <> 'array' THEN
        problem := format('job_info.func_args: must be a JSON array, got %s', jsonb_typeof(func_args));
        problem_column := 'func_args';
    ELSE
        problem := job_info_trigger_kwargs_problem(trigger_kwargs);
        problem_column := CASE WHEN problem IS NOT NULL THEN 'trigger_kwargs' END;
    END IF;
END
$fn$;

-- The owner rule for a job's current owner: only a member of `owner` may `action` (change the
-- definition of, delete) job `job_id`; an owner role that was dropped binds nobody. The problem
-- (insufficient_privilege), or NULL.
CREATE OR REPLACE FUNCTION rowsched_current_owner_problem(owner name, job_id text, action text) RETURNS text
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT format('job_info: role %s is not a member of role %s, the owner of job %s; '
                  'only a member of the owner role may %s',
                  to_json(current_user::text), to_json(owner::text), to_json(job_id), action)
     WHERE EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner) AND NOT rowsched_may_act_as(owner)
$fn$;

-- The owner rule for a job's new owner: a job runs as its owner, so it can only be owned by a role its
-- writer can SET ROLE to (and that exists). The problem and its SQLSTATE name, or NULLs.
CREATE OR REPLACE FUNCTION rowsched_new_owner_problem(owner name, OUT problem text, OUT problem_code text)
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF owner <> current_user AND NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = owner) THEN
        problem := format('job_info.owner: role %s does not exist', to_json(owner::text));
        problem_code := 'check_violation';
    ELSIF NOT rowsched_may_act_as(owner) THEN
        problem := format('job_info.owner: role %s is not a member of role %s; '
                          'a job can only be owned by a role its writer can SET ROLE to',
                          to_json(current_user::text), to_json(owner::text));
        problem_code := 'insufficient_privilege';
    END IF;
END
$fn$;

-- BEFORE INSERT: validate what the user wrote, apply the owner rule, stamp.
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
        -- Validation, unless the quick checks pass.
        IF NOT coalesce((NEW.job_id IS NULL OR char_length(NEW.job_id) BETWEEN 1 AND 200)
                        AND (NEW.func IS NULL OR btrim(NEW.func) <> '')
                        AND (NEW.func_args IS NULL OR jsonb_typeof(NEW.func_args) = 'array')
                        AND rowsched_trigger_kwargs_fast_ok(NEW.trigger_kwargs), false) THEN
            SELECT * INTO problem, problem_column
              FROM rowsched_column_problem(NEW.job_id, NEW.func, NEW.func_args, NEW.trigger_kwargs);
            IF problem IS NOT NULL THEN
                RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = 'check_violation', COLUMN = problem_column,
                                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
            END IF;
        END IF;

        -- The owner rule (an INSERT is a definition change): NULL or '' mean "me", which needs no check.
        IF NEW.owner IS NULL OR NEW.owner = '' THEN
            NEW.owner := current_user;
        ELSIF NEW.owner <> current_user THEN
            SELECT * INTO problem, problem_code FROM rowsched_new_owner_problem(NEW.owner);
            IF problem IS NOT NULL THEN
                RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = problem_code, COLUMN = 'owner',
                                      TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
            END IF;
        END IF;

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
        NEW.run_right_now_at := CASE WHEN NEW.run_right_now THEN clock_timestamp() END;
    END IF;
    NEW.trigger_time := clock_timestamp();
    NEW.active_time := NEW.trigger_time;
    RETURN NEW;
END
$fn$;

-- BEFORE UPDATE (when a definition column or a stamp changed): validate the columns that changed, so
-- that write-backs (and edits of other columns) never fail on a row written under older, looser
-- rules; apply the owner rule to a definition change; stamp version and update_time.
CREATE OR REPLACE FUNCTION job_info_before_update() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    problem text;
    problem_column text;
    problem_code text := 'check_violation';
    definition_changed boolean;
BEGIN
    -- Owner: NULL or '' mean "me".
    IF NEW.owner IS NULL OR NEW.owner = '' THEN
        NEW.owner := current_user;
    END IF;
    SELECT * INTO problem, problem_column FROM rowsched_column_problem(
        CASE WHEN NEW.job_id IS DISTINCT FROM OLD.job_id THEN NEW.job_id END,
        CASE WHEN NEW.func IS DISTINCT FROM OLD.func THEN NEW.func END,
        CASE WHEN NEW.func_args IS DISTINCT FROM OLD.func_args THEN NEW.func_args END,
        CASE WHEN NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs THEN NEW.trigger_kwargs END);
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = problem_code, COLUMN = problem_column,
                              TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
    END IF;

    definition_changed := NEW.job_id IS DISTINCT FROM OLD.job_id
        OR NEW.func IS DISTINCT FROM OLD.func
        OR NEW.func_args IS DISTINCT FROM OLD.func_args
        OR NEW.trigger_kwargs IS DISTINCT FROM OLD.trigger_kwargs
        OR NEW.is_paused IS DISTINCT FROM OLD.is_paused
        OR NEW.description IS DISTINCT FROM OLD.description
        OR NEW.owner IS DISTINCT FROM OLD.owner
        OR (NEW.run_right_now AND NOT OLD.run_right_now);

    -- The owner rule: a job runs as its owner, so only a role that could SET ROLE to the owner may
    -- change the job's definition. Write-backs (no definition change) are anyone's.
    IF definition_changed THEN
        problem := rowsched_current_owner_problem(OLD.owner, OLD.job_id, 'change a job''s definition');
        IF problem IS NOT NULL THEN
            problem_code := 'insufficient_privilege';
        ELSE
            SELECT * INTO problem, problem_code FROM rowsched_new_owner_problem(NEW.owner);
        END IF;
        IF problem IS NOT NULL THEN
            RAISE EXCEPTION USING MESSAGE = problem, ERRCODE = problem_code, COLUMN = 'owner',
                                  TABLE = TG_TABLE_NAME, SCHEMA = TG_TABLE_SCHEMA;
        END IF;
    END IF;

    NEW.create_time := OLD.create_time;
    IF definition_changed THEN
        NEW.version := OLD.version + 1;
        NEW.update_time := now();
    ELSE
        NEW.version := OLD.version;
        NEW.update_time := OLD.update_time;
    END IF;
    RETURN NEW;
END
$fn$;

-- BEFORE UPDATE (when a stamp's input changed): run_right_now_at gives a run_right_now request its own
-- identity (stamped when the flag goes from false to true, kept by later writes, cleared with the
-- flag); trigger_time (when trigger_kwargs changes) is the schedule's "now"; active_time (also when
-- is_paused goes from true to false) is when the job last became schedulable. A user's writes to the
-- three are ignored.
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

-- BEFORE DELETE: the owner rule for deletes, for the roles that see jobs they may not act as
-- (BYPASSRLS, rowsched_admin, or row security disabled). Roles under the policy do not see other
-- roles' jobs at all: their DELETE finds no row, as for a job that does not exist.
CREATE OR REPLACE FUNCTION job_info_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    problem constant text := rowsched_current_owner_problem(OLD.owner, OLD.job_id, 'delete a job');
BEGIN
    IF problem IS NOT NULL THEN
        RAISE EXCEPTION '%', problem USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$fn$;

-- AFTER UPDATE (when the version changed): tell rowsched which job changed. The payload is compact
-- JSON, never the row: {"op":"update","schema":"public","job_id":"b","old_job_id":"a","version":3}.
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

-- AFTER INSERT or DELETE, once per statement: which jobs, {"op":"insert","schema":"s","job_ids":["a"]}
-- for up to 100 rows while the payload stays below 7000 bytes, else how many, {"op":"insert",
-- "schema":"s","count":12345}; a statement that touched no row sends nothing.
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

CREATE OR REPLACE TRIGGER rowsched_before_insert
    BEFORE INSERT ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_insert();

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

-- Only when a definition column (job_info_before_update's list) or a stamp changes.
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
    EXECUTE FUNCTION job_info_before_update();

CREATE OR REPLACE TRIGGER job_info_before_delete
    BEFORE DELETE ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_delete();

CREATE OR REPLACE TRIGGER rowsched_notify_insert
    AFTER INSERT ON job_info
    REFERENCING NEW TABLE AS rowsched_new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_rows();

CREATE OR REPLACE TRIGGER rowsched_notify_delete
    AFTER DELETE ON job_info
    REFERENCING OLD TABLE AS rowsched_old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_rows();

CREATE OR REPLACE TRIGGER rowsched_notify_update
    AFTER UPDATE ON job_info
    FOR EACH ROW WHEN (OLD.version IS DISTINCT FROM NEW.version)
    EXECUTE FUNCTION job_info_notify();

CREATE OR REPLACE TRIGGER rowsched_notify_truncate
    AFTER TRUNCATE ON job_info
    FOR EACH STATEMENT EXECUTE FUNCTION job_info_notify_truncate();
