"""The worker: takes queued runs of worker jobs from rowsched's job_run, calls their functions and
records the outcomes, through the SQL functions of sql/010_workers.sql (docs/workers.md).

One thread (the one calling run()) owns the database connection: it LISTENs on `rowsched_worker`,
registers, takes runs, heart-beats and records outcomes. Each run is called on a thread of its own,
so that at most `concurrency` calls are in progress at once.

Timeouts: a Python thread cannot be stopped from outside. A call still running at its job's
`timeout` is recorded `timeout` and abandoned: its thread runs on in the background (its result is
dropped) and its slot is given to the next run. Functions that may hang for ever should have their
own timeouts (sockets, subprocesses), or the worker should be restarted when the log warns of
abandoned calls.

Shutdown (SIGTERM, SIGINT or stop()): no more runs are taken, the calls in progress get
`shutdown_timeout` seconds to end, those still running are recorded `failed` saying so, the worker
deregisters, and run() returns 0.
"""

import importlib
import json
import logging
import os
import queue as queue_module
import select
import signal
import socket
import sys
import threading
import time
import traceback

import psycopg2
import psycopg2.extensions

log = logging.getLogger("rowsched.worker")

CHANNEL = "rowsched_worker"
HEARTBEAT_INTERVAL = 2.0  # seconds, by default; the views call a worker live for 10 s after a heartbeat
POLL_INTERVAL = 5.0  # seconds between takes when no notification arrives (a safety net only)


class _Run:
    """One taken run and what became of it."""

    def __init__(self, row):
        (self.run_id, self.job_id, self.func, self.func_args, self.scheduled_for, self.attempt,
         self.timeout, self.not_before) = row
        self.started = None  # time.monotonic() when the call starts (after not_before)
        self.deadline = None  # time.monotonic() past which the call is abandoned
        self.thread = None
        self.outcome = None  # (status, output, error) once the call has returned or raised


def _resolve(reference, cache, lock):
    """The callable that `module:callable` names (dotted on both sides); imported once per worker."""
    with lock:
        found = cache.get(reference)
    if found is not None:
        return found
    module_name, _, attribute = reference.partition(":")
    obj = importlib.import_module(module_name)
    for part in attribute.split("."):
        obj = getattr(obj, part)
    if not callable(obj):
        raise TypeError(f"{reference} is not callable: it is a {type(obj).__name__}")
    with lock:
        cache[reference] = obj
    return obj


def _output(value):
    """The run's output: the return value as JSON when it serialises, else its repr."""
    try:
        return json.dumps(value)
    except (TypeError, ValueError, RecursionError):
        return repr(value)


class Worker:
    """Runs worker jobs of `queues` from the rowsched database at `dsn`.

    `paths` are put first on sys.path, so that `module:callable` imports from them; `name` is the
    worker's name in rowsched_worker (default HOST-PID); `schema` is rowsched's schema;
    `heartbeat_interval` must stay well below the daemon's --lost-after (default 10 s)."""

    def __init__(self, dsn, queues=("default",), concurrency=1, paths=(), name=None, shutdown_timeout=30.0,
                 schema="public", heartbeat_interval=HEARTBEAT_INTERVAL):
        if isinstance(queues, str):
            queues = [queues]
        if not queues or any(not isinstance(q, str) or not q for q in queues):
            raise ValueError(f"queues: {list(queues)!r}; allowed: one or more non-empty queue names")
        if int(concurrency) < 1:
            raise ValueError(f"concurrency: {concurrency!r} is out of range; allowed: 1 or more")
        self.dsn = dsn or ""
        self.queues = list(dict.fromkeys(queues))
        self.concurrency = int(concurrency)
        self.paths = [os.path.abspath(p) for p in paths]
        self.host = socket.gethostname()
        self.name = name or f"{self.host}-{os.getpid()}"
        self.shutdown_timeout = float(shutdown_timeout)
        self.schema = schema
        if float(heartbeat_interval) <= 0:
            raise ValueError(f"heartbeat_interval: {heartbeat_interval!r} is out of range; allowed: a positive number of seconds")
        self.heartbeat_interval = float(heartbeat_interval)
        self._stopping = threading.Event()
        self._done = queue_module.Queue()  # runs whose call has ended, for the main thread to record
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._in_flight = {}  # run_id -> _Run, calls not yet recorded (abandoned ones are dropped)
        self._abandoned = 0
        self._imports, self._imports_lock = {}, threading.Lock()
        self._conn = None
        for p in reversed(self.paths):
            if p not in sys.path:
                sys.path.insert(0, p)

    # --- the public surface -----------------------------------------------------------------------

    def stop(self):
        """Asks run() to shut down (as SIGTERM does); safe from any thread or a signal handler."""
        self._stopping.set()
        self._wake()

    def run(self):
        """Works until stop(), SIGTERM or SIGINT; returns 0 after a clean shutdown."""
        restore = self._install_signal_handlers()
        try:
            log.info("worker %s starting: queues %s, concurrency %d", self.name, ", ".join(self.queues), self.concurrency)
            self._loop()
            self._shutdown()
            log.info("worker %s stopped", self.name)
            return 0
        finally:
            restore()
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    # --- the main loop --------------------------------------------------------------------------

    def _fn(self, name):
        return f'"{self.schema}".{name}' if self.schema else name

    def _connect(self):
        conn = psycopg2.connect(self.dsn, application_name=f"rowsched worker {self.name}"[:63])
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        with conn.cursor() as cur:
            cur.execute(f"LISTEN {CHANNEL}")  # before the first take: nothing queued falls between
            cur.execute(f"SELECT {self._fn('rowsched_worker_register')}(%s, %s, %s, %s)",
                        (self.name, self.queues, os.getpid(), self.host))
        self._conn = conn

    def _loop(self):
        attempt = 0
        next_heartbeat = 0.0
        while not self._stopping.is_set():
            try:
                if self._conn is None:
                    self._connect()
                    if attempt:
                        log.info("worker %s reconnected after %d attempts", self.name, attempt)
                    attempt = 0
                    next_heartbeat = time.monotonic() + self.heartbeat_interval
                self._record_finished()
                self._enforce_timeouts()
                self._take()
                now = time.monotonic()
                if now >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = now + self.heartbeat_interval
                self._wait(min(next_heartbeat, self._next_deadline(now + POLL_INTERVAL)) - time.monotonic())
            except psycopg2.Error as e:
                # A broken connection: the calls in progress go on, their outcomes wait for the next one.
                attempt += 1
                delay = min(10.0, 0.1 * 2 ** min(attempt, 7))
                log.warning("worker %s: database error (attempt %d): %s; reconnecting in %.1f s", self.name, attempt,
                            str(e).strip(), delay)
                self._close_quietly()
                self._stopping.wait(delay)

    def _heartbeat(self):
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {self._fn('rowsched_heartbeat')}(%s)", (self.name,))

    def _close_quietly(self):
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg2.Error:
                pass
            self._conn = None

    def _wait(self, seconds):
        """Waits for a notification, a call's end or stop(), at most `seconds`."""
        if seconds > 0 and self._done.empty() and not self._stopping.is_set():
            select.select([self._conn, self._wake_r], [], [], seconds)
        try:
            while os.read(self._wake_r, 4096):
                pass
        except BlockingIOError:
            pass
        self._conn.poll()
        self._conn.notifies.clear()  # the payload is a queue name: any of them means "take again"

    def _wake(self):
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass

    def _next_deadline(self, default):
        deadlines = [r.deadline for r in self._in_flight.values() if r.deadline is not None]
        return min([default, *deadlines])

    def _take(self):
        free = self.concurrency - len(self._in_flight)
        while free > 0 and not self._stopping.is_set():
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT run_id, job_id, func, func_args, scheduled_for, attempt, timeout_seconds, "
                            f"not_before FROM {self._fn('rowsched_take')}(%s, %s, %s)",
                            (self.name, self.queues, free))
                rows = cur.fetchall()
            for row in rows:
                run = _Run(row)
                self._in_flight[run.run_id] = run
                log.info("run %s of job %s (attempt %s) taken", run.run_id, run.job_id, run.attempt)
                run.thread = threading.Thread(target=self._call, args=(run,), name=f"rowsched-run-{run.run_id}",
                                              daemon=True)
                run.thread.start()
            if len(rows) < free:
                return
            free = self.concurrency - len(self._in_flight)

    # --- one call, on its own thread ----------------------------------------------------------------

    def _call(self, run):
        if run.not_before is not None:
            # Claimed ahead of its instant: the function starts at the instant, not before.
            delay = run.not_before.timestamp() - time.time()
            if delay > 0:
                time.sleep(delay)
        run.started = time.monotonic()
        if run.timeout is not None:
            run.deadline = run.started + run.timeout
            self._wake()  # the main loop's wait must end by this deadline
        try:
            if run.func is None:
                raise LookupError(f"job {run.job_id} no longer exists in job_info")
            function = _resolve(run.func, self._imports, self._imports_lock)
            args = run.func_args
            if isinstance(args, list):
                value = function(*args)
            elif isinstance(args, dict):
                value = function(**args)
            else:
                raise TypeError(f"func_args is {type(args).__name__}; allowed: a JSON array (*args) or object (**kwargs)")
            run.outcome = ("succeeded", _output(value), None)
        except BaseException:  # noqa: BLE001 - whatever the function raises fails the run, not the worker
            run.outcome = ("failed", None, traceback.format_exc())
        finally:
            try:
                self.call_finished()
            except Exception:  # noqa: BLE001 - a clean-up hook must not lose the run's outcome
                log.exception("call_finished() failed after run %s of job %s", run.run_id, run.job_id)
        self._done.put(run)
        self._wake()

    def call_finished(self):
        """Called on a call's own thread after each call of a job's function, whatever its outcome.
        Override it to release what the function left on that thread (the Django worker closes the
        thread's database connections here)."""

    # --- recording -------------------------------------------------------------------------------

    def _finish(self, run, status, output, error):
        with self._conn.cursor() as cur:
            cur.execute(f"SELECT {self._fn('rowsched_finish')}(%s, %s, %s, %s, %s)",
                        (run.run_id, self.name, status, output, error))
            recorded = cur.fetchone()[0]
        if not recorded:
            log.warning("run %s of job %s: outcome %s not recorded: the run is no longer this worker's "
                        "(rowsched marked it lost or timeout meanwhile)", run.run_id, run.job_id, status)
        return recorded

    def _record_finished(self):
        while True:
            try:
                run = self._done.get_nowait()
            except queue_module.Empty:
                return
            if self._in_flight.get(run.run_id) is not run:
                continue  # abandoned at its timeout: already recorded
            status, output, error = run.outcome
            took = time.monotonic() - (run.started or time.monotonic())
            if status == "succeeded":
                log.info("run %s of job %s succeeded in %.3f s", run.run_id, run.job_id, took)
            else:
                last_line = ((error or "").strip().splitlines() or [""])[-1]
                log.warning("run %s of job %s failed after %.3f s: %s", run.run_id, run.job_id, took, last_line)
            try:
                self._finish(run, status, output, error)
            except psycopg2.Error:
                self._done.put(run)  # recorded after the reconnect
                raise
            del self._in_flight[run.run_id]

    def _enforce_timeouts(self):
        now = time.monotonic()
        for run in list(self._in_flight.values()):
            if run.deadline is None or now < run.deadline or run.outcome is not None:
                continue
            self._finish(run, "timeout", None,
                         f"timeout: still running after its timeout of {run.timeout:g} s; the worker {self.name} "
                         f"abandoned the call (a Python thread cannot be stopped: it runs on in the background)")
            del self._in_flight[run.run_id]
            self._abandoned += 1
            log.warning("run %s of job %s timed out after %g s and was abandoned (%d abandoned calls still running "
                        "in this worker)", run.run_id, run.job_id, run.timeout, self._abandoned_alive())

    def _abandoned_alive(self):
        return sum(1 for t in threading.enumerate() if t.name.startswith("rowsched-run-")) - len(self._in_flight)

    # --- shutdown --------------------------------------------------------------------------------

    def _shutdown(self):
        deadline = time.monotonic() + self.shutdown_timeout
        if self._in_flight:
            log.info("worker %s shutting down: waiting up to %g s for %d runs in progress", self.name,
                     self.shutdown_timeout, len(self._in_flight))
        next_heartbeat = 0.0
        while self._in_flight and time.monotonic() < deadline:
            try:
                if self._conn is None:
                    self._connect()
                self._record_finished()
                self._enforce_timeouts()
                # Still alive while the runs end: else rowsched marks them lost after --lost-after.
                if self._in_flight and time.monotonic() >= next_heartbeat:
                    self._heartbeat()
                    next_heartbeat = time.monotonic() + self.heartbeat_interval
            except psycopg2.Error as e:
                log.warning("worker %s: database error while shutting down: %s", self.name, str(e).strip())
                self._close_quietly()
            if self._in_flight:
                remaining = min(deadline, next_heartbeat, self._next_deadline(deadline)) - time.monotonic()
                try:
                    run = self._done.get(timeout=max(0.0, min(remaining, 1.0)))
                    self._done.put(run)
                except queue_module.Empty:
                    pass
        try:
            if self._conn is None:
                self._connect()
            self._record_finished()
            for run in list(self._in_flight.values()):
                self._finish(run, "failed", None,
                             f"worker {self.name} shut down: the call was still running after its "
                             f"shutdown_timeout of {self.shutdown_timeout:g} s and was abandoned")
                del self._in_flight[run.run_id]
            with self._conn.cursor() as cur:
                cur.execute(f"SELECT {self._fn('rowsched_worker_deregister')}(%s)", (self.name,))
        except psycopg2.Error as e:
            log.warning("worker %s: could not record the end of its runs: %s (rowsched marks them lost)", self.name,
                        str(e).strip())

    def _install_signal_handlers(self):
        if threading.current_thread() is not threading.main_thread():
            return lambda: None
        previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGINT)}

        def handler(signum, frame):
            log.info("worker %s received %s: finishing the runs in progress", self.name, signal.Signals(signum).name)
            self.stop()

        for s in previous:
            signal.signal(s, handler)

        def restore():
            for s, h in previous.items():
                signal.signal(s, h)

        return restore
