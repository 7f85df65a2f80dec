"""The DuckDB warehouse: schemas, raw tables, idempotent partition writes, locking.

DuckDB lets one process open a file read-write, or any number read-only, never both. So:

* writers go through ``writer()``: an exclusive advisory lock on ``<file>.lock`` serialises
  them across processes (a second writer waits instead of failing), and the DuckDB
  connection is held only for the write itself;
* readers use ``reader()``: a read-only connection, retried for a while if a writer holds
  the file at that moment;
* readers give way to a writer: from the moment a writer wants the file until it has closed
  it, it holds ``<file>.write-intent`` and new readers wait (readers already in finish their
  query). Without it, overlapping queries (a few processes looping over ``gpu-tracker sql``)
  keep the file busy and the writer, which needs it to itself, waits indefinitely.

Raw tables are one per source family, partitioned by (source, date). ``replace_partition``
deletes a partition and inserts its new rows in one transaction: a re-run never duplicates
and a failure half-way leaves the previous rows in place.

A write that cannot be made raises ``WarehouseWriteError`` with one line that says why: the
disk is full (DuckDB's ``No space left on device`` at COMMIT, after which its ROLLBACK fails
with ``cannot rollback - no transaction is active`` and used to hide the cause), the file or
its folder is read-only, or another process kept the file open past the wait (a reader that
does not let go). Nothing of that write is committed; the previous rows stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import fcntl
import logging
import os
import re
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib import lake
from pipelines.lib.families import FAMILY_SCHEMAS
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA

log = logging.getLogger(__name__)

_DUCK_TYPES = {
    pl.Date: "DATE",
    pl.Utf8: "VARCHAR",
    pl.Boolean: "BOOLEAN",
    pl.Int32: "INTEGER",
    pl.Int64: "BIGINT",
    pl.Float64: "DOUBLE",
}


def _duck_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ" if dtype.time_zone else "TIMESTAMP"
    for pl_type, duck in _DUCK_TYPES.items():
        if dtype == pl_type:
            return duck
    raise TypeError(f"no DuckDB type for {dtype}")


def ddl_for(table: str, schema: dict[str, pl.DataType]) -> str:
    cols = ",\n  ".join(f"{name} {_duck_type(t)}" for name, t in schema.items())
    return f"CREATE TABLE IF NOT EXISTS {table} (\n  {cols}\n)"


LOAD_LOG_DDL = """
CREATE TABLE IF NOT EXISTS raw.load_log (
  source VARCHAR,
  date DATE,
  status VARCHAR,            -- ok | empty | failed
  rows_loaded INTEGER,
  rows_quarantined INTEGER,
  payloads VARCHAR,          -- comma-separated payload names
  error VARCHAR,
  mode VARCHAR,              -- live | archive | import
  loaded_at TIMESTAMPTZ
)"""

# Raw tables: name -> polars schema. Other families (model releases, API prices, financials)
# register theirs here as they are added.
RAW_TABLES: dict[str, dict[str, pl.DataType]] = {
    "raw.gpu_offers": OFFER_SCHEMA,
    "raw.quarantine": QUARANTINE_SCHEMA,
    **FAMILY_SCHEMAS,  # raw.model_catalog, raw.api_prices, raw.sec_facts
}


def ensure_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create schemas and raw tables if missing (idempotent). On a lake, in one transaction
    retried on a commit conflict (writers starting at once on a new lake all create them)."""

    def create() -> None:
        for schema in ("raw", "staging", "intermediate", "marts"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        for table, schema in RAW_TABLES.items():
            con.execute(ddl_for(table, schema))
        con.execute(LOAD_LOG_DDL)

    if lake.is_lake_connection(con):
        in_transaction(con, create, what="creating the raw schema")
    else:
        create()


@contextlib.contextmanager
def writer_lock(db_path: Path, timeout_seconds: float = 600) -> Iterator[None]:
    """Exclusive cross-process lock for warehouse writers (waits up to ``timeout_seconds``)."""
    db_path = Path(db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = db_path.with_name(db_path.name + ".lock")
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"another writer holds {lock_path} for > {timeout_seconds}s"
                    ) from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _intent_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".write-intent")


@contextlib.contextmanager
def write_intent(db_path: Path) -> Iterator[None]:
    """Held (exclusively) by a writer while it waits for the file and writes: readers that
    arrive meanwhile wait for it to finish instead of keeping the file busy. Take it inside
    ``writer_lock`` (writers are serialised there, so it is always free to take)."""
    db_path = Path(db_path)
    with open(_intent_path(db_path), "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _wait_for_writer(db_path: Path, deadline: float) -> None:
    """Give way to a writer that wants or holds the file (until ``deadline`` at most)."""
    try:
        with open(_intent_path(db_path)) as fh:
            while True:
                try:
                    fcntl.flock(
                        fh, fcntl.LOCK_SH | fcntl.LOCK_NB
                    )  # free: no writer waiting or writing
                    fcntl.flock(
                        fh, fcntl.LOCK_UN
                    )  # never held while reading: readers don't block writers
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return  # the connect below reports DuckDB's own lock error
                    time.sleep(0.02)
    except (
        OSError
    ):  # no writer ever ran here (or the file is not ours to read): nothing to wait for
        return


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


class WarehouseWriteError(RuntimeError):
    """A warehouse write that could not be made, said in one line (disk full, read-only file
    or folder, the file held by another process); nothing of it was committed."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind  # disk_full | read_only | busy | conflict


WRITE_WAIT_SECONDS = 60  # how long a writer waits for other processes to let go of the file


def write_wait_seconds() -> float:
    """``GPU_TRACKER_WRITE_WAIT_SECONDS`` or ``WRITE_WAIT_SECONDS``: how long a writer waits
    for readers (other processes) to close the file before it gives up."""
    value = os.environ.get("GPU_TRACKER_WRITE_WAIT_SECONDS", "").strip()
    try:
        return float(value) if value else float(WRITE_WAIT_SECONDS)
    except ValueError:
        raise ValueError(f"GPU_TRACKER_WRITE_WAIT_SECONDS={value!r} is not a number") from None


def write_error(db_path: Path, exc: BaseException) -> WarehouseWriteError | None:
    """The one-line error for a failed write, or None when ``exc`` is not one we can name."""
    text = " ".join(str(exc).split())
    code = getattr(exc, "errno", None)
    if (
        code in (errno.ENOSPC, errno.EDQUOT)
        or "No space left on device" in text
        or "Disk quota exceeded" in text
    ):
        return WarehouseWriteError(
            f"warehouse {db_path}: disk full (No space left on device); nothing was written, the "
            "previous rows are kept -- free space and re-run",
            "disk_full",
        )
    if code == errno.EFBIG or "File too large" in text:
        return WarehouseWriteError(
            f"warehouse {db_path}: file size limit reached (File too large); nothing was written, "
            "the previous rows are kept",
            "disk_full",
        )
    if (
        code in (errno.EROFS, errno.EACCES, errno.EPERM)
        or "Read-only file system" in text
        or "Permission denied" in text
    ):
        where = getattr(exc, "filename", None) or db_path
        why = (
            "read-only file system"
            if code == errno.EROFS or "Read-only" in text
            else "permission denied"
        )
        return WarehouseWriteError(
            f"warehouse {db_path}: not writable ({where}: {why}); nothing was written", "read_only"
        )
    if isinstance(exc, duckdb.IOException) and "lock" in text.lower():
        pid = re.search(r"PID (\d+)", text)
        return WarehouseWriteError(
            f"warehouse {db_path}: another process"
            + (f" (PID {pid.group(1)})" if pid else "")
            + f" kept the file open for more than {write_wait_seconds():g}s (a reader that does not "
            "close it?); nothing was written -- close it and re-run",
            "busy",
        )
    return None


def rollback(con: duckdb.DuckDBPyConnection) -> None:
    """ROLLBACK if a transaction is still open. After a failed COMMIT (disk full) DuckDB has
    already rolled back and a second ROLLBACK raises "no transaction is active", which would
    replace the real error."""
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK")


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
def _file_locks(db_path: Path) -> Iterator[None]:
    with writer_lock(db_path), write_intent(db_path):
        yield


def in_transaction(con: duckdb.DuckDBPyConnection, body, *, what: str) -> None:
    """Run ``body()`` between BEGIN and COMMIT. On a lake, a commit that loses a race with
    another writer (DuckLake's optimistic concurrency) is rolled back and the whole body run
    again, up to ``lake.COMMIT_ATTEMPTS`` times with a jittered pause; then one
    ``WarehouseWriteError`` (kind ``conflict``). Either way nothing of a failed attempt is
    committed. On the file backend writers are serialised by the lock: one attempt."""
    attempts = lake.COMMIT_ATTEMPTS if lake.is_lake_connection(con) else 1
    for attempt in range(1, attempts + 1):
        con.execute("BEGIN TRANSACTION")
        try:
            body()
            con.execute("COMMIT")
            return
        except BaseException as exc:
            rollback(con)
            if attempts == 1 or not lake.is_conflict(exc):
                raise
            if attempt == attempts:
                raise WarehouseWriteError(
                    f"warehouse lake: {what} lost {attempts} commit races in a row to other "
                    f"writers ({' '.join(str(exc).split())[:200]}); nothing was written -- "
                    "re-run",
                    "conflict",
                ) from exc
            log.info(
                "lake commit conflict while %s (attempt %d of %d), retrying",
                what,
                attempt,
                attempts,
            )
            lake.sleep_before_retry(attempt)


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


def replace_partition(
    con: duckdb.DuckDBPyConnection,
    table: str,
    frame: pl.DataFrame,
    *,
    source: str,
    dates: Sequence[dt.date],
    own_transaction: bool = True,
) -> int:
    """Replace the rows of ``table`` for ``source`` on ``dates`` with ``frame``, atomically
    (in its own transaction, or in the caller's when ``own_transaction`` is False).

    Rows of ``frame`` outside (source, dates) are an error: a partition write never touches
    another partition."""
    if frame.height:
        bad = frame.filter((pl.col("source") != source) | ~pl.col("date").is_in(list(dates)))
        if bad.height:
            raise ValueError(f"{bad.height} rows outside partition {source} {list(dates)[:3]}...")
    columns = list(RAW_TABLES[table]) if table in RAW_TABLES else frame.columns
    frame = frame.select(columns)

    def body() -> None:
        con.execute(
            f"DELETE FROM {table} WHERE source = ? AND date IN (SELECT unnest(?::DATE[]))",
            [source, list(dates)],
        )
        if frame.height:
            con.register("_incoming", frame.to_arrow())
            con.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT {', '.join(columns)} FROM _incoming"
            )
            con.unregister("_incoming")

    if own_transaction:
        in_transaction(con, body, what=f"replacing {table} {source} {list(dates)[:1]}")
    else:
        body()
    return frame.height


def record_load(
    con: duckdb.DuckDBPyConnection,
    *,
    source: str,
    day: dt.date,
    status: str,
    rows_loaded: int,
    rows_quarantined: int,
    payloads: Sequence[str],
    error: str | None,
    mode: str,
) -> None:
    """Append one line to raw.load_log (the history of every load attempt)."""
    con.execute(
        "INSERT INTO raw.load_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            source,
            day,
            status,
            rows_loaded,
            rows_quarantined,
            ",".join(payloads),
            error,
            mode,
            dt.datetime.now(dt.UTC),
        ],
    )


def load_source_day(
    db_path: Path,
    *,
    source: str,
    days: Sequence[dt.date],
    offers: pl.DataFrame,
    quarantine: pl.DataFrame,
    payloads: Sequence[str],
    mode: str,
    status: str | None = None,
    error: str | None = None,
) -> None:
    """Write one source's offers + quarantine for some dates, and log the load, in ONE
    transaction: a crash or error leaves the previous rows of those dates untouched."""

    def body() -> None:
        replace_partition(
            con, "raw.gpu_offers", offers, source=source, dates=days, own_transaction=False
        )
        replace_partition(
            con, "raw.quarantine", quarantine, source=source, dates=days, own_transaction=False
        )
        n_off = dict(offers.group_by("date").len().iter_rows()) if offers.height else {}
        n_q = dict(quarantine.group_by("date").len().iter_rows()) if quarantine.height else {}
        for day in days:
            record_load(
                con,
                source=source,
                day=day,
                status=status or ("ok" if n_off.get(day) else "empty"),
                rows_loaded=n_off.get(day, 0),
                rows_quarantined=n_q.get(day, 0),
                payloads=payloads,
                error=error,
                mode=mode,
            )

    with writer(db_path) as con:
        in_transaction(con, body, what=f"loading {source} {list(days)[:1]}")


def load_market_day(
    db_path: Path,
    *,
    source: str,
    days: Sequence[dt.date],
    tables: dict[str, pl.DataFrame],
    quarantine: pl.DataFrame,
    payloads: Sequence[str],
    mode: str,
    status: str | None = None,
    error: str | None = None,
) -> None:
    """``load_source_day`` for the market families: replace the source's rows for ``days`` in
    every family table (a table it wrote before but not now ends up empty for those days),
    the quarantine rows and the load-log line, in ONE transaction."""
    unknown = set(tables) - set(FAMILY_SCHEMAS)
    if unknown:
        raise ValueError(f"{source}: no raw table(s) {sorted(unknown)}")

    def body() -> None:
        rows_by_day: dict[dt.date, int] = {}
        for table, schema in FAMILY_SCHEMAS.items():
            frame = tables.get(table, pl.DataFrame(schema=schema))
            replace_partition(con, table, frame, source=source, dates=days, own_transaction=False)
            if frame.height:
                for day, n in frame.group_by("date").len().iter_rows():
                    rows_by_day[day] = rows_by_day.get(day, 0) + n
        replace_partition(
            con, "raw.quarantine", quarantine, source=source, dates=days, own_transaction=False
        )
        n_q = dict(quarantine.group_by("date").len().iter_rows()) if quarantine.height else {}
        for day in days:
            record_load(
                con,
                source=source,
                day=day,
                status=status or ("ok" if rows_by_day.get(day) else "empty"),
                rows_loaded=rows_by_day.get(day, 0),
                rows_quarantined=n_q.get(day, 0),
                payloads=payloads,
                error=error,
                mode=mode,
            )

    with writer(db_path) as con:
        in_transaction(con, body, what=f"loading {source} {list(days)[:1]}")


def record_failure(
    db_path: Path,
    *,
    source: str,
    day: dt.date,
    quarantine: pl.DataFrame,
    payloads: Sequence[str],
    mode: str,
    error: str,
) -> None:
    """A failed load of (source, day): log it and keep its quarantined payloads, but leave the
    rows a previous good load stored for that date untouched -- a failed re-run never deletes
    data. Quarantine rows of the same payload names are replaced (no duplicates on retries)."""

    def body() -> None:
        names = sorted(set(quarantine["payload_name"].to_list())) if quarantine.height else []
        if names:
            con.execute(
                "DELETE FROM raw.quarantine WHERE source = ? AND date = ? AND payload_name IN "
                "(SELECT unnest(?::VARCHAR[]))",
                [source, day, names],
            )
            cols = list(QUARANTINE_SCHEMA)
            con.register("_failed_q", quarantine.select(cols).to_arrow())
            con.execute(
                f"INSERT INTO raw.quarantine ({', '.join(cols)}) SELECT {', '.join(cols)} FROM _failed_q"
            )
            con.unregister("_failed_q")
        record_load(
            con,
            source=source,
            day=day,
            status="failed",
            rows_loaded=0,
            rows_quarantined=quarantine.height,
            payloads=payloads,
            error=error,
            mode=mode,
        )

    with writer(db_path) as con:
        in_transaction(con, body, what=f"recording the failed load of {source} {day}")


def replace_table(con: duckdb.DuckDBPyConnection, table: str, frame: pl.DataFrame) -> int:
    """Replace a whole derived table (a polars-computed mart) with ``frame`` in one transaction:
    readers see the old table or the new one, never a half-written one."""
    schema = table.split(".")[0]

    def body() -> None:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.register("_mart_frame", frame.to_arrow())
        con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT * FROM _mart_frame")
        con.unregister("_mart_frame")

    in_transaction(con, body, what=f"replacing {table}")
    return frame.height
