-- Claims fires by inserting them into job_run (FireClaimer::claim), after claim_locks.sql locked
-- their jobs in the same transaction, so that the running runs counted here cannot change under us:
-- max_instances holds across instances. $1: the fires, a jsonb array of objects (job_id,
-- scheduled_for, attempt, status, kind, max_instances, own, note, ord, queue, take_by, not_before);
-- $2: this instance's name. Returns the fires this instance won.
WITH c AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS c(job_id text, scheduled_for timestamptz,
             attempt int, status text, kind text, max_instances int, own int, note text, ord int,
             queue text, take_by timestamptz, not_before timestamptz)),
     -- Worker runs (queue set) count queued and running, whoever claimed them: no instance runs them.
     running AS (SELECT r.job_id, count(*) AS n FROM @schema@.job_run r
                  WHERE ((r.status = 'running' AND r.instance <> $2 AND r.queue IS NULL)
                         OR (r.status IN ('queued', 'running') AND r.queue IS NOT NULL))
                    AND r.job_id IN (SELECT job_id FROM c) GROUP BY r.job_id),
     decided AS (SELECT c.*, CASE WHEN c.status <> 'running' THEN c.status
                   WHEN coalesce(running.n, 0) + c.own + count(*) FILTER (WHERE c.status = 'running')
                        OVER (PARTITION BY c.job_id ORDER BY c.ord) > c.max_instances THEN 'skipped'
                   WHEN c.queue IS NOT NULL THEN 'queued'
                   ELSE 'running' END AS final
                   FROM c LEFT JOIN running USING (job_id))
INSERT INTO @schema@.job_run (job_id, scheduled_for, attempt, kind, instance, status, started_at, finished_at, error,
                              command, queue, take_by, not_before)
-- A fire claimed ahead of its instant is not started before it: started_at is never earlier (the
-- writer records the real start).
SELECT job_id, scheduled_for, attempt, kind, $2::text, final,
       CASE WHEN final = 'running' THEN greatest(now(), scheduled_for) WHEN final = 'queued' THEN NULL ELSE now() END,
       CASE WHEN final NOT IN ('running', 'queued') THEN now() END,
       CASE WHEN final = 'skipped' AND status = 'running'
            THEN format('not run: max_instances (%s) runs of this job were already queued or running', max_instances)
            ELSE note END,
       -- The command text that runs (sql/011_pg_cron_compat.sql), from the row the fire is claimed under.
       (SELECT @schema@.rowsched_command_text(j.func, j.func_args) FROM @schema@.job_info j WHERE j.job_id = decided.job_id),
       queue, take_by, not_before
  FROM decided ORDER BY ord
ON CONFLICT DO NOTHING
RETURNING run_id, job_id, scheduled_for, attempt, status
