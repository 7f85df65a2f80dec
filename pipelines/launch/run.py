"""Running one job of the code location from the CLI (part of ``pipelines.launch``).

``run_job()`` -- one job at a time per DAGSTER_HOME from the CLI (``.launch.lock``, waited for
at most ``GPU_TRACKER_POOL_WAIT_SECONDS``, default 600 s), the pool checked before the launch,
and a watchdog thread during it: it frees slots of holders that die meanwhile, prints progress
(one line per finished step) to stderr, and ends the process with one line naming the holder
when the run stays blocked past the deadline or a SIGTERM/SIGINT arrives while blocked
(Dagster only looks at interrupts between steps, never in that loop).

A job runs in this process (``execute_in_process``, which ignores the job's executor) unless
``processes`` > 1: then ``dg.execute_job`` runs it with the multiprocess executor, one process
per step forked from a forkserver that preloaded the definitions, at most ``processes`` at a
time -- the live daily run, whose sources wait on the network (``GPU_TRACKER_SOURCE_PROCESSES``,
default 4). Measured on two cores, four live sources whose server answers each request after
5 s: the sources run took 21.9 s one after another, 11.6 s side by side (2 s delays: 9.8 s and
8.9 s -- process start-up eats most of the gain). Replays and backfills stay in this process:
there is no network to wait on, and a process start-up costs more than it saves.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.launch.home import (
    WAREHOUSE_POOL,
    LaunchError,
    _logger_config,
    file_lock,
    get_instance,
    pool_wait_seconds,
    progress,
)
from pipelines.launch.pool import pool_holders, process_tags, reap_dead_runs

log = logging.getLogger("gpu_tracker.launch")

LAUNCH_TAG = "gpu_tracker/launch_id"
SOURCES_JOB = "daily_sources_job"


def source_processes() -> int:
    """How many source steps a live run executes at once (``GPU_TRACKER_SOURCE_PROCESSES``)."""
    value = os.environ.get("GPU_TRACKER_SOURCE_PROCESSES", "").strip()
    try:
        processes = int(value) if value else 4
    except ValueError:
        raise LaunchError(f"GPU_TRACKER_SOURCE_PROCESSES={value!r} is not a whole number") from None
    if processes < 1:
        raise LaunchError(f"GPU_TRACKER_SOURCE_PROCESSES={value!r}: at least 1")
    return processes


def multiprocess_config(processes: int) -> dict[str, Any]:
    """The multiprocess executor's config: at most ``processes`` steps at once, each forked from
    a forkserver that imported dagster and the definitions once (spawning every step's
    interpreter afresh cost ~5 s of CPU per step on two cores: more than the fetches saved)."""
    preload = {"preload_modules": ["pipelines.definitions"]}
    return {"max_concurrent": processes, "start_method": {"forkserver": preload}}


def daily_sources_job():
    """The sources job, rebuilt by name in each process the multiprocess executor starts
    (``dg.reconstructable`` needs a module-level function)."""
    from pipelines.definitions import defs

    return defs.resolve_job_def(SOURCES_JOB)


# ----------------------------------------------------------------------------- outcome
@dataclass
class JobOutcome:
    """What a job run did, read from its events."""

    run_id: str
    success: bool
    failed_steps: list[str] = field(default_factory=list)  # "step: first line of the error"
    failed_checks: list[str] = field(default_factory=list)  # "check (severity)"
    seconds: float = 0.0
    # asset key ("raw/imported_offers") -> its materialization metadata, as plain values
    materialized: dict[str, dict[str, Any]] = field(default_factory=dict)

    def first_failure(self) -> str:
        """The first failed step's error without the step name, for a one-line CLI error."""
        text = self.failed_steps[0].split(": ", 1)[-1] if self.failed_steps else ""
        # a dg.Failure's description is the message itself (the asset's own one-line error)
        return text.removeprefix("Failure: ")


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
        elif event.event_type_value == "ASSET_MATERIALIZATION":
            materialization = event.event_specific_data.materialization
            out.materialized[materialization.asset_key.to_user_string()] = {
                k: v.value for k, v in materialization.metadata.items()
            }
        elif event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            if not evaluation.passed:
                out.failed_checks.append(f"{evaluation.check_name} ({evaluation.severity.value})")
    return out


class _Watchdog(threading.Thread):
    """Runs beside ``execute_in_process``: frees slots of holders that die, prints progress,
    and ends a run that stays blocked on the pool past the deadline or is interrupted while
    blocked (Dagster's blocked-step loop never checks for either)."""

    def __init__(self, instance, run_id: str | None, deadline: float, total_steps: int, **tag):
        super().__init__(name="gpu-tracker-watchdog", daemon=True)
        self.instance, self.run_id, self.deadline = instance, run_id, deadline
        self.total_steps = total_steps
        self.launch_tag = tag  # execute_job picks the run id itself: found by this tag
        self.stop = threading.Event()
        self._seen: set[str] = set()

    def _find_run(self) -> str | None:
        import dagster as dg

        if self.run_id is None and self.launch_tag:
            runs = self.instance.get_runs(filters=dg.RunsFilter(tags=self.launch_tag), limit=1)
            self.run_id = runs[0].run_id if runs else None
        return self.run_id

    def run(self) -> None:  # pragma: no cover - exercised through subprocess tests
        from dagster._utils.interrupts import check_captured_interrupt

        while not self.stop.wait(1.0):
            try:
                if self._find_run() is None:
                    continue
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

        if self._find_run() is None:
            return
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
    processes: int = 1,
) -> JobOutcome:
    """Run one job of the code location, recorded in DAGSTER_HOME: in this process, or with
    ``processes`` > 1 (the sources job only) in that many step processes at most."""
    from pipelines import launch  # wait_for_pool through the package: tests replace it there
    from pipelines.definitions import defs

    instance = get_instance()
    home = Path(os.environ["DAGSTER_HOME"])
    wait = pool_wait_seconds()
    deadline = time.monotonic() + wait
    launch_id = str(uuid.uuid4())
    config = {**(run_config or {}), "loggers": _logger_config()}
    job = defs.resolve_job_def(job_name)
    if processes > 1 and job_name != SOURCES_JOB:
        raise LaunchError(f"{job_name} runs in one process; only {SOURCES_JOB} runs in several")
    with file_lock(
        home / ".launch.lock", timeout_seconds=wait, what=what or job_name, run_id=launch_id
    ):
        launch.wait_for_pool(instance, deadline)
        total = len(asset_selection) if asset_selection is not None else len(job.graph.nodes)
        run_tags = {**(tags or {}), **process_tags(), LAUNCH_TAG: launch_id}
        in_process = processes <= 1
        watchdog = _Watchdog(
            instance, launch_id if in_process else None, deadline, total, **{LAUNCH_TAG: launch_id}
        )
        started = time.monotonic()
        watchdog.start()
        try:
            if in_process:
                result = job.execute_in_process(
                    run_config=config,
                    instance=instance,
                    partition_key=partition_key,
                    run_id=launch_id,
                    tags=run_tags,
                    asset_selection=asset_selection,
                    raise_on_error=False,
                )
            else:
                result = _execute_multiprocess(
                    instance, config, partition_key, run_tags, asset_selection, processes
                )
        finally:
            watchdog.stop.set()
            watchdog.join(timeout=5)
        watchdog._progress()  # the last steps' lines
        return _outcome(result, result.run_id, started)


def _execute_multiprocess(instance, config, partition_key, tags, asset_selection, processes):
    """``daily_sources_job`` with the multiprocess executor (its ``multi_or_in_process_executor``
    takes the choice from run config)."""
    import dagster as dg

    run_tags = dict(tags)
    if partition_key is not None:
        run_tags["dagster/partition"] = partition_key
    run_config = {
        **config,
        "execution": {"config": {"multiprocess": multiprocess_config(processes)}},
    }
    fresh_forkserver()
    with _worker_instance(instance) as workers:
        return dg.execute_job(
            dg.reconstructable(daily_sources_job),
            instance=workers,
            run_config=run_config,
            tags=run_tags,
            asset_selection=list(asset_selection) if asset_selection is not None else None,
            raise_on_error=False,
        )


def fresh_forkserver() -> None:
    """Step processes fork from the forkserver, so they inherit ITS environment (config path,
    warehouse, DAGSTER_HOME, secrets) from when it started, not this process's now. Stop one an
    earlier run in this process started, so this run's workers see today's environment (a CLI
    process runs one job, so this costs nothing there; a test session or any long-lived caller
    would otherwise load into the previous run's warehouse). ``_stop`` is the stdlib's own
    (3.8+) way to stop it; the next run starts a new one with the definitions preloaded."""
    from multiprocessing import forkserver

    stop = getattr(forkserver._forkserver, "_stop", None)
    if stop is not None:
        stop()


@contextlib.contextmanager
def _worker_instance(instance):
    """The instance for a multiprocess run. Quiet (no ``-v``), its settings add
    ``python_logs.python_log_level: INFO``: each step worker logs STEP_WORKER_STARTED at DEBUG
    through Dagster's default console logger before any run-config logger applies, and that
    setting (which the workers receive with the instance) is the one that logger obeys. Events
    are stored whatever the level; only DEBUG lines of ``context.log`` are left out."""
    import dagster as dg

    from pipelines.launch import home

    if home._VERBOSE:
        yield instance
        return
    ref = instance.get_ref()
    python_logs = {**(ref.settings.get("python_logs") or {}), "python_log_level": "INFO"}
    quiet = dg.DagsterInstance.from_ref(
        ref._replace(settings={**ref.settings, "python_logs": python_logs})
    )
    try:
        yield quiet
    finally:
        quiet.dispose()
