-- Locks the jobs of a claim ($1: a jsonb array of distinct job ids in byte order) until the claim's
-- transaction ends. A fixed order, so that two instances claiming the same jobs never deadlock.
SELECT pg_advisory_xact_lock(hashtextextended('rowsched.job:' || s.job_id, 0))
  FROM jsonb_array_elements_text($1::jsonb) WITH ORDINALITY AS s(job_id, n)
 ORDER BY s.n
