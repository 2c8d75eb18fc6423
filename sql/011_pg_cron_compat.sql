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
-- This file holds the schema check and the column; the functions and the view are in
-- sql/definitions/60_pg_cron.sql.

DO $check$
BEGIN
    IF current_schema() = 'cron' AND EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron') THEN
        RAISE EXCEPTION USING ERRCODE = 'duplicate_schema',
            MESSAGE = 'rowsched cannot be installed into schema "cron": it belongs to pg_cron, which is installed '
                      'in this database; migrate into another schema (--schema) and use import-pg-cron to copy '
                      'pg_cron''s jobs';
    END IF;
END
$check$;

-- The command text of the run (for func 'sql' the statement, otherwise func and its arguments), filled
-- in by the claim from the definition the fire was claimed under.
ALTER TABLE job_run ADD COLUMN IF NOT EXISTS command text;
