-- job_info rows are rewritten by rowsched on every fire (next_run_time, counters) and job_run rows
-- once per run (its outcome). Make those writes cheaper; no behaviour changes. Idempotent.
--
-- job_info: room on every page for the next version of a row, so that a write-back is a HOT update
-- (no new index entry; the old version is pruned in place). Applies to pages written from now on.
ALTER TABLE job_info SET (fillfactor = 70);

-- job_run: pruning by age needs finished_at ordered only roughly, which rows already are (they are
-- appended in time order): a BRIN index is a few pages and costs almost nothing per write, where the
-- B-tree cost an index entry per run and per outcome.
CREATE INDEX IF NOT EXISTS job_run_finished_at_brin ON job_run USING brin (finished_at);
DROP INDEX IF EXISTS job_run_finished_at;
