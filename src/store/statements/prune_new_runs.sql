-- What a pruning pass counts (RunHistory::prune_history, HistoryCounts), in one snapshot: the job_run
-- rows with a run_id above $1 (a range of the primary key: what was inserted since the last pass, and
-- a margin below), per job. The rows at or below $2 (the newest the last pass saw) or within $3 of
-- the newest now come one per row with their run_id, so that a row the last pass counted is not
-- counted again; the others, one row per job with its count. Last, one row with a NULL job_id: the
-- newest run_id now (0 when the table is empty). Newer ids than now below $2 mean the ids started
-- over (TRUNCATE ... RESTART IDENTITY): then every row is new.
WITH top AS (SELECT coalesce(max(run_id), 0) AS newest FROM @schema@.job_run),
     fresh AS (SELECT r.run_id, r.job_id, (r.run_id <= $2 OR r.run_id > top.newest - $3) AS single
                 FROM @schema@.job_run r, top
                WHERE r.run_id > CASE WHEN top.newest < $2 THEN 0 ELSE $1 END)
SELECT job_id, count(*) AS n, NULL::int8 AS run_id FROM fresh WHERE NOT single GROUP BY job_id
UNION ALL
SELECT job_id, 1, run_id FROM fresh WHERE single
UNION ALL
SELECT NULL, newest, NULL FROM top
