"""Opening the warehouse: DuckDB settings from the environment, a file or a DuckLake target,
``reader`` (read-only, waits for a writer) and ``open_for_write`` / ``writer`` (under the
writer locks, held only for the write; failures as one-line ``WarehouseWriteError``)."""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb

from pipelines.lib import lake
from pipelines.lib.warehouse.errors import write_error, write_wait_seconds
from pipelines.lib.warehouse.locks import _file_locks, _wait_for_writer
from pipelines.lib.warehouse.schema import ensure_schema


def duckdb_settings() -> dict[str, str]:
    """DuckDB resource limits from the environment, for every connection the tracker opens:
    ``GPU_TRACKER_DUCKDB_MEMORY_LIMIT`` (e.g. ``4GB``; DuckDB's default is 80% of RAM, and a
    full model build over tens of millions of rows takes what it is given, spilling to
    ``<db>.tmp`` beyond the limit) and ``GPU_TRACKER_DUCKDB_THREADS``."""
    settings = {}
    for key, env in (
        ("memory_limit", "GPU_TRACKER_DUCKDB_MEMORY_LIMIT"),
        ("threads", "GPU_TRACKER_DUCKDB_THREADS"),
    ):
        value = os.environ.get(env, "").strip()
        if value:
            settings[key] = value
    return settings


def _connect(db_path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    # a DuckLake warehouse (GPU_TRACKER_WAREHOUSE=ducklake:...): attached as the default
    # database of an in-memory DuckDB, so the same names resolve (see pipelines.lib.lake)
    target = lake.target_for(db_path)
    if target is not None:
        return lake.connect(target, read_only=read_only, settings=duckdb_settings())
    # DuckDB draws a progress bar on *stdout* for queries over 2 s: it would corrupt
    # `gpu-tracker sql --format csv > file` and fill logs, so it is off for every connection
    con = duckdb.connect(str(db_path), read_only=read_only, config=duckdb_settings())
    con.execute("SET enable_progress_bar = false")
    return con


def connect_retrying(
    db_path: Path, read_only: bool, wait_seconds: float = 60
) -> duckdb.DuckDBPyConnection:
    """Connect, retrying while another process holds the file (DuckDB's own file lock)."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return _connect(db_path, read_only=read_only)
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # readers still in are finishing a query; new ones wait for us


@contextlib.contextmanager
def open_for_write(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-write connection under the writer lock. New readers wait from the moment it
    wants the file until it is closed (``write_intent``); readers already in are waited for.
    For any process that writes the file (loads, model builds, ``python -m dbt_like``,
    backup's checkpoint). Disk full, read-only files and a file held too long by another
    process raise ``WarehouseWriteError`` (one line)."""
    db_path = Path(db_path)
    target = lake.target_for(db_path)
    try:
        # a Postgres-catalog lake has no file to lock: DuckLake's optimistic concurrency lets
        # writers of any process or machine commit at once (conflicts: ``in_transaction``).
        # A DuckDB-catalog lake is one DuckDB file, single-writer like the file backend.
        with (
            contextlib.nullcontext()
            if target is not None and target.postgres
            else _file_locks(db_path)
        ):
            con = connect_retrying(db_path, read_only=False, wait_seconds=write_wait_seconds())
            try:
                yield con
            finally:
                with contextlib.suppress(duckdb.Error):  # a close after a failed write re-raises it
                    con.close()
    except (duckdb.Error, OSError) as exc:
        error = write_error(db_path, exc)
        if error is None:
            raise
        raise error from exc


@contextlib.contextmanager
def writer(db_path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """``open_for_write`` with the tracker's raw schema ensured."""
    with open_for_write(db_path) as con:
        ensure_schema(con)
        yield con


@contextlib.contextmanager
def reader(db_path: Path, wait_seconds: float = 60) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection; waits while a writer wants the file or has it open."""
    db_path = Path(db_path)
    if lake.target_for(db_path) is None and not db_path.exists():  # a lake: checked on ATTACH
        raise FileNotFoundError(
            f"warehouse {db_path} does not exist yet: run `gpu-tracker run` or `gpu-tracker import` first"
        )
    deadline = time.monotonic() + wait_seconds
    while True:
        _wait_for_writer(db_path, deadline)
        try:
            con = _connect(db_path, read_only=True)
            break
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05)  # then wait on the write-intent lock, if a writer holds it
    try:
        yield con
    finally:
        con.close()
