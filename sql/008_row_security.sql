-- Row-level security, pg_cron's model: a role sees, changes, pauses, runs now and deletes only the
-- jobs (and the runs of the jobs) of owner roles it is a member of. Superusers, roles with BYPASSRLS,
-- members of the owner of job_info and members of the NOLOGIN role `rowsched_admin` see every job.
-- The daemon reads and writes everything: it owns the tables (or has BYPASSRLS, or is a member of
-- rowsched_admin). docs/security.md explains the model; idempotent like every migration.

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

-- Whether the current role sees every job: superusers, BYPASSRLS, members of rowsched_admin and of
-- job_info's owner.
CREATE OR REPLACE FUNCTION rowsched_sees_every_job() RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rowsched_admin' AND pg_has_role(current_user, oid, 'MEMBER'))
        OR EXISTS (SELECT 1 FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls))
        OR pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = 'job_info'::regclass), 'MEMBER')
$fn$;

-- The roles the current role is a member of (itself included): it sees their jobs.
CREATE OR REPLACE FUNCTION rowsched_owners_seen() RETURNS name[]
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT coalesce(array_agg(rolname), '{}') FROM pg_roles WHERE pg_has_role(current_user, oid, 'MEMBER')
$fn$;

-- Whether the current role may see jobs owned by `job_owner`. A job whose owner role was dropped is
-- seen only by the roles that see everything. The policy and the views below do not call it per row:
-- they call the two functions above once per statement, as scalar subqueries (InitPlans), since a
-- function call per row (with its SET search_path) costs about 12 us, over a second for 100,000 jobs.
CREATE OR REPLACE FUNCTION rowsched_sees_jobs_of(job_owner name) RETURNS boolean
LANGUAGE sql STABLE
SET search_path FROM CURRENT
AS $fn$
    SELECT rowsched_sees_every_job() OR job_owner = ANY (rowsched_owners_seen())
$fn$;

ALTER TABLE job_info ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS job_info_of_owner ON job_info;
CREATE POLICY job_info_of_owner ON job_info
    USING ((SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]))
    WITH CHECK ((SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]));

-- A run is seen with its job: job_info's own policy applies inside the subquery. The runs of a
-- deleted job are then seen only by the roles that see everything.
ALTER TABLE job_run ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS job_run_of_owner ON job_run;
CREATE POLICY job_run_of_owner ON job_run
    USING (job_id IN (SELECT job_id FROM job_info));

-- job_status reads job_info with its owner's rights, past the policy: filter by the reader (inside a
-- view current_user is still the reader). security_barrier: the filter runs before any function of the
-- reader's in a WHERE clause, which would otherwise be shown every role's rows.
CREATE OR REPLACE VIEW job_status WITH (security_barrier) AS
SELECT job_id, state, next_run_time, last_run_time, last_status, run_count, failure_count, is_paused, last_error
  FROM job_info
 WHERE (SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]);

-- BEFORE DELETE: the owner rule of changes (002_job_info_triggers.sql) for deletes, for the roles that
-- see jobs they may not act as (BYPASSRLS, rowsched_admin, or row security disabled). Roles under the
-- policy do not see other roles' jobs at all: their DELETE finds no row, as for a job that does not exist.
CREATE OR REPLACE FUNCTION job_info_before_delete() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $fn$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = OLD.owner) AND NOT rowsched_may_act_as(OLD.owner) THEN
        RAISE EXCEPTION '%', format('job_info: role %s is not a member of role %s, the owner of job %s; '
                                    'only a member of the owner role may delete a job',
                                    to_json(current_user::text), to_json(OLD.owner::text), to_json(OLD.job_id))
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN OLD;
END
$fn$;

DROP TRIGGER IF EXISTS job_info_before_delete ON job_info;
CREATE TRIGGER job_info_before_delete BEFORE DELETE ON job_info
    FOR EACH ROW EXECUTE FUNCTION job_info_before_delete();
