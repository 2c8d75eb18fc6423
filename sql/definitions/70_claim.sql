-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.
--
-- The claim (src/store/fire_claimer.cc): one call, one round trip, with the fires bound as one array
-- per column, in claim order. Two statements: the jobs are locked (advisory, in the order of
-- p_lock_ids: distinct, in byte order, so that two instances never deadlock), then the fires are
-- inserted into job_run. Each statement of a volatile function takes its own snapshot, so the INSERT
-- sees the runs another instance claimed before it released the locks: max_instances holds across
-- instances. Returns the fires this instance won (the others were claimed before, by anyone), and,
-- with status `changed` and no run_id, the fires it did not claim because their job's row is no longer
-- at the version the daemon asked under (p_version; NULL: any).
CREATE OR REPLACE FUNCTION rowsched_claim_fires(
    p_instance text, p_lock_ids text[], p_job_id text[], p_scheduled_for timestamptz[], p_attempt int[],
    p_status text[], p_kind text[], p_max_instances int[], p_own int[], p_note text[], p_queue text[],
    p_take_by timestamptz[], p_not_before timestamptz[], p_version bigint[])
RETURNS TABLE (run_id bigint, job_id text, scheduled_for timestamptz, attempt integer, status text)
LANGUAGE plpgsql VOLATILE
SET search_path FROM CURRENT
-- The plans of its two statements are made once per session: the planner chose a custom plan, made
-- anew for the arrays of each call (0.4 ms), over the generic one.
SET plan_cache_mode = force_generic_plan
-- ... and a plan made once must not depend on how big job_run was at that moment. Made while job_run
-- was empty (a new install; a history cleared with TRUNCATE), it read job_run whole to count the runs
-- in flight, and went on doing so as job_run grew, until autovacuum's next ANALYZE of job_run made it
-- plan again: 24 ms a claim at 300,000 rows. Every statement here finds its rows by index. A path
-- the setting disables costs 1e10 in the planner's units, past jit_above_cost: were one ever the only
-- path, JIT would compile the statement at each call (docs/decisions.md), so JIT is off here.
SET enable_seqscan = off
SET jit = off
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(hashtextextended('rowsched.job:' || s.id, 0))
       FROM unnest(p_lock_ids) WITH ORDINALITY AS s(id, n) ORDER BY s.n;
    RETURN QUERY
    WITH c AS (SELECT * FROM unnest(p_job_id, p_scheduled_for, p_attempt, p_status, p_kind, p_max_instances, p_own,
                                    p_note, p_queue, p_take_by, p_not_before, p_version)
                             WITH ORDINALITY AS c(job_id, scheduled_for, attempt, status, kind, max_instances, own,
                                                  note, queue, take_by, not_before, version, ord)),
         -- Runs in flight that count against max_instances, each kind from its own partial index
         -- (sql/014_in_flight_apart.sql), and each read only when such runs can exist: another
         -- instance's runs while another instance is registered, worker runs (queued or running,
         -- whoever claimed them: no instance runs them) while one is queued or running. This
         -- instance's own runs in flight are in `own` (its job_run rows may still say running for
         -- runs whose outcome is not yet written). A single instance without worker runs reads
         -- nothing here: the probe by job_id walks the index entry of every run of the job finished
         -- while a long transaction holds back the horizon (pg_dump, a session idle in transaction),
         -- at every claim. A run whose instance row someone deleted is not counted (the heartbeat
         -- marks it lost).
         running AS (SELECT r.job_id, count(*) AS n
                       FROM (SELECT d.job_id FROM job_run d
                              WHERE d.job_id = ANY (p_job_id) AND d.status = 'running' AND d.queue IS NULL
                                AND d.instance <> p_instance
                                AND EXISTS (SELECT 1 FROM scheduler_instance i WHERE i.instance <> p_instance)
                             UNION ALL
                             SELECT w.job_id FROM job_run w
                              WHERE w.job_id = ANY (p_job_id) AND w.status IN ('queued', 'running')
                                AND w.queue IS NOT NULL
                                AND EXISTS (SELECT 1 FROM job_run x
                                             WHERE x.status IN ('queued', 'running') AND x.queue IS NOT NULL)) r
                      GROUP BY r.job_id),
         decided AS (SELECT c.*, CASE WHEN c.status <> 'running' THEN c.status
                       WHEN coalesce(running.n, 0) + c.own + count(*) FILTER (WHERE c.status = 'running')
                            OVER (PARTITION BY c.job_id ORDER BY c.ord) > c.max_instances THEN 'skipped'
                       WHEN c.queue IS NOT NULL THEN 'queued'
                       ELSE 'running' END AS final
                       FROM c LEFT JOIN running USING (job_id)),
         -- Each fire with its job's row. A fire of a job no longer in job_info (its DELETE committed
         -- before this claim, whether or not the daemon has read the notification yet) is dropped
         -- here: not claimed, so not run. A fire asked for under another version of the row than the
         -- one now committed (an UPDATE the daemon had not applied yet: a bulk one is announced by its
         -- count and compared while the claims due meanwhile go ahead) is not claimed either, but
         -- returned as `changed`: the daemon decides it again under the row as it now is.
         sent AS (SELECT d.*, d.version IS NULL OR j.version = d.version AS current, j.func, j.func_args
                    FROM decided d JOIN job_info j ON j.job_id = d.job_id),
         won AS (
    INSERT INTO job_run AS r (job_id, scheduled_for, attempt, kind, instance, status, started_at, finished_at, error,
                              command, queue, take_by, not_before)
    -- A fire claimed ahead of its instant is not started before it: started_at is never earlier (the
    -- writer records the real start). The command text that runs comes from the row the fire is
    -- claimed under.
    SELECT d.job_id, d.scheduled_for, d.attempt, d.kind, p_instance, d.final,
           CASE WHEN d.final = 'running' THEN greatest(now(), d.scheduled_for)
                WHEN d.final = 'queued' THEN NULL ELSE now() END,
           CASE WHEN d.final NOT IN ('running', 'queued') THEN now() END,
           CASE WHEN d.final = 'skipped' AND d.status = 'running'
                THEN format('not run: max_instances (%s) runs of this job were already queued or running',
                            d.max_instances)
                ELSE d.note END,
           rowsched_command_text(d.func, d.func_args),
           d.queue, d.take_by, d.not_before
      FROM sent d
     WHERE d.current
     ORDER BY d.ord
    ON CONFLICT DO NOTHING
    RETURNING r.run_id, r.job_id, r.scheduled_for, r.attempt, r.status)
    SELECT * FROM won
    UNION ALL
    SELECT NULL::bigint, d.job_id, d.scheduled_for, d.attempt, 'changed'::text FROM sent d WHERE NOT d.current;
END
$fn$;
