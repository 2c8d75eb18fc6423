-- One pruning pass's deletion (RunHistory::prune_history): at most $3 job_run rows finished more than
-- $1 microseconds ago (the BRIN index on finished_at finds them), or beyond the newest $2 finished
-- runs of a job in $4 (the jobs that may have grown past $2; newest by scheduled_for, attempt: the
-- order of the job_run_claim index), but never a job's newest fire of its schedule: it is where the
-- schedule resumes after a restart. Returns, per job in $4, the rows it has left (all statuses), and
-- one row with a NULL job_id: the rows deleted.
WITH ranked AS (SELECT run_id, job_id, status NOT IN ('running', 'queued') AS finished,
                       count(*) FILTER (WHERE status NOT IN ('running', 'queued'))
                         OVER (PARTITION BY job_id ORDER BY scheduled_for DESC, attempt DESC) AS newer_finished,
                       count(*) OVER (PARTITION BY job_id) AS total
                  FROM @schema@.job_run WHERE job_id = ANY ($4::text[])),
     -- A job's newest fire of its schedule is left out before the LIMIT: left out after it, a batch of
     -- old one-off jobs' last fires (each the newest of its job) was picked again every pass, and
     -- nothing older was ever deleted.
     victims AS (
       (SELECT a.run_id FROM @schema@.job_run a
         WHERE a.finished_at < now() - $1 * interval '1 microsecond'
           AND NOT (a.kind = 'schedule' AND a.scheduled_for = (SELECT max(m.scheduled_for) FROM @schema@.job_run m
                                                                WHERE m.job_id = a.job_id AND m.kind = 'schedule'))
         LIMIT $3)
       UNION
       (SELECT run_id FROM ranked WHERE finished AND newer_finished > $2 LIMIT $3)),
     gone AS (DELETE FROM @schema@.job_run r
               WHERE r.run_id IN (SELECT run_id FROM victims LIMIT $3)
                 AND NOT (r.kind = 'schedule' AND r.scheduled_for = (SELECT max(m.scheduled_for) FROM @schema@.job_run m
                                                                      WHERE m.job_id = r.job_id AND m.kind = 'schedule'))
              RETURNING r.job_id)
SELECT t.job_id, t.total - coalesce(g.n, 0) AS n
  FROM (SELECT DISTINCT job_id, total FROM ranked) t
  LEFT JOIN (SELECT job_id, count(*) AS n FROM gone GROUP BY job_id) g USING (job_id)
UNION ALL
SELECT NULL, (SELECT count(*) FROM gone)
