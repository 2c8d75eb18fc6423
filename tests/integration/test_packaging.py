"""The ways in: docker-compose.yml is a valid Compose file, and `scripts/demo` runs end to end (a
throwaway cluster of its own, migrate, the example jobs, the daemon, the printed job_status)."""

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from conftest import IS_ROOT, REPO

DEMO = REPO / "scripts" / "demo"


def test_docker_compose_file_is_valid_and_has_postgres_migrate_and_rowsched():
    exe = shutil.which("docker-compose")
    if not exe:
        pytest.skip("docker-compose is not installed (scripts/install-deps installs it)")
    compose = str(REPO / "docker-compose.yml")
    proc = subprocess.run([exe, "-f", compose, "config", "-q"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    proc = subprocess.run([exe, "-f", compose, "config", "--services"], cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert set(proc.stdout.split()) == {"postgres", "migrate", "rowsched"}


# Present in debian:bookworm-slim itself (apt depends on them).
BASE_IMAGE_PACKAGES = {"libc6", "libgcc-s1", "libstdc++6"}


def runtime_packages_of_dockerfile():
    """The packages `apt-get install`ed in the Dockerfile's last stage."""
    text = (REPO / "Dockerfile").read_text()
    last_stage = text[text.rindex("\nFROM "):]
    install = last_stage[last_stage.index("apt-get install"):].replace("\\\n", " ")
    words = install.split("&&")[0].split()
    return {w for w in words[2:] if not w.startswith("-")}


def test_the_docker_runtime_stage_installs_every_library_the_binary_links(rowsched_bin):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    if not (shutil.which("objdump") and shutil.which("dpkg")):
        pytest.skip("objdump or dpkg is missing")
    dynamic = subprocess.run(["objdump", "-p", rowsched_bin], capture_output=True, text=True, check=True).stdout
    needed = [line.split()[1] for line in dynamic.splitlines() if line.strip().startswith("NEEDED")]
    assert needed, dynamic
    cache = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True, check=True).stdout
    missing = {}
    for lib in needed:
        paths = [line.split("=>")[1].strip() for line in cache.splitlines()
                 if line.strip().startswith(lib + " ") and "=>" in line]
        assert paths, f"{lib} is not in the ld.so cache"
        owner = subprocess.run(["dpkg", "-S", os.path.realpath(paths[0])], capture_output=True, text=True)
        if owner.returncode != 0:
            owner = subprocess.run(["dpkg", "-S", paths[0]], capture_output=True, text=True)
        assert owner.returncode == 0, f"no Debian package owns {paths[0]} ({lib})"
        package = owner.stdout.split(":")[0].strip()
        if package not in BASE_IMAGE_PACKAGES and package not in runtime_packages_of_dockerfile():
            missing[lib] = package
    assert not missing, f"add to the Dockerfile's runtime stage: {missing}"


def job_status_table(stdout):
    """{job_id: {state, next_run_time, run_count}} from the psql table the demo prints last."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.split("|")]
        if len(cells) == 4 and cells[3].isdigit():
            rows[cells[0]] = {"state": cells[1], "next_run_time": cells[2], "run_count": int(cells[3])}
    return rows


@pytest.fixture
def demo_dir():
    """An empty directory for the demo's cluster, reachable by the OS user postgres when run as root."""
    parent = os.environ.get("ROWSCHED_PG_TMPDIR") or ("/tmp" if IS_ROOT else None)
    path = Path(tempfile.mkdtemp(prefix="rowsched-demo-", dir=parent))
    yield path
    subprocess.run([str(REPO / "scripts" / "pg-stop"), str(path), "immediate"], capture_output=True, timeout=120)
    shutil.rmtree(path, ignore_errors=True)


def run_demo(rowsched_bin, demo_dir, *args):
    env = {**os.environ, "ROWSCHED_DEMO_DIR": str(demo_dir), "ROWSCHED_DEMO_SKIP_BUILD": "1",
           "ROWSCHED_BIN": rowsched_bin}
    env.pop("ROWSCHED_DEMO_PORT", None)
    proc = subprocess.run([str(DEMO), *args], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, f"scripts/demo {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def test_the_demo_runs_the_example_jobs_and_the_seed_row_in_its_python_worker(rowsched_bin, demo_dir):
    if not rowsched_bin:
        pytest.skip("the rowsched binary is not built")
    proc = run_demo(rowsched_bin, demo_dir, "--for", "8")
    jobs = job_status_table(proc.stdout)
    assert jobs, f"no job_status table in the demo's output:\n{proc.stdout}"
    assert jobs["every-5-seconds"]["state"] == "scheduled"
    assert jobs["every-5-seconds"]["run_count"] >= 1, proc.stderr
    assert jobs["seed-style"]["state"] == "scheduled"  # a worker job, run by the demo's Python worker
    assert jobs["seed-style"]["run_count"] >= 1, proc.stderr
    assert jobs["not-a-handler"]["state"] == "invalid" and jobs["not-a-handler"]["run_count"] == 0
    assert jobs["paused-job"]["state"] == "paused" and jobs["paused-job"]["run_count"] == 0
    assert jobs["run-me-now"]["run_count"] >= 1
    assert 'psql "host=127.0.0.1 port=' in proc.stdout  # the "what to try" text names the DSN

    # Run again on the same directory: the cluster and its history are reused, the examples reset.
    again = job_status_table(run_demo(rowsched_bin, demo_dir, "--for", "1").stdout)
    assert set(again) == set(jobs)
    assert again["every-5-seconds"]["run_count"] >= jobs["every-5-seconds"]["run_count"]
    assert again["not-a-handler"]["state"] == "invalid"
