-- Marks `lost` every run left `running` by an instance other than $2 whose heartbeat is older than $1
-- microseconds (or, when $3, that has no scheduler_instance row), counts them as failures of their
-- jobs, removes the dead instances' rows, and returns the runs (RunHistory::mark_lost_runs).
-- Unless $3, job_run is not read at all while no instance is dead (the one-time filter below): that
-- read walks every entry of job_run_daemon_running, and while a long transaction holds back the
-- horizon (pg_dump, a session idle in transaction) the entries of every run finished since stay there.
WITH dead AS (SELECT instance FROM @schema@.scheduler_instance
               WHERE heartbeat_at < now() - $1 * interval '1 microsecond' AND instance <> $2),
     lost AS (UPDATE @schema@.job_run r SET status = 'lost', finished_at = now(),
                error = format('lost: instance %s stopped heart-beating while this run was in progress', r.instance)
               WHERE r.status = 'running' AND r.queue IS NULL AND r.instance <> $2
                 AND ($3::bool OR EXISTS (SELECT 1 FROM dead))
                 AND (r.instance IN (SELECT instance FROM dead) OR ($3::bool AND NOT EXISTS
                      (SELECT 1 FROM @schema@.scheduler_instance i WHERE i.instance = r.instance)))
              RETURNING r.job_id, r.scheduled_for, r.attempt),
     counted AS (UPDATE @schema@.job_info j SET run_count = j.run_count + s.n,
                   failure_count = j.failure_count + s.n, last_status = 'lost'
                   FROM (SELECT job_id, count(*) AS n FROM lost GROUP BY job_id) s WHERE j.job_id = s.job_id),
     gone AS (DELETE FROM @schema@.scheduler_instance WHERE instance IN (SELECT instance FROM dead))
SELECT job_id, scheduled_for, attempt FROM lost
