-- Registers this instance in scheduler_instance or refreshes its heartbeat (InstanceRegistry). A new
-- process under the same name (another pid) starts over. $1 instance, $2 pid, $3 host, $4 version.
INSERT INTO @schema@.scheduler_instance AS i (instance, pid, host, started_at, heartbeat_at, version)
VALUES ($1, $2, $3, now(), now(), $4)
ON CONFLICT (instance) DO UPDATE SET heartbeat_at = now(),
  started_at = CASE WHEN i.pid IS DISTINCT FROM EXCLUDED.pid THEN now() ELSE i.started_at END,
  pid = EXCLUDED.pid, host = EXCLUDED.host, version = EXCLUDED.version
