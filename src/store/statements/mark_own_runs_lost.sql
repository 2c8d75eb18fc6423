-- Runs still `running` under this instance's name ($1) were left by an earlier process of the same
-- name: lost (worker runs are the workers' to end).
UPDATE @schema@.job_run SET status = 'lost', finished_at = now(),
       error = 'lost: its instance ' || instance || ' stopped (restarted under the same name) during the run'
 WHERE instance = $1 AND status = 'running' AND queue IS NULL
