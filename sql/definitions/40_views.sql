-- The views every user reads: job_status (what will run next, what failed) and scheduler_liveness
-- (whether any rowsched instance is alive). A view runs with its owner's rights: grant SELECT on it
-- only to roles that may see every job (docs/sql-contract.md, "Grants"), or rely on its filter.
-- CREATE OR REPLACE VIEW keeps the grants users gave; a view can gain columns at its end, never lose one.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.

-- job_status reads job_info with its owner's rights, past the policy: filter by the reader (inside a
-- view current_user is still the reader). security_barrier: the filter runs before any function of the
-- reader's in a WHERE clause, which would otherwise be shown every role's rows.
CREATE OR REPLACE VIEW job_status WITH (security_barrier) AS
SELECT job_id, state, next_run_time, last_run_time, last_status, run_count, failure_count, is_paused, last_error
  FROM job_info
 WHERE (SELECT rowsched_sees_every_job()) OR owner = ANY ((SELECT rowsched_owners_seen())::name[]);

-- scheduler_liveness: whether any rowsched instance is alive, for SQL users what the first line of
-- `rowsched status` says. One row: live_instances (heart-beat within the last 10 seconds, the default
-- --lost-after), instances (their names with the heartbeat's age, by name) and summary, e.g.
--   2 rowsched instances live: host-a-123 (heartbeat 0.4 s ago), host-b-77 (heartbeat 0.9 s ago)
--   0 rowsched instances live: nothing is firing
-- Read it beside job_status (`SELECT * FROM job_status, scheduler_liveness`): with live_instances = 0
-- a job that says `scheduled` is not firing. The view reads only scheduler_instance, never a job row.
-- Idempotent.
CREATE OR REPLACE VIEW scheduler_liveness AS
WITH live AS (
    SELECT instance, greatest(0, extract(epoch FROM clock_timestamp() - heartbeat_at)) AS age
      FROM scheduler_instance
     WHERE heartbeat_at > clock_timestamp() - interval '10 seconds'
)
SELECT count(*)::int AS live_instances,
       coalesce(string_agg(format('%s (heartbeat %s s ago)', instance, round(age::numeric, 1)), ', ' ORDER BY instance), '')
           AS instances,
       CASE WHEN count(*) = 0 THEN '0 rowsched instances live: nothing is firing'
            ELSE format('%s rowsched instance%s live: %s', count(*), CASE WHEN count(*) = 1 THEN '' ELSE 's' END,
                        string_agg(format('%s (heartbeat %s s ago)', instance, round(age::numeric, 1)), ', ' ORDER BY instance))
       END AS summary
  FROM live;
