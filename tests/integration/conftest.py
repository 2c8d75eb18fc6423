"""The integration-test harness: a throwaway PostgreSQL cluster per pytest session, a fresh database per
test, the rowsched schema applied by `rowsched migrate` (or by psql when the binary is not built yet),
and helpers to run SQL and to collect notifications.

Fixtures (see tests/integration/README.md):
  pg                  the session's cluster: .host .port .datadir .dsn(db) .url(db) .restart() .stop() .start()
  db                  the DSN of a fresh, empty database, dropped after the test
  migrated_db         the DSN of a fresh database with every sql/*.sql applied in schema public
  shared_migrated_db  the DSN of one migrated database shared by the tests that use it, emptied of rows
                      before each (fast; for tests that change no schema objects)
  make_migrated_db    factory: make_migrated_db(schema="public", method=None) -> DSN
  migrate_method      "rowsched" or "psql": how migrated_db was made (parametrized by --migrate-with=both)
  rowsched_bin        path of the rowsched binary, or None when it is not built
  make_role           factory: make_role(prefix="user", superuser=False) -> name of a new LOGIN role
  sql, sql_value      sql(dsn, query, params=None) -> rows; sql_value(...) -> the first column of the first row
  listen              factory: listen(dsn, channel="rowsched_job_info") -> Listener (closed after the test)

Works as root (initdb and postgres then run as the `postgres` OS user through runuser) and as an
ordinary user. Nothing here sleeps for a fixed time: readiness is polled, notifications are awaited on
the connection's socket.
"""

import atexit
import json
import os
import select
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from contextlib import closing
from pathlib import Path

import psycopg2
import psycopg2.extensions
import pytest

REPO = Path(__file__).resolve().parents[2]
SQL_DIR = REPO / "sql"
JOB_INFO_CHANNEL = "rowsched_job_info"
MARKER_CHANNEL = "rowsched_test_marker"
IS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


def pytest_addoption(parser):
    group = parser.getgroup("rowsched")
    group.addoption(
        "--rowsched",
        default=os.environ.get("ROWSCHED_BIN") or str(REPO / "build" / "rowsched"),
        help="the rowsched binary (default: $ROWSCHED_BIN, else build/rowsched); "
        "used for `rowsched migrate` when it exists",
    )
    group.addoption(
        "--migrate-with",
        choices=["auto", "rowsched", "psql", "both"],
        default=os.environ.get("ROWSCHED_MIGRATE_WITH", "auto"),
        help="how migrated_db applies sql/: auto (the binary when built, else psql), rowsched, psql, "
        "or both (every test using migrated_db runs once per method)",
    )


def _rowsched_bin(config):
    path = Path(config.getoption("--rowsched"))
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def _migrate_methods(config):
    choice = config.getoption("--migrate-with")
    built = _rowsched_bin(config) is not None
    if choice == "auto":
        return ["rowsched" if built else "psql"]
    if choice == "both":
        return ["rowsched", "psql"]
    return [choice]


def pytest_generate_tests(metafunc):
    if "migrate_method" in metafunc.fixturenames and metafunc.config.getoption("--migrate-with") == "both":
        metafunc.parametrize("migrate_method", _migrate_methods(metafunc.config), indirect=True)


# --- PostgreSQL ------------------------------------------------------------------------------------


def pg_bindir():
    """The directory of initdb/pg_ctl/postgres: $PG_BINDIR, else the newest /usr/lib/postgresql/N/bin."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    versions = [p.parent for p in Path("/usr/lib/postgresql").glob("*/bin/initdb")]
    if versions:
        return max(versions, key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    try:
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout
        return Path(out.strip())
    except (OSError, subprocess.CalledProcessError):
        raise RuntimeError("PostgreSQL server binaries not found; install postgresql or set PG_BINDIR") from None


def free_port(host="127.0.0.1"):
    """A TCP port nobody listens on right now (another process may still take it: callers retry)."""
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class PgCluster:
    """One PostgreSQL cluster in its own directory: data in <base>/data, the unix socket in the data
    directory, TCP on 127.0.0.1:<port>, trust authentication, durability off (it is thrown away)."""

    host = "127.0.0.1"

    def __init__(self, base):
        self.base = Path(base)
        self.datadir = self.base / "data"
        self.logfile = self.base / "postgres.log"
        self.bindir = pg_bindir()
        self.port = None

    def _run(self, argv, check=True, timeout=120):
        if IS_ROOT:
            argv = ["runuser", "-u", "postgres", "--"] + argv
        proc = subprocess.run(argv, cwd=self.base, capture_output=True, text=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")
        return proc

    def init(self):
        self.base.mkdir(parents=True, exist_ok=True)
        if IS_ROOT:
            shutil.chown(self.base, "postgres", "postgres")
        self.base.chmod(0o700)
        self._run([str(self.bindir / "initdb"), "-D", str(self.datadir), "-A", "trust", "-U", "postgres",
                   "--no-sync", "-E", "UTF8", "--locale=C"])
        with open(self.datadir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# rowsched test harness\n"
                "listen_addresses = '127.0.0.1'\n"
                f"unix_socket_directories = '{self.datadir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 200\n"
            )

    def start(self, attempts=8):
        """Starts the server (on a new free port unless it has one) and waits until it accepts queries."""
        keep_port = self.port is not None
        for _ in range(attempts):
            port = self.port if keep_port else free_port()
            self.logfile.touch()
            if IS_ROOT:
                shutil.chown(self.logfile, "postgres", "postgres")
            proc = self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(self.logfile),
                              "-w", "-t", "60", "-o", f"-p {port}", "start"], check=False)
            if proc.returncode == 0:
                self.port = port
                self._wait_ready()
                return
            log = self.logfile.read_text(errors="replace")
            if "could not bind" not in log and "could not create listen socket" not in log:
                raise RuntimeError(f"postgres did not start:\n{proc.stdout}{proc.stderr}\n{log[-4000:]}")
            time.sleep(0.2)  # the port was taken between choosing and binding: try again
        raise RuntimeError(f"postgres did not start after {attempts} attempts:\n{self.logfile.read_text()[-4000:]}")

    def _wait_ready(self, timeout=60.0):
        deadline = time.monotonic() + timeout
        while True:
            proc = subprocess.run([str(self.bindir / "pg_isready"), "-q", "-h", self.host, "-p", str(self.port),
                                   "-U", "postgres", "-t", "5"], capture_output=True)
            if proc.returncode == 0:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"postgres not ready after {timeout}s:\n{self.logfile.read_text()[-4000:]}")
            time.sleep(0.05)

    def stop(self, mode="fast"):
        """Stops the server (mode: smart, fast or immediate); a stopped server stays stopped."""
        self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-w", "-t", "60", "-m", mode, "stop"],
                  check=False)

    def restart(self, mode="fast"):
        """Stops and starts the server on the same port (clients reconnect to the same DSN)."""
        self.stop(mode)
        self.start()

    def is_running(self):
        return self._run([str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "status"], check=False).returncode == 0

    def dsn(self, dbname="postgres", user="postgres"):
        return f"host={self.host} port={self.port} user={user} dbname={dbname}"

    def url(self, dbname="postgres", user="postgres"):
        return f"postgresql://{user}@{self.host}:{self.port}/{dbname}"

    def destroy(self):
        if self.datadir.exists():
            self.stop("immediate")
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="session")
def pg():
    parent = os.environ.get("ROWSCHED_PG_TMPDIR") or ("/tmp" if IS_ROOT else None)
    cluster = PgCluster(tempfile.mkdtemp(prefix="rowsched-pg-", dir=parent))
    atexit.register(cluster.destroy)  # also when the session dies before fixture teardown
    cluster.init()
    cluster.start()
    yield cluster
    cluster.destroy()


# --- SQL helpers -----------------------------------------------------------------------------------


def connect(dsn, autocommit=True):
    conn = psycopg2.connect(dsn)
    conn.autocommit = autocommit
    return conn


def sql(dsn, query, params=None):
    """Runs one statement in its own autocommit session; returns the rows ([] when there are none)."""
    with closing(connect(dsn)) as conn, conn.cursor() as cur:
        cur.execute(query, params)
        return cur.fetchall() if cur.description else []


def sql_value(dsn, query, params=None):
    """The first column of the first row of the statement's result (None when there is no row)."""
    rows = sql(dsn, query, params)
    return rows[0][0] if rows else None


def dsn_with(dsn, **overrides):
    """The DSN with some keywords replaced, e.g. dsn_with(dsn, user="alice")."""
    params = psycopg2.extensions.parse_dsn(dsn)
    params.update({k: str(v) for k, v in overrides.items()})
    return " ".join(f"{k}={v}" for k, v in params.items())


def quote_ident(name):
    return '"' + name.replace('"', '""') + '"'


def create_database(pg, template=None):
    name = f"t_{uuid.uuid4().hex[:16]}"
    clause = f" TEMPLATE {quote_ident(template)}" if template else ""
    sql(pg.dsn(), f"CREATE DATABASE {quote_ident(name)}{clause}")
    return name


def drop_database(pg, name):
    sql(pg.dsn(), f"DROP DATABASE IF EXISTS {quote_ident(name)} WITH (FORCE)")


@pytest.fixture(name="sql")
def sql_fixture():
    return sql


@pytest.fixture(name="sql_value")
def sql_value_fixture():
    return sql_value


@pytest.fixture
def db(pg):
    name = create_database(pg)
    yield pg.dsn(name)
    if pg.is_running():
        drop_database(pg, name)


# --- Migrations ------------------------------------------------------------------------------------


def migration_files():
    """Every file a psql user runs, in order: the numbered migrations (sql/NNN_*.sql), then the current
    definitions (sql/definitions/*.sql; sql/definitions/README.md)."""
    return numbered_migration_files() + definition_files()


def numbered_migration_files():
    return sorted(SQL_DIR.glob("*.sql"))


def definition_files():
    return sorted((SQL_DIR / "definitions").glob("*.sql"))


def definitions_record_name():
    """The name `rowsched migrate` records for the definitions it applied: FNV-1a (64 bits) over each
    file's embedded name and text (src/store/migrations.cc), computed here independently."""
    hash_ = 0xcbf29ce484222325
    for path in definition_files():
        for chunk in (f"definitions/{path.name}".encode() + b"\0", path.read_bytes() + b"\0"):
            for byte in chunk:
                hash_ = ((hash_ ^ byte) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"definitions-{hash_:016x}"


def recorded_names():
    """What a migrate records in rowsched_migration, in name order."""
    return [p.name for p in numbered_migration_files()] + [definitions_record_name()]


def psql(dsn, *args, env=None, check=True):
    """Runs psql (never reading ~/.psqlrc) with ON_ERROR_STOP; returns the CompletedProcess."""
    argv = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", dsn, *args]
    proc = subprocess.run(argv, capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=120)
    if check and proc.returncode != 0:
        raise RuntimeError(f"psql failed ({proc.returncode}): {' '.join(args)}\n{proc.stdout}{proc.stderr}")
    return proc


def migrate_with_psql(dsn, schema="public"):
    """Applies sql/ as `rowsched migrate` does: each numbered file not yet recorded in
    <schema>.rowsched_migration runs in one transaction after CREATE SCHEMA IF NOT EXISTS and
    SET LOCAL search_path = <schema>, pg_catalog, and is recorded there; then every definitions file,
    in one more transaction, recorded as definitions_record_name()."""
    applied = set()
    if sql_value(dsn, "SELECT to_regclass(%s)", (f"{quote_ident(schema)}.rowsched_migration",)):
        applied = {r[0] for r in sql(dsn, f"SELECT name FROM {quote_ident(schema)}.rowsched_migration")}
    for path in numbered_migration_files():
        if path.name in applied:
            continue
        literal = "'" + path.name.replace("'", "''") + "'"
        psql(dsn, "--single-transaction",
             "-c", f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}",
             "-c", f"SET LOCAL search_path = {quote_ident(schema)}, pg_catalog",
             "-f", str(path),
             "-c", f"INSERT INTO rowsched_migration (name) VALUES ({literal}) ON CONFLICT DO NOTHING")
    # The current definitions, every time, in one transaction (sql/definitions/README.md).
    psql(dsn, "--single-transaction",
         "-c", f"SET LOCAL search_path = {quote_ident(schema)}, pg_catalog",
         *[a for path in definition_files() for a in ("-f", str(path))],
         "-c", f"INSERT INTO rowsched_migration (name) VALUES ('{definitions_record_name()}') ON CONFLICT DO NOTHING")


def migrate_with_rowsched(binary, dsn, schema="public"):
    proc = subprocess.run([binary, "migrate", "--dsn", dsn, "--schema", schema],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise RuntimeError(f"rowsched migrate failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}")


def apply_migrations(dsn, schema="public", method="psql", binary=None):
    if method == "rowsched":
        if not binary:
            raise RuntimeError("--migrate-with=rowsched but the rowsched binary is not built (see --rowsched)")
        migrate_with_rowsched(binary, dsn, schema)
    else:
        migrate_with_psql(dsn, schema)


@pytest.fixture(scope="session")
def rowsched_bin(request):
    return _rowsched_bin(request.config)


@pytest.fixture
def migrate_method(request):
    return getattr(request, "param", None) or _migrate_methods(request.config)[0]


@pytest.fixture(scope="session")
def _migrated_templates(pg, rowsched_bin):
    """Migrated databases made once per (method, schema) and cloned for each test (CREATE DATABASE
    ... TEMPLATE is much faster than migrating every time)."""
    templates = {}

    def template(method, schema):
        key = (method, schema)
        if key not in templates:
            name = create_database(pg)
            apply_migrations(pg.dsn(name), schema, method, rowsched_bin)
            templates[key] = name
        return templates[key]

    return template


@pytest.fixture
def make_migrated_db(pg, migrate_method, _migrated_templates):
    made = []

    def make(schema="public", method=None):
        name = create_database(pg, template=_migrated_templates(method or migrate_method, schema))
        made.append(name)
        return pg.dsn(name)

    yield make
    if pg.is_running():
        for name in made:
            drop_database(pg, name)


@pytest.fixture
def migrated_db(make_migrated_db):
    return make_migrated_db()


@pytest.fixture(scope="session")
def _shared_databases(pg, _migrated_templates):
    made = {}

    def database(method):
        if method not in made:
            made[method] = create_database(pg, template=_migrated_templates(method, "public"))
        return made[method]

    return database


@pytest.fixture
def shared_migrated_db(pg, migrate_method, _shared_databases):
    """Like migrated_db, but one database reused by every test that asks for it, its rows emptied
    (TRUNCATE job_info, job_run, scheduler_instance) before each test: much faster than a new database,
    for tests that only write rows (no schema changes, no DROP/CREATE of objects)."""
    dsn = pg.dsn(_shared_databases(migrate_method))
    sql(dsn, "TRUNCATE job_info, job_run, scheduler_instance RESTART IDENTITY")
    return dsn


# --- Roles -----------------------------------------------------------------------------------------


@pytest.fixture
def make_role(pg):
    """Creates LOGIN roles with unique names (cluster-wide, never dropped: the cluster is thrown away).
    Connect as one with dsn_with(dsn, user=name)."""

    def make(prefix="user", superuser=False):
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        sql(pg.dsn(), f"CREATE ROLE {quote_ident(name)} LOGIN {'SUPERUSER' if superuser else 'NOSUPERUSER'}")
        return name

    return make


# --- Notifications ---------------------------------------------------------------------------------


class Listener:
    """A session LISTENing on one channel. Notifications are awaited on the connection's socket.

    drain() is how a test proves that something did NOT notify, without sleeping: it sends a marker
    through the server's notification queue, which delivers in commit order, so everything committed
    before the marker has arrived once the marker has."""

    def __init__(self, dsn, channel=JOB_INFO_CHANNEL):
        self.channel = channel
        self.conn = connect(dsn)
        self._queue = []
        self._markers = 0
        with self.conn.cursor() as cur:
            cur.execute(f"LISTEN {quote_ident(channel)}; LISTEN {quote_ident(MARKER_CHANNEL)}")

    def _pump(self, deadline):
        """Moves arrived notifications into the queue; waits for the socket until `deadline` if none."""
        self.conn.poll()
        if not self.conn.notifies:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                select.select([self.conn], [], [], remaining)
                self.conn.poll()
        while self.conn.notifies:
            self._queue.append(self.conn.notifies.pop(0))

    def collect(self, count, timeout=5.0):
        """The payloads of the next `count` notifications on the channel; fails after `timeout` s."""
        deadline = time.monotonic() + timeout
        while True:
            mine = [i for i, n in enumerate(self._queue) if n.channel == self.channel]
            if len(mine) >= count:
                taken = set(mine[:count])
                payloads = [self._queue[i].payload for i in sorted(taken)]
                self._queue = [n for i, n in enumerate(self._queue) if i not in taken]
                return payloads
            if time.monotonic() >= deadline:
                raise AssertionError(f"expected {count} notification(s) on {self.channel} within {timeout}s, "
                                     f"got {[self._queue[i].payload for i in mine]}")
            self._pump(deadline)

    def get(self, timeout=5.0):
        """The payload of the next notification on the channel."""
        return self.collect(1, timeout)[0]

    def get_json(self, timeout=5.0):
        return json.loads(self.get(timeout))

    def drain(self, timeout=5.0):
        """The payloads of every notification on the channel committed before this call."""
        self._markers += 1
        marker = f"marker-{os.getpid()}-{id(self)}-{self._markers}"
        with self.conn.cursor() as cur:
            cur.execute("SELECT pg_notify(%s, %s)", (MARKER_CHANNEL, marker))
        deadline = time.monotonic() + timeout
        while True:
            for i, n in enumerate(self._queue):
                if n.channel == MARKER_CHANNEL and n.payload == marker:
                    before, self._queue = self._queue[:i], self._queue[i + 1:]
                    return [b.payload for b in before if b.channel == self.channel]
            if time.monotonic() >= deadline:
                raise AssertionError(f"the marker notification did not come back within {timeout}s")
            self._pump(deadline)

    def close(self):
        self.conn.close()


def listen(dsn, channel=JOB_INFO_CHANNEL):
    return Listener(dsn, channel)


@pytest.fixture(name="listen")
def listen_fixture():
    listeners = []

    def make(dsn, channel=JOB_INFO_CHANNEL):
        listener = Listener(dsn, channel)
        listeners.append(listener)
        return listener

    yield make
    for listener in listeners:
        listener.close()



@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps each phase's report on the test item, so fixtures can show daemon logs on failure."""
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
