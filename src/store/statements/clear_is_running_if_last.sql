-- Clears is_running on every job_info row unless another instance than $1 is alive (a heartbeat
-- within $2 microseconds).
UPDATE @schema@.job_info SET is_running = false
 WHERE is_running AND NOT EXISTS (
       SELECT 1 FROM @schema@.scheduler_instance
        WHERE instance <> $1 AND heartbeat_at > now() - $2 * interval '1 microsecond')
