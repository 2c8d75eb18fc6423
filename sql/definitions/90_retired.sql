-- Names earlier versions of rowsched installed and that no longer exist, dropped so that every
-- database ends with the same set whatever it was migrated from (or whatever old sql/ file was run
-- by hand). Last, because a trigger defined above must first stop using a retired function.
-- Current definitions (sql/definitions/README.md): re-applied by every `rowsched migrate`.
-- When a definition is renamed or removed, add its old name here; never remove a line.

-- 002's single BEFORE trigger (replaced by rowsched_before_insert and rowsched_before_update in 005),
-- its per-row INSERT/DELETE notification (replaced by the per-statement ones in 006) and 004's
-- INSERT stamp (folded into job_info_before_insert in 006).
DROP TRIGGER IF EXISTS rowsched_before_write ON job_info;
DROP TRIGGER IF EXISTS rowsched_notify_insert_delete ON job_info;
DROP TRIGGER IF EXISTS job_info_stamp_insert ON job_info;

-- 002's BEFORE function, which served INSERT and UPDATE; renamed job_info_before_update when INSERT
-- got job_info_before_insert (its messages and owner rule are now rowsched_*_problem functions).
DROP FUNCTION IF EXISTS job_info_before_write();

-- rowsched_claim_fires before it took the version each fire is asked under (p_version, 2026-12-08):
-- the old signature would stay beside the new one as an overload that no longer refuses stale fires.
DROP FUNCTION IF EXISTS rowsched_claim_fires(text, text[], text[], timestamptz[], int[], text[], text[], int[], int[],
                                             text[], text[], timestamptz[], timestamptz[]);
