-- pg_cron compatibility (docs/pg-cron.md): pg_cron's SQL functions with its names and argument order,
-- a job_run_details view shaped like cron.job_run_details, and the command text of every run.
--
-- The functions create ordinary job_info rows (func 'sql', func_args [command], trigger_kwargs
-- {"crontab": schedule}, owner = the caller), so the job_info triggers, the owner rule and everything
-- else apply unchanged. They live in rowsched's schema: `cron` is pg_cron's when pg_cron is installed;
-- without pg_cron, `rowsched migrate --schema cron` makes `cron.schedule(...)` work as written.
-- job_id is text in rowsched, so the functions take and return the job_id where pg_cron has a bigint.
-- The schedule is checked by the daemon, as for any row: a bad one leaves the row `invalid` with
-- last_error saying why (the functions do not parse cron lines in SQL).
--
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.

-- The text job_run.command records for a job's definition. No SET clause (it uses only pg_catalog),
-- so that the claim's statement inlines it.
CREATE OR REPLACE FUNCTION rowsched_command_text(func text, func_args jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN func = 'sql' AND jsonb_typeof(func_args -> 0) = 'string' THEN func_args ->> 0
                ELSE func || ' ' || func_args::text END
$fn$;

-- trigger_kwargs with the schedule replaced by `schedule` (a crontab string) and the job options
-- (time zone, retries, ...) that a user added to the row kept: the keys a crontab allows besides itself
-- and the job options but next_run_time (the first run of the old schedule) and queue.
CREATE OR REPLACE FUNCTION rowsched_with_crontab(kwargs jsonb, schedule text) RETURNS jsonb
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT coalesce((SELECT jsonb_object_agg(key, value) FROM jsonb_each(coalesce(kwargs, '{}'))
                      WHERE key = ANY (rowsched_trigger_kwargs_keys('crontab') || rowsched_trigger_kwargs_keys('job_options'))
                        AND key NOT IN ('crontab', 'next_run_time', 'queue')), '{}')
           || jsonb_build_object('crontab', schedule)
$fn$;

-- rowsched runs a job in the database of its job_info table; another database is refused.
CREATE OR REPLACE FUNCTION rowsched_require_this_database(function_name text, database text) RETURNS void
LANGUAGE plpgsql STABLE
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF database IS NOT NULL AND database <> current_database() THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('%s: database %s is not this database (%s); rowsched runs a job in the database of '
                             'its job_info table, so install rowsched in %s (rowsched migrate) and schedule the '
                             'job there', function_name, to_json(database), to_json(current_database()),
                             to_json(database));
    END IF;
END
$fn$;

-- pg_cron's schedule(job_name, schedule, command): creates the job, or replaces the schedule and the
-- command of the job with that job_id (pg_cron upserts by name too). Returns the job_id.
CREATE OR REPLACE FUNCTION schedule(job_name text, schedule text, command text) RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF job_name IS NULL OR schedule IS NULL OR command IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'schedule(job_name, schedule, command): none of the arguments may be null';
    END IF;
    INSERT INTO job_info AS j (job_id, func, func_args, trigger_kwargs)
    VALUES (job_name, 'sql', jsonb_build_array(command), jsonb_build_object('crontab', schedule))
    ON CONFLICT (job_id) DO UPDATE
        SET func = 'sql', func_args = EXCLUDED.func_args,
            trigger_kwargs = rowsched_with_crontab(j.trigger_kwargs, schedule);
    RETURN job_name;
END
$fn$;

-- pg_cron's schedule(schedule, command): a new job with a generated job_id, which it returns.
CREATE OR REPLACE FUNCTION schedule(schedule text, command text) RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    created text;
BEGIN
    IF schedule IS NULL OR command IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'null_value_not_allowed',
            MESSAGE = 'schedule(schedule, command): none of the arguments may be null';
    END IF;
    INSERT INTO job_info (func, func_args, trigger_kwargs)
    VALUES ('sql', jsonb_build_array(command), jsonb_build_object('crontab', schedule))
    RETURNING job_id INTO created;
    RETURN created;
END
$fn$;

-- pg_cron's schedule_in_database(job_name, schedule, command, database, username, active), for this
-- database only. username becomes the owner (the job_info owner rule applies: the caller must be a
-- member of that role); active = false creates the job paused.
CREATE OR REPLACE FUNCTION schedule_in_database(job_name text, schedule text, command text, database text,
                                                username text DEFAULT NULL, active boolean DEFAULT true)
RETURNS text
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    PERFORM rowsched_require_this_database('schedule_in_database', database);
    PERFORM schedule(job_name, schedule, command);
    UPDATE job_info SET owner = coalesce(username::name, owner), is_paused = NOT coalesce(active, true)
     WHERE job_id = job_name;
    RETURN job_name;
END
$fn$;

-- pg_cron's unschedule(job_name) and unschedule(job_id), which are the same text in rowsched. Only a
-- member of the job's owner role may remove it; true when removed, an error when there is no such job.
CREATE OR REPLACE FUNCTION unschedule(job_id text) RETURNS boolean
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
DECLARE
    job_owner name;
BEGIN
    SELECT j.owner INTO job_owner FROM job_info j WHERE j.job_id = unschedule.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('unschedule: there is no job with job_id %s', to_json(job_id));
    END IF;
    IF NOT rowsched_may_act_as(job_owner) THEN
        RAISE EXCEPTION USING ERRCODE = 'insufficient_privilege',
            MESSAGE = format('unschedule: job %s belongs to role %s; only a member of that role may unschedule it',
                             to_json(job_id), to_json(job_owner::text));
    END IF;
    DELETE FROM job_info j WHERE j.job_id = unschedule.job_id;
    RETURN true;
END
$fn$;

-- pg_cron's alter_job: changes what is given (null = unchanged). database must be this one; username
-- becomes the owner; active = false pauses the job and true resumes it.
CREATE OR REPLACE FUNCTION alter_job(job_id text, schedule text DEFAULT NULL, command text DEFAULT NULL,
                                     database text DEFAULT NULL, username text DEFAULT NULL,
                                     active boolean DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    PERFORM rowsched_require_this_database('alter_job', database);
    UPDATE job_info j
       SET trigger_kwargs = CASE WHEN schedule IS NULL THEN j.trigger_kwargs
                                 ELSE rowsched_with_crontab(j.trigger_kwargs, schedule) END,
           func = CASE WHEN command IS NULL THEN j.func ELSE 'sql' END,
           func_args = CASE WHEN command IS NULL THEN j.func_args ELSE jsonb_build_array(command) END,
           owner = coalesce(username::name, j.owner),
           is_paused = CASE WHEN active IS NULL THEN j.is_paused ELSE NOT active END
     WHERE j.job_id = alter_job.job_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('alter_job: there is no job with job_id %s', to_json(job_id));
    END IF;
END
$fn$;

-- cron.job_run_details' columns over job_run, so that queries written for pg_cron work with the schema
-- changed. status speaks pg_cron's vocabulary (starting for a worker run still queued, running,
-- succeeded, failed; every other rowsched outcome is failed, with rowsched's own status first in
-- return_message and in rowsched_status).
-- job_pid is null: the run's session is not recorded. A view runs with its owner's rights, past
-- job_run's row-level security, so it filters by the reader as job_status does (008_row_security.sql),
-- as a security_barrier view for the same reason.
CREATE OR REPLACE VIEW job_run_details WITH (security_barrier) AS
SELECT r.job_id                                              AS jobid,
       r.run_id                                              AS runid,
       NULL::integer                                         AS job_pid,
       current_database()::text                              AS database,
       j.owner::text                                         AS username,
       r.command                                             AS command,
       CASE WHEN r.status IN ('running', 'succeeded') THEN r.status
            WHEN r.status = 'queued' THEN 'starting' ELSE 'failed' END AS status,
       CASE WHEN r.status = 'succeeded' THEN r.output
            WHEN r.status IN ('running', 'failed', 'queued') THEN r.error
            ELSE r.status || coalesce(': ' || r.error, '') END AS return_message,
       r.started_at                                          AS start_time,
       r.finished_at                                         AS end_time,
       r.status                                              AS rowsched_status
  FROM job_run r
  LEFT JOIN job_info j ON j.job_id = r.job_id
 WHERE (SELECT rowsched_sees_every_job()) OR j.owner = ANY ((SELECT rowsched_owners_seen())::name[]);
