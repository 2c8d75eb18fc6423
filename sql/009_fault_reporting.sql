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
