"""Launching the tracker's Dagster jobs from the command line, safely and quietly.

The CLI parses arguments; everything it needs from Dagster goes through here:

* ``ensure_dagster_home()`` -- DAGSTER_HOME (default ``warehouse/dagster_home``) with the
  ``dagster.yaml`` that limits the ``duckdb_warehouse`` pool to one writer. The first start
  of a home creates its SQLite storages; two commands doing that at once left
  ``schedules.db`` with two alembic heads, broken for good, so the first start runs under an
  exclusive ``flock`` on ``DAGSTER_HOME/.init.lock`` and leaves a marker file when it is done.
* ``reap_dead_runs()`` -- a process killed while one of its steps held the pool slot left
  the slot claimed for ever, and every later run spun at 100% CPU in Dagster's "Step blocked
  by limit for pool" loop. Every run launched here (and, through ``TrackerResource``, every
  run the daemon launches) records its pid, the pid's start time and the host in run tags.
  Before launching, runs of this host whose process is gone are marked failed in the run
  storage (so the UI tells the truth) and their slots are freed, as are the slots of runs
  that already ended.
* ``run_job()`` -- one job at a time per DAGSTER_HOME from the CLI (``.launch.lock``, waited
  for at most ``GPU_TRACKER_POOL_WAIT_SECONDS``, default 600 s), the pool checked before the
  launch, and a watchdog thread during it: it frees slots of holders that die meanwhile,
  prints progress (one line per finished step) to stderr, and ends the process with one line
  naming the holder when the run stays blocked past the deadline or a SIGTERM/SIGINT arrives
  while blocked (Dagster only looks at interrupts between steps, never in that loop).
* ``configure_output()`` -- no Dagster DEBUG lines and no ``BetaWarning`` lines unless ``-v``.

This is the one module outside ``pipelines/defs`` that imports dagster (issue #11).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

WAREHOUSE_POOL = "duckdb_warehouse"

DAGSTER_YAML = """\
# Written by gpu-tracker. Warehouse writers share the duckdb_warehouse pool: one at a time.
concurrency:
  pools:
    default_limit: 1
# The daemon (gpu-tracker ui) marks runs whose worker died and frees the pool slots of runs
# that ended; the CLI does the same itself before every launch (pipelines/launch.py).
run_monitoring:
  enabled: true
  free_slots_after_run_end_seconds: 30
telemetry:
  enabled: false
"""
_OUR_YAML_PREFIX = "# Written by gpu-tracker."
INIT_MARKER = ".gpu-tracker-initialised"
INIT_VERSION = "2"  # bump when DAGSTER_YAML changes: homes written by an older version are updated

PID_TAG = "gpu_tracker/pid"
PID_START_TAG = "gpu_tracker/pid_start"
HOST_TAG = "gpu_tracker/host"
STARTED_TAG = "gpu_tracker/started_at"

log = logging.getLogger("gpu_tracker.launch")

_VERBOSE = False


class LaunchError(Exception):
    """A launch that cannot go ahead, said in one line (the CLI prints it and exits 2)."""


# ----------------------------------------------------------------------------- output
def configure_output(verbose: bool) -> None:
    """Quiet by default: Dagster's beta/preview warnings (22 lines on every import of the
    definitions) and its DEBUG event lines only with ``-v``."""
    global _VERBOSE
    _VERBOSE = verbose
    if verbose:
        return
    # by message, so that commands which never load Dagster do not pay for importing it
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
    warnings.filterwarnings(
        "ignore", message=r".*(has been|is) (deprecated|superseded)", module=r"dagster"
    )
    logging.getLogger("dagster").setLevel(logging.ERROR)


def _logger_config() -> dict[str, Any]:
    # the console logger of execute_in_process logs every event at DEBUG; errors reach the user
    # through the one-line summary (failed steps), so by default it says nothing at all
    return {"console": {"config": {"log_level": "DEBUG" if _VERBOSE else "CRITICAL"}}}


def progress(message: str) -> None:
    """A progress line on stderr (stdout keeps the one summary line)."""
    print(f"  {message}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- locks
def _holder_text(path: Path) -> str:
    try:
        info = json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return "another process"
    parts = [
        f"pid {info['pid']}" if info.get("pid") else "",
        f"run {info['run_id']}" if info.get("run_id") else "",
        f"{info['what']}" if info.get("what") else "",
        f"since {info['since']}" if info.get("since") else "",
    ]
    return ", ".join(p for p in parts if p) or "another process"


@contextlib.contextmanager
def file_lock(path: Path, *, timeout_seconds: float, what: str, **info: str) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (released by the kernel if the holder dies), waited for
    at most ``timeout_seconds``; the holder writes who it is into the file so that a waiter's
    error names it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LaunchError(
                        f"{what}: waited {timeout_seconds:.0f}s for {path} held by "
                        f"{_holder_text(path)}"
                    ) from None
                time.sleep(0.1)
        try:
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps({"pid": os.getpid(), "what": what, "since": _now_text(), **info}))
            fh.flush()
            yield
        finally:
            with contextlib.suppress(OSError):
                fh.seek(0)
                fh.truncate()
            fcntl.flock(fh, fcntl.LOCK_UN)


def _now_text() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def pool_wait_seconds() -> float:
    """How long a command waits for the warehouse pool / another launch (env override)."""
    value = os.environ.get("GPU_TRACKER_POOL_WAIT_SECONDS", "").strip()
    try:
        return float(value) if value else 600.0
    except ValueError:
        raise LaunchError(f"GPU_TRACKER_POOL_WAIT_SECONDS={value!r} is not a number") from None


# ----------------------------------------------------------------------------- DAGSTER_HOME
def ensure_dagster_home() -> Path:
    """DAGSTER_HOME set and initialised once (under ``.init.lock``): the instance config
    written if missing (or if an older gpu-tracker wrote it), every SQLite storage created."""
    from pipelines.lib.config import load_config

    home = load_config().dagster_home
    try:
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LaunchError(f"DAGSTER_HOME {home}: cannot create it ({exc.strerror})") from None
    os.environ["DAGSTER_HOME"] = str(home)
    marker = home / INIT_MARKER
    if _marker_ok(marker):
        return home
    try:
        with file_lock(home / ".init.lock", timeout_seconds=120, what="initialising DAGSTER_HOME"):
            if _marker_ok(marker):  # another command finished it while we waited
                return home
            yaml_path = home / "dagster.yaml"
            if not yaml_path.exists() or yaml_path.read_text().startswith(_OUR_YAML_PREFIX):
                yaml_path.write_text(DAGSTER_YAML)
            _create_storages()
            marker.write_text(INIT_VERSION)
    except OSError as exc:
        raise LaunchError(f"DAGSTER_HOME {home}: {exc.strerror or exc}") from None
    return home


def _marker_ok(marker: Path) -> bool:
    try:
        return marker.read_text().strip() == INIT_VERSION
    except OSError:
        return False


def _create_storages() -> None:
    import dagster as dg

    instance = dg.DagsterInstance.get()
    try:
        # each SQLite storage (runs, event log + concurrency, schedules) creates its schema and
        # stamps its alembic version on first use: do all of that now, under the init lock
        instance.get_runs(limit=1)
        instance.event_log_storage.get_concurrency_keys()
        instance.all_instigator_state()
    finally:
        instance.dispose()


def get_instance():
    """The Dagster instance of DAGSTER_HOME (initialised once, see ``ensure_dagster_home``)."""
    import dagster as dg

    ensure_dagster_home()
    try:
        return dg.DagsterInstance.get()
    except Exception as exc:  # noqa: BLE001 -- a broken home is reported in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise LaunchError(
            f"DAGSTER_HOME {os.environ['DAGSTER_HOME']} cannot be opened: {first}"
            " (move it aside to start a fresh run history)"
        ) from None


# ----------------------------------------------------------------------------- process identity
def _process_start(pid: int) -> str | None:
    """The kernel's start time of ``pid`` (clock ticks since boot): a pid reused by a later
    process has another start time, so a recorded (pid, start) names one process for ever."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counting from after comm


def process_tags() -> dict[str, str]:
    """Run tags naming this process (pid, its start time, host, when)."""
    pid = os.getpid()
    return {
        PID_TAG: str(pid),
        PID_START_TAG: _process_start(pid) or "",
        HOST_TAG: socket.gethostname(),
        STARTED_TAG: _now_text(),
    }


def _process_started_at(pid: int) -> float | None:
    """When ``pid`` started (epoch seconds), from its start time and the boot time."""
    ticks = _process_start(pid)
    try:
        btime = next(
            int(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, ValueError):
        return None
    return btime + int(ticks) / os.sysconf("SC_CLK_TCK") if ticks else None


def _pid_state(pid: int) -> str:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return "dead"
    except PermissionError:
        pass  # exists, another user's
    return "alive"


def holder_state(tags: Mapping[str, str], last_event: tuple[int, float] | None = None) -> str:
    """``alive``, ``dead`` or ``unknown`` for a run, from the pid its tags record (runs of
    this tracker) or else from ``last_event`` (pid, timestamp) of its event log: a process that
    started after the run's last event is not the run's process."""
    pid = tags.get(PID_TAG)
    if pid and pid.isdigit():
        if tags.get(HOST_TAG) not in (None, socket.gethostname()):
            return "unknown"
        state = _pid_state(int(pid))
        start = tags.get(PID_START_TAG)
        if state == "alive" and start and _process_start(int(pid)) not in (None, start):
            return "dead"  # the pid was reused by another process
        return state
    if last_event is None or not last_event[0]:
        return "unknown"
    # SQLite run storage lives on this machine, so the pid of its events is one of ours
    state = _pid_state(last_event[0])
    started = _process_started_at(last_event[0])
    if state == "alive" and started is not None and started > last_event[1] + 1:
        return "dead"
    return state


def _run_state(instance, run) -> str:
    from dagster._core.storage.dagster_run import FINISHED_STATUSES, DagsterRunStatus

    if run is None or run.status in FINISHED_STATUSES:
        return "ended"
    last_event = None
    if PID_TAG not in run.tags and run.status != DagsterRunStatus.STARTED:
        return "unknown"  # queued or starting: its last event may be the launcher's, not a worker's
    if PID_TAG not in run.tags:
        records = instance.get_records_for_run(run.run_id, limit=1, ascending=False).records
        if records:
            entry = records[0].event_log_entry
            pid = entry.dagster_event.pid if entry.dagster_event is not None else None
            last_event = (pid or 0, entry.timestamp)
    return holder_state(run.tags, last_event)


@dataclass
class Holder:
    """A run that holds (or waits for) a pool slot."""

    run_id: str
    step_key: str
    state: str  # alive | dead | unknown | ended
    pid: str = ""
    since: str = ""

    def describe(self) -> str:
        who = f"run {self.run_id} step {self.step_key}"
        extra = [
            f"pid {self.pid}" if self.pid else "no pid recorded",
            f"since {self.since}" if self.since else "",
            self.state,
        ]
        return who + " (" + ", ".join(e for e in extra if e) + ")"


def pool_holders(
    instance, pool: str = WAREHOUSE_POOL, exclude_run: str | None = None
) -> list[Holder]:
    """Runs holding a slot of ``pool``, with the state of their process."""
    info = instance.event_log_storage.get_concurrency_info(pool)
    holders = []
    for slot in info.claimed_slots:
        if slot.run_id == exclude_run:
            continue
        run = instance.get_run_by_id(slot.run_id)
        state = _run_state(instance, run)
        tags = run.tags if run is not None else {}
        holders.append(
            Holder(
                slot.run_id, slot.step_key, state, tags.get(PID_TAG, ""), tags.get(STARTED_TAG, "")
            )
        )
    return holders


def reap_dead_runs(instance) -> list[str]:
    """Mark runs of this host whose process is gone as failed, and free the pool slots (and
    queued claims) of those runs and of runs that already ended. Returns the freed run ids."""
    import dagster as dg
    from dagster._core.storage.dagster_run import FINISHED_STATUSES

    reaped: list[str] = []
    unfinished = instance.get_runs(
        filters=dg.RunsFilter(
            statuses=[
                dg.DagsterRunStatus.STARTED,
                dg.DagsterRunStatus.STARTING,
                dg.DagsterRunStatus.CANCELING,
                dg.DagsterRunStatus.NOT_STARTED,
            ]
        ),
        limit=200,
    )
    for run in unfinished:
        if _run_state(instance, run) == "dead":
            instance.report_run_failed(
                run,
                message=f"gpu-tracker: the run's process (pid {run.tags.get(PID_TAG, '?')}, "
                f"started {run.tags.get(STARTED_TAG, '?')}) is gone; marked failed",
            )
            reaped.append(run.run_id)
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return reaped
    claimants = set(storage.get_concurrency_run_ids())
    for key in storage.get_concurrency_keys():
        claimants.update(s.run_id for s in storage.get_concurrency_info(key).claimed_slots)
    for run_id in claimants:
        run = instance.get_run_by_id(run_id)
        if run is None or run.status in FINISHED_STATUSES or run_id in reaped:
            storage.free_concurrency_slots_for_run(run_id)
            if run_id not in reaped:
                reaped.append(run_id)
    if reaped:
        progress(f"freed the {WAREHOUSE_POOL} pool of {len(reaped)} dead or ended run(s): {reaped}")
    return reaped


def wait_for_pool(instance, deadline: float, pool: str = WAREHOUSE_POOL) -> None:
    """Wait (until ``deadline``, monotonic) while a live run holds ``pool``; dead holders are
    reaped on the way. Raises LaunchError naming the holder when the deadline passes."""
    announced = False
    while True:
        reap_dead_runs(instance)
        holders = [h for h in pool_holders(instance, pool) if h.state in ("alive", "unknown")]
        if not holders:
            return
        if time.monotonic() > deadline:
            raise LaunchError(
                f"the {pool} pool is held by {holders[0].describe()}; gave up waiting "
                f"(GPU_TRACKER_POOL_WAIT_SECONDS={pool_wait_seconds():.0f})"
            )
        if not announced:
            progress(f"waiting for the {pool} pool: held by {holders[0].describe()}")
            announced = True
        time.sleep(1.0)


# ----------------------------------------------------------------------------- running a job
@dataclass
class JobOutcome:
    """What a job run did, read from its events."""

    run_id: str
    success: bool
    failed_steps: list[str] = field(default_factory=list)  # "step: first line of the error"
    failed_checks: list[str] = field(default_factory=list)  # "check (severity)"
    seconds: float = 0.0


def _first_line(text: str) -> str:
    lines = [line for line in (text or "").strip().splitlines() if line.strip()]
    return lines[0].strip() if lines else ""


def _outcome(result, run_id: str, started: float) -> JobOutcome:
    out = JobOutcome(
        run_id=run_id, success=result.success, seconds=round(time.monotonic() - started, 1)
    )
    for event in result.all_events:
        if event.event_type_value == "STEP_FAILURE":
            error = event.event_specific_data.error
            # a dg.Failure's description is the message; otherwise the innermost cause says most
            while (
                error is not None
                and error.cause is not None
                and "Error occurred while" in error.message
            ):
                error = error.cause
            text = _first_line(error.message if error else "")
            if (
                error is not None
                and error.cls_name
                and text.split(": ", 1)[0].endswith(error.cls_name)
            ):
                text = f"{error.cls_name}: {text.split(': ', 1)[1]}" if ": " in text else text
            out.failed_steps.append(f"{event.step_key}: {text}"[:500])
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                out.failed_checks.append(f"{evaluation.check_name} ({evaluation.severity.value})")
    return out


class _Watchdog(threading.Thread):
    """Runs beside ``execute_in_process``: frees slots of holders that die, prints progress,
    and ends a run that stays blocked on the pool past the deadline or is interrupted while
    blocked (Dagster's blocked-step loop never checks for either)."""

    def __init__(self, instance, run_id: str, deadline: float, total_steps: int):
        super().__init__(name="gpu-tracker-watchdog", daemon=True)
        self.instance, self.run_id, self.deadline = instance, run_id, deadline
        self.total_steps = total_steps
        self.stop = threading.Event()
        self._seen: set[str] = set()

    def run(self) -> None:  # pragma: no cover - exercised through subprocess tests
        from dagster._utils.interrupts import check_captured_interrupt

        while not self.stop.wait(1.0):
            try:
                self._progress()
                info = self.instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL)
                blocked = any(
                    p.run_id == self.run_id and p.assigned_timestamp is None
                    for p in info.pending_steps
                )
                if not blocked:
                    continue
                reap_dead_runs(self.instance)
                holders = [
                    h
                    for h in pool_holders(self.instance, exclude_run=self.run_id)
                    if h.state in ("alive", "unknown")
                ]
                interrupted = check_captured_interrupt()
                if interrupted or time.monotonic() > self.deadline:
                    reason = (
                        "interrupted while waiting"
                        if interrupted
                        else f"gave up after GPU_TRACKER_POOL_WAIT_SECONDS={pool_wait_seconds():.0f}"
                    )
                    held = holders[0].describe() if holders else "nobody (a slot was just freed)"
                    self._abandon(
                        f"gpu-tracker: run {self.run_id} blocked on the {WAREHOUSE_POOL} pool "
                        f"held by {held}: {reason}"
                    )
            except Exception as exc:  # noqa: BLE001 -- a failed check must not end the run
                log.debug("watchdog check failed: %s", exc)

    def _progress(self) -> None:
        import dagster as dg

        records = self.instance.get_records_for_run(
            self.run_id,
            of_type={dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE},
            limit=1000,
        ).records
        for record in records:
            entry = record.event_log_entry
            key = f"{entry.step_key}:{entry.dagster_event.event_type_value}"
            if key in self._seen:
                continue
            self._seen.add(key)
            status = "done" if entry.dagster_event.event_type_value == "STEP_SUCCESS" else "FAILED"
            progress(
                f"[{len({k.split(':')[0] for k in self._seen})}/{self.total_steps}] "
                f"{entry.step_key} {status}"
            )

    def _abandon(self, line: str) -> None:
        run = self.instance.get_run_by_id(self.run_id)
        with contextlib.suppress(Exception):
            self.instance.event_log_storage.free_concurrency_slots_for_run(self.run_id)
            if run is not None:
                self.instance.report_run_failed(run, message=line)
        print(line, file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(2)  # the main thread is inside Dagster's loop, which no exception reaches


def run_job(
    job_name: str,
    *,
    run_config: Mapping[str, Any] | None = None,
    partition_key: str | None = None,
    tags: Mapping[str, str] | None = None,
    asset_selection: Sequence[Any] | None = None,
    what: str = "",
) -> JobOutcome:
    """Run one job of the code location in this process, recorded in DAGSTER_HOME."""
    from pipelines.definitions import defs

    instance = get_instance()
    home = Path(os.environ["DAGSTER_HOME"])
    wait = pool_wait_seconds()
    deadline = time.monotonic() + wait
    run_id = str(uuid.uuid4())
    config = {**(run_config or {}), "loggers": _logger_config()}
    job = defs.resolve_job_def(job_name)
    with file_lock(
        home / ".launch.lock", timeout_seconds=wait, what=what or job_name, run_id=run_id
    ):
        wait_for_pool(instance, deadline)
        total = len(asset_selection) if asset_selection is not None else len(job.graph.nodes)
        watchdog = _Watchdog(instance, run_id, deadline, total)
        started = time.monotonic()
        watchdog.start()
        try:
            result = job.execute_in_process(
                run_config=config,
                instance=instance,
                partition_key=partition_key,
                run_id=run_id,
                tags={**(tags or {}), **process_tags()},
                asset_selection=asset_selection,
                raise_on_error=False,
            )
        finally:
            watchdog.stop.set()
            watchdog.join(timeout=5)
        watchdog._progress()  # the last steps' lines
        return _outcome(result, run_id, started)
