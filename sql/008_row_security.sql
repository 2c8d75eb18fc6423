-- Row-level security, pg_cron's model: a role sees, changes, pauses, runs now and deletes only the
-- jobs (and the runs of the jobs) of owner roles it is a member of. Superusers, roles with BYPASSRLS,
-- members of the owner of job_info and members of the NOLOGIN role `rowsched_admin` see every job.
-- The daemon reads and writes everything: it owns the tables (or has BYPASSRLS, or is a member of
-- rowsched_admin). docs/security.md explains the model. This file makes the role and turns row
-- security on; the functions and the policies are in sql/definitions/30_row_security.sql.

-- rowsched_admin is cluster-wide (roles are). A migrating role that may not create roles (no
-- CREATEROLE) gets a warning and everything else still applies: the policies look the role up by name
-- at query time, so a superuser may create it later (CREATE ROLE rowsched_admin NOLOGIN) and it takes
-- effect at once.
DO $do$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rowsched_admin') THEN
        BEGIN
            CREATE ROLE rowsched_admin NOLOGIN;
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'rowsched: role "%" may not create roles, so role rowsched_admin was not created; '
                          'have a superuser run: CREATE ROLE rowsched_admin NOLOGIN', current_user;
        END;
    END IF;
END
$do$;

ALTER TABLE job_info ENABLE ROW LEVEL SECURITY;
ALTER TABLE job_run ENABLE ROW LEVEL SECURITY;
