-- Row-level security, pg_cron's model: a role sees, changes, pauses, runs now and deletes only the
-- jobs (and the runs of the jobs) of owner roles it is a member of. Superusers, roles with BYPASSRLS,
-- members of the owner of job_info and members of the NOLOGIN role `rowsched_admin` see every job
-- (docs/security.md). The role rowsched_admin and ENABLE ROW LEVEL SECURITY are in
-- sql/008_row_security.sql; the functions and policies are here.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.

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

DROP POLICY IF EXISTS job_info_of_owner ON job_info;
CREATE POLICY job_info_of_owner ON job_info
    USING ((SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]))
    WITH CHECK ((SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]));

-- A run is seen with its job: job_info's own policy applies inside the subquery. The runs of a
-- deleted job are then seen only by the roles that see everything.
-- A run is seen with its job: job_info's own policy applies inside the subquery. The runs of a
-- deleted job are then seen only by the roles that see everything.
DROP POLICY IF EXISTS job_run_of_owner ON job_run;
CREATE POLICY job_run_of_owner ON job_run
    USING (job_id IN (SELECT job_id FROM job_info));

