"""DAGSTER_HOME under abuse: a run SIGKILLed while it holds the warehouse pool slot, a live
holder that never lets go, and commands racing to create a fresh home (issue #10 items 2, 3).

Before the fix, the run after a SIGKILL logged ``Step blocked by limit for pool
duckdb_warehouse`` for ever at 100% CPU (reproduced: killed after 40 s), and two commands on
a fresh home could leave ``schedules.db`` with two alembic heads.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-05-24"


@pytest.fixture
def fresh_env(tmp_path, shared_data, monkeypatch) -> dict[str, str]:
    """A warehouse, archive (one real SkyPilot catalog) and a DAGSTER_HOME that does not exist
    yet, so the CLI writes its own dagster.yaml (with the duckdb_warehouse pool of one)."""
    wh = tmp_path / "warehouse"
    config = tmp_path / "gpu_tracker.toml"
    config.write_text(
        "[paths]\n"
        f'warehouse = "{wh / "gpu_market.duckdb"}"\n'
        f'archive = "{wh / "raw"}"\n'
        f'published = "{wh / "published"}"\n'
        f'dagster_home = "{wh / "dagster_home"}"\n'
    )
    archive = tmp_path / "archive" / "skypilot_catalog" / DAY
    archive.mkdir(parents=True)
    catalog = shared_data / "skypilot_catalog" / "lambda" / "v8_0f40703_us-east-1.csv"
    (archive / "lambda.csv").write_bytes(catalog.read_bytes())
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("GPU_TRACKER_") and k != "DAGSTER_HOME"
    }
    env.update(
        GPU_TRACKER_CONFIG=str(config), DAGSTER_HOME=str(wh / "dagster_home"), PYTHONPATH=str(REPO)
    )
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("GPU_TRACKER_WAREHOUSE", raising=False)
    return env | {
        "_archive": str(tmp_path / "archive"),
        "_home": str(wh / "dagster_home"),
        "_tmp": str(tmp_path),
    }


# a `gpu-tracker run` that hangs after a flag file: in its source step's load ("load": the
# launch lock held), or in its models step ("models": the duckdb_warehouse pool slot held too;
# source steps take no pool since #11, the models do)
HANGING_RUN = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    import dbt_like
    from pipelines.lib import warehouse
    def hang(*args, **kwargs):
        Path(sys.argv[1]).write_text("loading")
        time.sleep(300)
    if sys.argv[2] == "models":
        dbt_like.Project.build = hang
    else:
        warehouse.load_source_day = hang
    from pipelines.cli import main
    sys.exit(main(sys.argv[3:]))
""")


def _start_hanging_run(env: dict[str, str], where: str = "load") -> tuple[subprocess.Popen, Path]:
    flag = Path(env["_tmp"]) / f"flag-{uuid.uuid4().hex[:6]}"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            HANGING_RUN,
            str(flag),
            where,
            "run",
            "--date",
            DAY,
            "--from-archive",
            env["_archive"],
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 90
    while not flag.exists():
        if child.poll() is not None:
            raise AssertionError(f"the run ended before its load: {child.communicate()}")
        assert time.monotonic() < deadline, "the run never reached its load"
        time.sleep(0.1)
    return child, flag


def _cli(env: dict[str, str], *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pipelines.cli", *argv],
        env=env,
        text=True,
        capture_output=True,
        timeout=timeout,
        check=False,
    )


def test_sigkilled_run_frees_its_pool_slot_and_is_marked_failed(fresh_env):
    import dagster as dg

    child, _ = _start_hanging_run(fresh_env, "models")
    os.kill(child.pid, signal.SIGKILL)  # in its models step: the duckdb_warehouse slot is claimed
    child.wait()

    instance = dg.DagsterInstance.get()
    killed = instance.get_runs(limit=1)[0]
    assert killed.status == dg.DagsterRunStatus.STARTED
    claimed = instance.event_log_storage.get_concurrency_info("duckdb_warehouse").claimed_slots
    assert [s.run_id for s in claimed] == [killed.run_id]  # the stuck slot the issue describes
    assert killed.tags["gpu_tracker/pid"] == str(child.pid)

    started = time.monotonic()
    done = _cli(fresh_env, "run", "--date", DAY, "--from-archive", fresh_env["_archive"])
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("run ok: 1 date(s), 1 source(s), 22 offers loaded"), done.stdout
    assert len(done.stdout.splitlines()) == 1
    assert (
        f"freed the duckdb_warehouse pool of 1 dead or ended run(s): ['{killed.run_id}']"
        in done.stderr
    )
    assert "Step blocked" not in done.stderr and elapsed < 120
    # the UI tells the truth: the killed run failed, and nothing holds the pool any more
    killed = instance.get_run_by_id(killed.run_id)
    assert killed.status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("duckdb_warehouse").claimed_slots == []
    # and build-models, which needs the same pool, runs too
    models = _cli(fresh_env, "build-models")
    assert models.returncode == 0 and models.stdout.startswith("models ok"), models.stderr


def test_live_holder_makes_the_next_command_give_up_in_one_line_naming_it(fresh_env):
    child, _ = _start_hanging_run(fresh_env)
    try:
        env = fresh_env | {"GPU_TRACKER_POOL_WAIT_SECONDS": "3"}
        started = time.monotonic()
        blocked = _cli(env, "build-models", timeout=60)
        elapsed = time.monotonic() - started
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert blocked.returncode == 2
    lines = blocked.stderr.strip().splitlines()
    assert len(lines) == 2, lines  # "building models", then the error
    assert lines[0].strip() == "building models"
    assert lines[1].startswith("gpu-tracker: gpu-tracker build-models: waited 3s for ")
    assert f"pid {child.pid}, run " in lines[1] and "gpu-tracker run/backfill, since 20" in lines[1]
    assert elapsed < 40


def _fake_run(instance, pid: int, start: str) -> str:
    """A STARTED run in the run storage whose tags name process ``pid``, holding the pool."""
    import dagster as dg
    from dagster._core.storage.dagster_run import DagsterRun

    from pipelines import launch

    run_id = str(uuid.uuid4())
    tags = {
        launch.PID_TAG: str(pid),
        launch.PID_START_TAG: start,
        launch.HOST_TAG: launch.socket.gethostname(),
        launch.STARTED_TAG: "2026-12-01T09:00:00Z",
    }
    instance.add_run(
        DagsterRun(
            job_name="daily_sources_job",
            run_id=run_id,
            status=dg.DagsterRunStatus.STARTED,
            tags=tags,
        )
    )
    storage = instance.event_log_storage
    storage.set_concurrency_slots("duckdb_warehouse", 1)
    assert storage.claim_concurrency_slot("duckdb_warehouse", run_id, "raw__x").is_claimed
    return run_id


def test_wait_for_pool_reaps_a_dead_holder_and_times_out_on_a_live_one(fresh_env):
    import dagster as dg

    from pipelines import launch

    instance = launch.get_instance()
    # a live holder (this very process): bounded wait, one line naming run, pid and since
    live = _fake_run(instance, os.getpid(), launch._process_start(os.getpid()))
    with pytest.raises(launch.LaunchError) as err:
        launch.wait_for_pool(instance, deadline=time.monotonic() + 1.5)
    assert str(err.value).startswith(
        f"the duckdb_warehouse pool is held by run {live} step raw__x "
        f"(pid {os.getpid()}, since 2026-12-01T09:00:00Z, alive)"
    )
    # the same pid with another start time is a reused pid: the holder is dead
    assert (
        launch.holder_state(instance.get_run_by_id(live).tags | {launch.PID_START_TAG: "1"})
        == "dead"
    )
    instance.event_log_storage.free_concurrency_slots_for_run(live)
    instance.report_run_failed(instance.get_run_by_id(live))

    # a dead holder: an exited process
    gone = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dead = _fake_run(instance, int(gone), "")
    launch.wait_for_pool(instance, deadline=time.monotonic() + 5)  # returns: reaped
    assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
    assert instance.event_log_storage.get_concurrency_info("duckdb_warehouse").claimed_slots == []


INIT = "from pipelines.launch import get_instance; i = get_instance(); print(len(i.get_runs()))"


def _alembic_heads(home: Path) -> dict[str, int]:
    heads = {}
    for db in sorted(home.rglob("*.db")):
        con = sqlite3.connect(db)
        try:
            heads[db.relative_to(home).as_posix()] = con.execute(
                "select count(*) from alembic_version"
            ).fetchone()[0]
        finally:
            con.close()
    return heads


@pytest.mark.slow
def test_commands_racing_on_fresh_homes_leave_each_home_usable(tmp_path):
    pairs = []
    for i in range(5):
        home = tmp_path / f"home{i}"
        env = {k: v for k, v in os.environ.items() if not k.startswith("GPU_TRACKER_")}
        env.update(
            DAGSTER_HOME=str(home),
            GPU_TRACKER_WAREHOUSE=str(tmp_path / f"w{i}" / "w.duckdb"),
            PYTHONPATH=str(REPO),
        )
        pairs.append(
            (
                home,
                env,
                [
                    subprocess.Popen(
                        [sys.executable, "-c", INIT],
                        env=env,
                        text=True,
                        stdout=subprocess.PIPE,
                        stderr=subprocess.PIPE,
                    )
                    for _ in range(2)
                ],
            )
        )
    for home, env, procs in pairs:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0 and out.strip() == "0", err[-2000:]
        heads = _alembic_heads(home)
        assert set(heads) == {
            "history/runs.db",
            "history/runs/index.db",
            "schedules/schedules.db",
        }, heads
        assert set(heads.values()) == {1}, heads  # one alembic head each
        assert (home / ".gpu-tracker-initialised").read_text() == "2"
        later = subprocess.run(
            [sys.executable, "-c", INIT + "; print(len(i.all_instigator_state()))"],
            env=env,
            text=True,
            capture_output=True,
            timeout=120,
            check=False,
        )
        assert later.returncode == 0 and later.stdout.split() == ["0", "0"], later.stderr[-2000:]


# a command that finds the pool free at its check, then meets a holder inside Dagster's loop
RACED_RUN = textwrap.dedent("""
    import sys
    from pipelines import launch
    launch.wait_for_pool = lambda instance, deadline, pool=None: None
    from pipelines.cli import main
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("how", ["deadline", "sigterm"])
def test_a_run_blocked_inside_dagster_ends_in_one_line_and_is_marked_failed(fresh_env, how):
    import dagster as dg

    from pipelines import launch

    instance = launch.get_instance()
    holder = _fake_run(
        instance, os.getpid(), launch._process_start(os.getpid())
    )  # alive: this process
    env = fresh_env | {"GPU_TRACKER_POOL_WAIT_SECONDS": "4" if how == "deadline" else "300"}
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            RACED_RUN,
            "run",
            "--date",
            DAY,
            "--from-archive",
            fresh_env["_archive"],
        ],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    started = time.monotonic()
    deadline = started + 90
    while True:  # until the child's step waits for the slot
        pending = instance.event_log_storage.get_concurrency_info("duckdb_warehouse").pending_steps
        if any(p.run_id != holder for p in pending):
            break
        assert child.poll() is None and time.monotonic() < deadline, child.communicate()
        time.sleep(0.2)
    blocked_run = next(p.run_id for p in pending if p.run_id != holder)
    if how == "sigterm":
        child.send_signal(signal.SIGTERM)  # Dagster alone never looks at it in this loop
    out, err = child.communicate(timeout=60)
    assert child.returncode == 2
    last = err.strip().splitlines()[-1]
    reason = (
        "interrupted while waiting"
        if how == "sigterm"
        else "gave up after GPU_TRACKER_POOL_WAIT_SECONDS=4"
    )
    assert last == (
        f"gpu-tracker: run {blocked_run} blocked on the duckdb_warehouse pool held by run "
        f"{holder} step raw__x (pid {os.getpid()}, since 2026-12-01T09:00:00Z, alive): {reason}"
    )
    assert out == ""
    assert instance.get_run_by_id(blocked_run).status == dg.DagsterRunStatus.FAILURE
    # whatever Dagster's loop re-queued in the instant before the exit goes at the next launch at the latest
    launch.reap_dead_runs(instance)
    info = instance.event_log_storage.get_concurrency_info("duckdb_warehouse")
    assert [p.run_id for p in info.pending_steps] == [holder]  # the holder's own (assigned) claim
    assert [s.run_id for s in info.claimed_slots] == [holder]
