-- What a valid trigger_kwargs is, in SQL: the allowed keys (the one list, which the daemon's C++ is
-- generated from), the messages naming what is wrong, and a fast check for the INSERT trigger.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.

-- The allowed trigger_kwargs keys, by kind: each trigger's own keys (`crontab` is a cron trigger given
-- by a crontab line), `cron_fields` (what a crontab cannot be combined with) and `job_options` (allowed
-- with every trigger). "trigger" itself is always allowed. THE ONE LIST: src/trigger/trigger_kwargs.cc
-- reads a C++ copy that cmake/trigger_kwargs_keys.cmake generates from the lines between the markers
-- at build time, so keep one `WHEN 'kind' THEN '{key,key}'::text[]` per line there. No SET clause and only
-- pg_catalog: the planner inlines it and folds a call with a constant kind into a constant.
CREATE OR REPLACE FUNCTION rowsched_trigger_kwargs_keys(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE kind
        -- rowsched:trigger_kwargs_keys begin
        WHEN 'cron' THEN '{year,month,day,week,day_of_week,hour,minute,second,start_date,end_date,timezone,jitter}'::text[]
        WHEN 'crontab' THEN '{crontab,start_date,end_date,timezone,jitter}'::text[]
        WHEN 'interval' THEN '{weeks,days,hours,minutes,seconds,start_date,end_date,timezone,jitter}'::text[]
        WHEN 'date' THEN '{run_date,timezone}'::text[]
        WHEN 'calendarinterval' THEN '{years,months,weeks,days,hour,minute,second,start_date,end_date,timezone}'::text[]
        WHEN 'cron_fields' THEN '{year,month,day,week,day_of_week,hour,minute,second}'::text[]
        WHEN 'job_options' THEN '{misfire_grace_time,coalesce,max_instances,next_run_time,timeout,retries,retry_delay,queue}'::text[]
        -- rowsched:trigger_kwargs_keys end
    END
$fn$;

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

-- The problem with trigger_kwargs->'queue' (a worker job's queue), or NULL: a non-empty string of at
-- most 100 characters.
CREATE OR REPLACE FUNCTION rowsched_queue_problem(kwargs jsonb) RETURNS text
LANGUAGE sql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT CASE
        WHEN jsonb_typeof(kwargs -> 'queue') <> 'string' THEN
            format('job_info.trigger_kwargs.queue: %s is %s; allowed: a queue name, a string of 1 to 100 characters',
                   rowsched_json_render(kwargs -> 'queue'), rowsched_json_kind(kwargs -> 'queue'))
        WHEN char_length(kwargs ->> 'queue') NOT BETWEEN 1 AND 100 THEN
            format('job_info.trigger_kwargs.queue: %s is out of range; allowed: a queue name, a string of 1 to 100 characters',
                   rowsched_json_render(kwargs -> 'queue'))
    END
     WHERE kwargs ? 'queue'
$fn$;

-- The problem with a trigger_kwargs value, or NULL when it is structurally sound. Usable on its own:
-- SELECT job_info_trigger_kwargs_problem('{"trigger": "cron", "minuts": 5}').
CREATE OR REPLACE FUNCTION job_info_trigger_kwargs_problem(kwargs jsonb) RETURNS text
LANGUAGE plpgsql IMMUTABLE
SET search_path FROM CURRENT
AS $fn$
DECLARE
    triggers constant text := 'cron, interval, date, calendarinterval';
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
        SELECT f INTO found FROM unnest(rowsched_trigger_kwargs_keys('cron_fields')) WITH ORDINALITY AS u(f, i)
         WHERE kwargs ? f ORDER BY i LIMIT 1;
        IF found IS NOT NULL THEN
            RETURN format('job_info.trigger_kwargs: "crontab" cannot be combined with cron field %s', to_json(found));
        END IF;
        value := kwargs -> 'crontab';
        IF jsonb_typeof(value) <> 'string' THEN
            RETURN format('job_info.trigger_kwargs.crontab: %s is %s; allowed: a crontab string such as "*/5 * * * *"',
                          rowsched_json_render(value), rowsched_json_kind(value));
        END IF;
        allowed := rowsched_trigger_kwargs_keys('crontab');
    ELSE
        allowed := rowsched_trigger_kwargs_keys(kind);
    END IF;
    allowed := allowed || rowsched_trigger_kwargs_keys('job_options');

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
        rowsched_seconds_problem(kwargs, 'jitter', true, false),
        rowsched_queue_problem(kwargs));
    RETURN found;
END
$fn$;

-- Every key a trigger_kwargs of this kind may hold: "trigger", the kind's own keys, the job options.
-- Inlined and, called with a constant kind, folded into a constant array by the planner.
CREATE OR REPLACE FUNCTION rowsched_trigger_kwargs_allowed(kind text) RETURNS text[]
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT '{trigger}'::text[] || rowsched_trigger_kwargs_keys(kind) || rowsched_trigger_kwargs_keys('job_options')
$fn$;

-- Whether job_info_trigger_kwargs_problem(kwargs) is surely NULL, cheaply: true only for values it
-- accepts, false or NULL otherwise (for objects it is exact today, but only "true means valid" is
-- relied on). It follows the same rules and the same key lists: the trigger's name (JSON null counts
-- as absent; absent with "crontab" means cron by crontab, absent without it means date), no key outside
-- the trigger's list, a string crontab, then the job options' types and lower bounds. Built from
-- pg_catalog operators and the key lists called with constant kinds (folded into constants when it is
-- planned) and without SET search_path,
-- so that the planner inlines it into the INSERT trigger's expression (a SET clause would make each use
-- a function call with a search_path switch).
CREATE OR REPLACE FUNCTION rowsched_trigger_kwargs_fast_ok(kwargs jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE
AS $fn$
SELECT jsonb_typeof(kwargs) = 'object'
    AND CASE kwargs ->> 'trigger'
        WHEN 'interval' THEN kwargs - rowsched_trigger_kwargs_allowed('interval') = '{}'
        WHEN 'cron' THEN
            CASE WHEN kwargs ? 'crontab'
            THEN jsonb_typeof(kwargs -> 'crontab') = 'string' AND kwargs - rowsched_trigger_kwargs_allowed('crontab') = '{}'
            ELSE kwargs - rowsched_trigger_kwargs_allowed('cron') = '{}'
            END
        WHEN 'date' THEN kwargs - rowsched_trigger_kwargs_allowed('date') = '{}'
        WHEN 'calendarinterval' THEN kwargs - rowsched_trigger_kwargs_allowed('calendarinterval') = '{}'
        ELSE
            CASE WHEN kwargs ->> 'trigger' IS NOT NULL THEN false  -- not a known name
                 WHEN kwargs ? 'crontab'
                 THEN jsonb_typeof(kwargs -> 'crontab') = 'string' AND kwargs - rowsched_trigger_kwargs_allowed('crontab') = '{}'
                 ELSE kwargs - rowsched_trigger_kwargs_allowed('date') = '{}'
            END
        END
    AND (NOT kwargs ?| (rowsched_trigger_kwargs_keys('job_options') || '{jitter}'::text[])
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
                 WHEN 'null' THEN true ELSE kwargs -> 'jitter' IS NULL END
             AND CASE jsonb_typeof(kwargs -> 'queue')
                 WHEN 'string' THEN char_length(kwargs ->> 'queue') BETWEEN 1 AND 100
                 ELSE kwargs -> 'queue' IS NULL END))
$fn$;
