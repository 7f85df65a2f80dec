"""Launching the tracker's Dagster jobs from the command line, safely and quietly.

The CLI parses arguments; everything it needs from Dagster goes through this package:

* ``home``  -- ``ensure_dagster_home()`` / ``get_instance()``: DAGSTER_HOME with the
  ``dagster.yaml`` that limits the ``duckdb_warehouse`` pool to one writer, initialised once
  under a lock; ``file_lock()``; ``configure_output()`` (no DEBUG or BetaWarning lines
  unless ``-v``) and ``progress()`` (stderr lines);
* ``pool``  -- process identity in run tags (``process_tags()``, ``PID_TAG`` ...),
  ``reap_dead_runs()`` (runs whose process died are marked failed and their pool slots
  freed) and the bounded ``wait_for_pool()``;
* ``run``   -- ``run_job()``: one job at a time per DAGSTER_HOME, with a watchdog that prints
  progress and ends a run blocked on the pool in one line; in-process, or for the live
  sources run in several processes (``source_processes()``).

Every name is importable from ``pipelines.launch`` itself. This package, ``pipelines/defs``
and ``pipelines/definitions.py`` are the only places that import dagster (issue #11).
"""

from __future__ import annotations

import socket  # noqa: F401 -- tests name the host as launch.socket.gethostname()

from pipelines.launch.home import (
    DAGSTER_YAML,
    INIT_MARKER,
    INIT_VERSION,
    QUIET_ENV,
    WAREHOUSE_POOL,
    LaunchError,
    configure_output,
    ensure_dagster_home,
    file_lock,
    get_instance,
    pool_wait_seconds,
    progress,
    quiet_process,
    quiet_warnings,
)
from pipelines.launch.pool import (
    HOST_TAG,
    PID_START_TAG,
    PID_TAG,
    STARTED_TAG,
    Holder,
    _process_start,
    holder_state,
    pool_holders,
    process_tags,
    reap_dead_runs,
    wait_for_pool,
)
from pipelines.launch.run import (
    LAUNCH_TAG,
    JobOutcome,
    daily_sources_job,
    multiprocess_config,
    run_job,
    source_processes,
)

__all__ = [
    "DAGSTER_YAML",
    "HOST_TAG",
    "INIT_MARKER",
    "INIT_VERSION",
    "LAUNCH_TAG",
    "PID_START_TAG",
    "PID_TAG",
    "QUIET_ENV",
    "STARTED_TAG",
    "WAREHOUSE_POOL",
    "Holder",
    "JobOutcome",
    "LaunchError",
    "_process_start",
    "configure_output",
    "daily_sources_job",
    "multiprocess_config",
    "ensure_dagster_home",
    "file_lock",
    "get_instance",
    "holder_state",
    "pool_holders",
    "pool_wait_seconds",
    "process_tags",
    "progress",
    "quiet_process",
    "quiet_warnings",
    "reap_dead_runs",
    "run_job",
    "source_processes",
    "wait_for_pool",
]
