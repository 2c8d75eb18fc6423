// graphile-worker's hand-off measured the way bench/worker_handoff.py measures rowsched's: jobs are
// added at RATE per second (graphile_worker.add_job, one statement each, as an application would)
// and the task stamps the time on its first line; latency = stamp - the instant the job was added.
//
//   node graphile_handoff.js DSN RATE SECONDS WORKERS   -> one JSON line {n, p50, p99, max, twice, never}
//
// WORKERS worker processes are not used: graphile-worker runs tasks concurrently inside one process,
// so WORKERS is its `concurrency` (each job's task is an async function, not a thread).
const { run, Logger } = require("graphile-worker");
const { Pool } = require("pg");
const { performance } = require("perf_hooks");

const [dsn, rate, seconds, workers] = [process.argv[2], Number(process.argv[3]), Number(process.argv[4]), Number(process.argv[5])];
const now = () => performance.timeOrigin + performance.now();

async function main() {
  const calls = new Map();
  const runner = await run({
    connectionString: dsn, concurrency: workers, noHandleSignals: true, pollInterval: 1000,
    logger: new Logger(() => (level, message) => { if (level === "error") console.error(message); }),
    taskList: { stamp: async (payload) => { const t = now(); calls.set(payload.i, (calls.get(payload.i) || []).concat([t - payload.added])); } },
  });
  const pool = new Pool({ connectionString: dsn, max: 4 });
  const total = Math.round(rate * seconds);
  const start = now() + 500;
  const adds = [];
  for (let i = 0; i < total; i++) {
    const at = start + (i * 1000) / rate;
    const wait = at - now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    adds.push(pool.query("SELECT graphile_worker.add_job('stamp', json_build_object('i', $1::int, 'added', $2::float8))", [i, now()]));
  }
  await Promise.all(adds);
  const deadline = now() + 60000;
  while (calls.size < total && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await runner.stop();
  await pool.end();
  const lat = [...calls.values()].map((v) => v[0]).sort((a, b) => a - b);
  const pct = (p) => lat.length ? lat[Math.max(0, Math.ceil((p / 100) * lat.length) - 1)] : null;
  const twice = [...calls.values()].filter((v) => v.length > 1).length;
  console.log(JSON.stringify({ n: lat.length, p50: pct(50), p99: pct(99), max: lat[lat.length - 1], twice, never: total - calls.size }));
}

main().catch((e) => { console.error(e); process.exit(1); });
