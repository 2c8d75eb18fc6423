-- Clears is_running on every job_info row unless another instance than $1 is alive (a heartbeat
-- within $2 microseconds). A row another transaction holds (a user's UPDATE not yet committed, a
-- session left idle in that transaction) keeps its is_running: waiting for it kept SIGTERM from
-- stopping the daemon for as long as that transaction lasted.
UPDATE @schema@.job_info j SET is_running = false
  FROM (SELECT job_id FROM @schema@.job_info
         WHERE is_running AND NOT EXISTS (
               SELECT 1 FROM @schema@.scheduler_instance
                WHERE instance <> $1 AND heartbeat_at > now() - $2 * interval '1 microsecond')
           FOR UPDATE SKIP LOCKED) s
 WHERE j.job_id = s.job_id
