-- Claims fires (FireClaimer::claim): sql/012_fast_bookkeeping.sql's rowsched_claim_fires locks the
-- fires' jobs, counts their runs in flight and inserts the fires into job_run, in one call. $1 this
-- instance's name, $2 the distinct job ids in byte order (the locking order); the fires, one array
-- per column: $3 job_id, $4 scheduled_for, $5 attempt, $6 status, $7 kind, $8 max_instances, $9 own,
-- $10 note, $11 queue, $12 take_by, $13 not_before, $14 the job_info version each fire is asked under. A fire
-- whose job's row has another version comes back as `changed`, with no run_id.
SELECT run_id, job_id, scheduled_for, attempt, status
  FROM @schema@.rowsched_claim_fires($1::text, $2::text[], $3::text[], $4::timestamptz[], $5::int[], $6::text[],
                                     $7::text[], $8::int[], $9::int[], $10::text[], $11::text[], $12::timestamptz[],
                                     $13::timestamptz[], $14::int8[])
