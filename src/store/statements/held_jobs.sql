-- The jobs among $1 whose job_info rows another transaction holds (a user's UPDATE or DELETE not yet
-- committed): the writer keeps their items back and writes the rest of its batch. The rows nobody
-- holds are locked here for the moment of the statement and released at its end; nothing waits.
WITH free AS (SELECT job_id FROM @schema@.job_info WHERE job_id = ANY ($1::text[]) FOR NO KEY UPDATE SKIP LOCKED)
SELECT job_id FROM @schema@.job_info WHERE job_id = ANY ($1::text[]) AND job_id NOT IN (SELECT job_id FROM free)
