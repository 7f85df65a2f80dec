"""DAGSTER_HOME, the launch locks and the CLI's output settings (part of ``pipelines.launch``).

* ``ensure_dagster_home()`` -- DAGSTER_HOME (default ``warehouse/dagster_home``) with the
  ``dagster.yaml`` that limits the ``duckdb_warehouse`` pool to one writer. The first start
  of a home creates its SQLite storages; two commands doing that at once left
  ``schedules.db`` with two alembic heads, broken for good, so the first start runs under an
  exclusive ``flock`` on ``DAGSTER_HOME/.init.lock`` and leaves a marker file when it is done.
* ``file_lock()`` -- the bounded, self-describing ``flock`` every launch waits on.
* ``configure_output()`` -- no Dagster DEBUG lines and no ``BetaWarning`` lines unless ``-v``;
  the choice travels to the processes the multiprocess executor starts through
  ``GPU_TRACKER_QUIET`` (``pipelines.definitions`` applies it before loading anything).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import sys
import time
import warnings
from collections.abc import Iterator
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

log = logging.getLogger("gpu_tracker.launch")

_VERBOSE = False
QUIET_ENV = "GPU_TRACKER_QUIET"  # "1": a quiet CLI launched this process


class LaunchError(Exception):
    """A launch that cannot go ahead, said in one line (the CLI prints it and exits 2)."""


# ----------------------------------------------------------------------------- output
def configure_output(verbose: bool) -> None:
    """Quiet by default: Dagster's beta/preview warnings (22 lines on every import of the
    definitions) and its DEBUG event lines only with ``-v``."""
    global _VERBOSE
    _VERBOSE = verbose
    if verbose:
        os.environ.pop(QUIET_ENV, None)
        return
    # run workers started by the multiprocess executor are new interpreters: they read this
    os.environ[QUIET_ENV] = "1"
    quiet_process()


def quiet_process() -> None:
    """What ``configure_output(False)`` does, for a run worker the multiprocess executor started
    (it logs STEP_WORKER_STARTED at DEBUG on the ``dagster`` logger before any run logger)."""
    quiet_warnings()
    logging.getLogger("dagster").setLevel(logging.ERROR)
    # urllib3's Retry logs "Retrying (...) after connection broken by ..." at WARNING beside
    # the client's own retry lines; the one-line summary says what failed
    logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


def quiet_warnings() -> None:
    """Ignore Dagster's beta/preview/deprecation warnings (matched by message, so that commands
    which never load Dagster do not pay for importing it)."""
    warnings.filterwarnings("ignore", message=r".*is currently in (beta|preview)")
    warnings.filterwarnings(
        "ignore", message=r".*(has been|is) (deprecated|superseded)", module=r"dagster"
    )


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
