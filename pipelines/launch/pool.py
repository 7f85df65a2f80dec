"""Who holds the warehouse pool, and reaping runs whose process died (part of ``pipelines.launch``).

A process killed while one of its steps held the pool slot left the slot claimed for ever,
and every later run spun at 100% CPU in Dagster's "Step blocked by limit for pool" loop.
Every run launched by the CLI (and, through ``TrackerResource``, every run the daemon
launches) records its pid, the pid's start time and the host in run tags. Before launching,
runs of this host whose process is gone are marked failed in the run storage (so the UI
tells the truth) and their slots are freed, as are the slots of runs that already ended.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from pipelines.launch.home import (
    WAREHOUSE_POOL,
    LaunchError,
    _now_text,
    pool_wait_seconds,
    progress,
)

PID_TAG = "gpu_tracker/pid"
PID_START_TAG = "gpu_tracker/pid_start"
HOST_TAG = "gpu_tracker/host"
STARTED_TAG = "gpu_tracker/started_at"


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
