"""The threads that start runs at their instant run at a lower nice value than the rest of the daemon
(`--start-nice`, default -10; src/base/start_priority.h, docs/operations.md). What is asserted is what
an operator sees: the threads' names and nice values in /proc (as `top -H` shows them), the daemon's
log, and that jobs still run when the system refuses the priority."""

import os
import subprocess
from pathlib import Path

import pytest

from conftest import sql
from daemon import insert_job, run_with_option, runs, started_under, wait_until

pytestmark = pytest.mark.skipif(os.geteuid() != 0,
                                reason="raising a thread's priority needs CAP_SYS_NICE, which root has")


def threads(pid):
    """{tid: (name, nice)} of process `pid`, read from /proc like `ps -L -o tid,comm,ni` does."""
    out = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            stat = (task / "stat").read_text()
        except FileNotFoundError:  # the thread ended meanwhile
            continue
        name = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        out[int(task.name)] = (name, int(fields[16]))  # field 19 of stat: nice
    return out


def by_thread_name(pid, value_of):
    """{thread name: sorted value_of(tid, nice)} of `pid`, the main thread under "main"; a thread that
    ends meanwhile is left out."""
    by = {}
    for tid, (name, nice) in threads(pid).items():
        try:
            by.setdefault("main" if tid == pid else name, []).append(value_of(tid, nice))
        except FileNotFoundError:
            pass
    return {k: sorted(v) for k, v in by.items()}


def niceness_by_name(pid):
    """{thread name: sorted nice values} of `pid`, the main thread under "main"."""
    return by_thread_name(pid, lambda tid, nice: nice)


def start(rowsched_bin, dsn, tmp_path, *args, prefix=()):
    """A daemon with 3 executor threads, started under `prefix` (setpriv, nice) when given."""
    return started_under(rowsched_bin, dsn, tmp_path, "--workers", "3", *args, prefix=prefix)


@pytest.mark.parametrize("args, expected", [((), -10), (("--start-nice", "-5"), -5), (("--start-nice", "0"), 0)])
def test_only_the_threads_that_start_runs_take_the_nice_value_asked_for(rowsched_bin, migrated_db, tmp_path,
                                                                         args, expected):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    d = start(rowsched_bin, migrated_db, tmp_path, *args)
    try:
        by = niceness_by_name(d.proc.pid)
        assert by["rowsched-run"] == [expected] * 3, by  # --workers 3
        assert by["rowsched-sql"] == [expected], by
        others = {name: nices for name, nices in by.items() if name not in ("rowsched-run", "rowsched-sql")}
        assert others and all(n == 0 for nices in others.values() for n in nices), by
        if expected:
            assert f"the threads that start runs run at nice {expected}" in d.log()
        else:
            assert "threads that start runs" not in d.log()
    finally:
        assert d.stop() == 0


def slice_of(tid):
    """The scheduler slice of thread `tid` in ns (/proc/TID/sched, "se.slice"; Linux 6.12+), or None."""
    try:
        return slice_in(Path(f"/proc/{tid}/sched").read_text())
    except FileNotFoundError:
        return None


def slice_by_name(pid):
    """{thread name: sorted slices in ns} of `pid`."""
    return by_thread_name(pid, lambda tid, _: slice_of(tid))


def slack_in(text):
    """The timer slack in a /proc/PID/timerslack_ns text."""
    return int(text)


def slice_in(text):
    """The slice in a /proc/PID/sched text ("se.slice : N"), or None."""
    for line in text.splitlines():
        if line.startswith("se.slice"):
            return int(line.split(":")[1])
    return None


# What the threads that start runs ask for, by name: the /proc/PID file that shows it, its reader, the
# value asked for.
SETTINGS = {"timer slack": ("timerslack_ns", slack_in, 1), "slice": ("sched", slice_in, 100000)}


@pytest.mark.parametrize("setting", list(SETTINGS))
@pytest.mark.parametrize("start_nice", ["-10", "0"])
def test_the_threads_that_start_runs_take_a_short_slice_and_no_timer_slack_and_their_children_the_defaults(
        rowsched_bin, migrated_db, tmp_path, setting, start_nice):
    """The kernel may wake a thread up to its timer slack (50 us by default) after the time it asked
    for, and a thread that wakes with a shorter slice than the one running on its CPU preempts it at
    once. The threads that start runs ask for 1 ns of slack and a 0.1 ms slice, whatever their nice
    value; the rest of the daemon and an exec job's program keep the system's defaults."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    file, read, asked = SETTINGS[setting]
    default = read(Path(f"/proc/{os.getpid()}/{file}").read_text())
    if default is None:
        pytest.skip(f"this kernel shows no {setting} (the slice: Linux 6.12+)")
    assert default != asked, default  # else this test could not tell the two apart
    d = start(rowsched_bin, migrated_db, tmp_path, "--start-nice", start_nice, "--allow-exec", "/bin/cat")
    try:
        by = by_thread_name(d.proc.pid, lambda tid, _: read(Path(f"/proc/{tid}/{file}").read_text()))
        assert by["rowsched-run"] == [asked] * 3 and by["rowsched-sql"] == [asked], by
        others = {name: s for name, s in by.items() if not name.startswith("rowsched-")}
        assert others and all(x == default for s in others.values() for x in s), by
        insert_job(migrated_db, "a-child", func="exec", args=["/bin/cat", f"/proc/self/{file}"], run_right_now=True)
        done = wait_until(lambda: runs(migrated_db, "a-child", "succeeded"), 20, "the exec job's run")
        assert read(done[0][2]) == default, done
        # Started by the job, and back after the spawn.
        after = by_thread_name(d.proc.pid, lambda tid, _: read(Path(f"/proc/{tid}/{file}").read_text()))
        assert after["rowsched-exec"] == [asked], after
        assert niceness_by_name(d.proc.pid)["rowsched-exec"] == [int(start_nice)]
    finally:
        assert d.stop() == 0


@pytest.mark.skipif(slice_of(os.getpid()) is None, reason="this kernel shows no scheduler slice (Linux 6.12+)")
def test_the_sql_thread_takes_the_default_slice_while_a_burst_is_in_flight(rowsched_bin, migrated_db, tmp_path):
    """Woken by each result of a burst, a thread with the short slice would preempt the backends running
    the rest of it: with 4 runs or more in flight the thread sending `sql` runs takes the default
    slice, and the short one again once they have ended."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    default = slice_of(os.getpid())
    d = start(rowsched_bin, migrated_db, tmp_path)
    try:
        sql_thread = [tid for tid, (name, _) in threads(d.proc.pid).items() if name == "rowsched-sql"]
        assert len(sql_thread) == 1 and slice_of(sql_thread[0]) == 100000
        for i in range(6):
            insert_job(migrated_db, f"slow-{i}", func="sql", args=["SELECT pg_sleep(4)"], run_right_now=True)
        wait_until(lambda: len(sql(migrated_db, "SELECT 1 FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(4)' "
                                                "AND state = 'active'")) >= 4, 10, "4 runs in flight")
        wait_until(lambda: slice_of(sql_thread[0]) == default, 2, "the default slice")
        wait_until(lambda: len(runs(migrated_db, "slow-0", "succeeded")) == 1, 20, "the runs' end")
        wait_until(lambda: slice_of(sql_thread[0]) == 100000, 10, "the short slice again")
    finally:
        assert d.stop() == 0


def stat_nice(stat):
    """The nice value in a /proc/PID/stat line."""
    return int(stat[stat.rindex(")") + 2:].split()[16])


def test_an_exec_job_is_started_by_a_raised_thread_but_its_program_runs_at_the_daemons_nice_value(
        rowsched_bin, migrated_db, tmp_path):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    d = start(rowsched_bin, migrated_db, tmp_path, "--allow-exec", "/bin/cat", prefix=("nice", "-n", "3"))
    try:
        # cat prints its own /proc/PID/stat: the program's nice value, as the kernel has it.
        insert_job(migrated_db, "exec-once", func="exec", args=["/bin/cat", "/proc/self/stat"], run_right_now=True)
        done = wait_until(lambda: runs(migrated_db, "exec-once", "succeeded"), 20, "the exec job's run")
        assert stat_nice(done[0][2]) == 3, done
        by = niceness_by_name(d.proc.pid)
        assert by["rowsched-exec"] == [-10] and by["main"] == [3], by
    finally:
        assert d.stop() == 0


def test_without_cap_sys_nice_the_daemon_says_what_to_grant_and_still_runs_jobs(rowsched_bin, migrated_db,
                                                                                tmp_path):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    # root without CAP_SYS_NICE (dropped from the bounding set before exec), as in a container that
    # was not given it.
    d = start(rowsched_bin, migrated_db, tmp_path, prefix=("setpriv", "--bounding-set", "-sys_nice", "--"))
    try:
        by = niceness_by_name(d.proc.pid)
        assert all(n == 0 for nices in by.values() for n in nices), by
        assert by["rowsched-sql"] == [0]
        if slice_of(os.getpid()) is not None:  # the short slice needs no capability
            assert slice_by_name(d.proc.pid)["rowsched-sql"] == [100000]
        log = d.log()
        assert "raising them to nice -10 was refused (Permission denied)" in log, log
        assert "CAP_SYS_NICE" in log and "LimitNICE=-10" in log and "--start-nice 0" in log, log
        sql(migrated_db, "CREATE TABLE stamp (at timestamptz)")
        insert_job(migrated_db, "sql-once", func="sql", args=["INSERT INTO stamp VALUES (clock_timestamp())"],
                   run_right_now=True)
        wait_until(lambda: runs(migrated_db, "sql-once", "succeeded"), 20, "the sql job's run")
        assert len(sql(migrated_db, "SELECT at FROM stamp")) == 1
    finally:
        assert d.stop() == 0


def test_an_unprivileged_user_whose_nice_limit_allows_it_gets_the_priority(rowsched_bin, migrated_db, tmp_path):
    """What the systemd unit (LimitNICE=-10) and docker-compose.yml (ulimits: nice: 30) give the
    unprivileged user they run rowsched as: no capability, a raw RLIMIT_NICE of 30 (20 - 30 = -10)."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    if subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", rowsched_bin]).returncode != 0:
        pytest.skip("the OS user postgres cannot run the binary where it was built")
    if subprocess.run(["prlimit", "--nice=30:30", "--", "true"], capture_output=True).returncode != 0:
        pytest.skip("this machine cannot raise RLIMIT_NICE (its root has no CAP_SYS_RESOURCE)")
    d = start(rowsched_bin, migrated_db, tmp_path, prefix=(
        "prlimit", "--nice=30:30", "--", "setpriv", "--reuid", "postgres", "--regid", "postgres", "--clear-groups",
        "--inh-caps", "-all", "--"))
    try:
        assert Path(f"/proc/{d.proc.pid}/status").read_text().count("CapEff:\t0000000000000000") == 1
        by = niceness_by_name(d.proc.pid)
        assert by["rowsched-sql"] == [-10] and by["rowsched-run"] == [-10] * 3, by
        assert by["main"] == [0], by
        if slice_of(os.getpid()) is not None:  # the short slice needs no privilege either
            assert slice_by_name(d.proc.pid)["rowsched-sql"] == [100000]
    finally:
        assert d.stop() == 0


def test_a_daemon_started_at_a_lower_nice_value_keeps_it(rowsched_bin, migrated_db, tmp_path):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    d = start(rowsched_bin, migrated_db, tmp_path, prefix=("nice", "-n", "-15"))
    try:
        by = niceness_by_name(d.proc.pid)
        assert all(n == -15 for nices in by.values() for n in nices), by
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("value", ["1", "-21", "high"])
def test_a_start_nice_out_of_range_is_refused_naming_the_option_and_what_is_allowed(rowsched_bin, value, how):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    proc = run_with_option(rowsched_bin, "--start-nice", value, how)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"--start-nice: Value {value} not in range -20 to 0" in proc.stderr, proc.stderr
