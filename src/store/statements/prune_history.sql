-- Deletes at most $3 job_run rows finished more than $1 microseconds ago or beyond the newest $2
-- finished runs of their job, but never a job's newest fire of its schedule: it is where the schedule
-- resumes after a restart (RunHistory::prune_history).
WITH victims AS (
       (SELECT run_id FROM @schema@.job_run WHERE finished_at < now() - $1 * interval '1 microsecond' LIMIT $3)
       UNION
       (SELECT run_id FROM (SELECT run_id, row_number() OVER (PARTITION BY job_id ORDER BY run_id DESC) AS rn
                              FROM @schema@.job_run WHERE status NOT IN ('running', 'queued')) ranked
         WHERE rn > $2 LIMIT $3))
DELETE FROM @schema@.job_run r
 WHERE r.run_id IN (SELECT run_id FROM victims LIMIT $3)
   AND NOT (r.kind = 'schedule' AND r.scheduled_for = (SELECT max(m.scheduled_for) FROM @schema@.job_run m
                                                        WHERE m.job_id = r.job_id AND m.kind = 'schedule'))
