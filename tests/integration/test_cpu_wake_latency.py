"""--cpu-wake-latency (src/daemon/cpu_wake_latency.h, docs/operations.md): while a run is due within a
second, the daemon holds /dev/cpu_dma_latency open with the bound written in it (the kernel's PM QoS
request), and drops it when nothing is due. What is asserted is what an operator sees: the open file
in /proc (as `ls -l /proc/PID/fd` shows it), the CPUs' idle states the kernel enters meanwhile, the
daemon's log, and that jobs run when the system refuses the request."""

import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import sql
from daemon import insert_job, run_with_option, runs, started_under, wait_until

DEVICE = "/dev/cpu_dma_latency"

pytestmark = pytest.mark.skipif(not os.path.exists(DEVICE), reason="this kernel has no " + DEVICE)


def holds_device(pid):
    """Whether process `pid` has the PM QoS device open."""
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            if os.readlink(fd) == DEVICE:
                return True
        except FileNotFoundError:  # closed meanwhile
            pass
    return False


def idle_state_entries():
    """{(cpu, state name, exit latency in us): times entered} of every CPU's cpuidle states."""
    out = {}
    for state in Path("/sys/devices/system/cpu").glob("cpu[0-9]*/cpuidle/state[0-9]*"):
        name = (state / "name").read_text().strip()
        out[(state.parent.parent.name, name, int((state / "latency").read_text()))] = int((state / "usage").read_text())
    return out


@pytest.mark.skipif(os.geteuid() != 0, reason="writing " + DEVICE + " needs root (or a udev rule granting it)")
def test_the_request_is_held_while_runs_are_due_and_dropped_when_none_is(rowsched_bin, migrated_db, tmp_path):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    d = started_under(rowsched_bin, migrated_db, tmp_path, "--cpu-wake-latency", "0")
    try:
        assert not holds_device(d.proc.pid)  # no job yet: nothing due
        insert_job(migrated_db, "every-second", kwargs={"trigger": "interval", "seconds": 1})
        wait_until(lambda: holds_device(d.proc.pid), 10, "the daemon to hold " + DEVICE)
        assert "idle CPUs are asked to wake within 0 us while a run is due within 1 s" in d.log()
        # Held, the kernel keeps every CPU out of the idle states slower to leave than 0 us.
        before = idle_state_entries()
        time.sleep(1.0)
        after = idle_state_entries()
        assert holds_device(d.proc.pid)
        slow = {k: after[k] - before[k] for k in before if k[2] > 0}
        assert all(n == 0 for n in slow.values()), slow
        wait_until(lambda: len(runs(migrated_db, "every-second", "succeeded")) >= 2, 10, "two runs")
        # Nothing due within a second any more: dropped.
        sql(migrated_db, "DELETE FROM job_info WHERE job_id = 'every-second'")
        wait_until(lambda: not holds_device(d.proc.pid), 10, "the daemon to drop " + DEVICE)
    finally:
        assert d.stop() == 0


def test_off_by_default(rowsched_bin, migrated_db, tmp_path):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    d = started_under(rowsched_bin, migrated_db, tmp_path)
    try:
        insert_job(migrated_db, "every-second", kwargs={"trigger": "interval", "seconds": 1})
        wait_until(lambda: runs(migrated_db, "every-second", "succeeded"), 10, "a run")
        assert not holds_device(d.proc.pid)
        assert "idle CPUs" not in d.log() and "cpu-wake-latency" not in d.log()
    finally:
        assert d.stop() == 0


def test_a_refused_request_says_what_to_grant_and_jobs_still_run(rowsched_bin, migrated_db, tmp_path):
    """An unprivileged user, as the systemd unit runs rowsched, with no write access to the device."""
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    if os.geteuid() == 0:
        if subprocess.run(["runuser", "-u", "postgres", "--", "test", "-x", rowsched_bin]).returncode != 0:
            pytest.skip("the OS user postgres cannot run the binary where it was built")
        prefix = ("setpriv", "--reuid", "postgres", "--regid", "postgres", "--clear-groups", "--inh-caps", "-all", "--")
    else:
        prefix = ()
    if os.access(DEVICE, os.W_OK) and not prefix:
        pytest.skip("this user may write " + DEVICE)
    d = started_under(rowsched_bin, migrated_db, tmp_path, "--cpu-wake-latency", "20", prefix=prefix)
    try:
        insert_job(migrated_db, "every-second", kwargs={"trigger": "interval", "seconds": 1})
        wait_until(lambda: len(runs(migrated_db, "every-second", "succeeded")) >= 2, 10, "two runs")
        log = d.log()
        assert log.count("--cpu-wake-latency 20: cannot hold a CPU wake-up latency request in " + DEVICE +
                         " (Permission denied)") == 1, log
        assert 'KERNEL=="cpu_dma_latency", GROUP="rowsched", MODE="0660"' in log, log
        assert not holds_device(d.proc.pid)
    finally:
        assert d.stop() == 0


@pytest.mark.parametrize("how", ["option", "environment"])
@pytest.mark.parametrize("value", ["-1", "1000001", "50us", "on"])
def test_a_bad_cpu_wake_latency_is_refused_naming_what_is_allowed(rowsched_bin, value, how):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    proc = run_with_option(rowsched_bin, "--cpu-wake-latency", value, how)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f'--cpu-wake-latency "{value}": allowed: off, or whole microseconds from 0 to 1000000' in proc.stderr, \
        proc.stderr
