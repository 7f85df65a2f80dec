"""Table writes, each in one transaction: replace a (source, dates) partition of a raw table,
load one source's rows and its load-log lines, record a failed load without deleting the
rows a good load stored, and replace a whole derived table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import duckdb
import polars as pl

from pipelines.lib.families import FAMILY_SCHEMAS
from pipelines.lib.offers import QUARANTINE_SCHEMA
from pipelines.lib.warehouse.connection import writer
from pipelines.lib.warehouse.errors import in_transaction
from pipelines.lib.warehouse.schema import RAW_TABLES


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


def _load(
    db_path: Path,
    *,
    source: str,
    days: Sequence[dt.date],
    tables: dict[str, pl.DataFrame],
    quarantine: pl.DataFrame,
    payloads: Sequence[str],
    mode: str,
    status: str | None,
    error: str | None,
) -> None:
    """Replace ``source``'s rows for ``days`` in each of ``tables`` and in the quarantine, and
    log one load per day, in ONE transaction: a crash or error leaves the previous rows of
    those dates untouched. A day's status is ok when any table got rows for it, else empty."""

    def body() -> None:
        rows_by_day: dict[dt.date, int] = {}
        for table, frame in tables.items():
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
    """Write one GPU source's offers + quarantine for some dates, and log the load, in ONE
    transaction: a crash or error leaves the previous rows of those dates untouched."""
    _load(
        db_path,
        source=source,
        days=days,
        tables={"raw.gpu_offers": offers},
        quarantine=quarantine,
        payloads=payloads,
        mode=mode,
        status=status,
        error=error,
    )


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
    _load(
        db_path,
        source=source,
        days=days,
        tables={t: tables.get(t, pl.DataFrame(schema=s)) for t, s in FAMILY_SCHEMAS.items()},
        quarantine=quarantine,
        payloads=payloads,
        mode=mode,
        status=status,
        error=error,
    )


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
