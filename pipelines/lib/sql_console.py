"""The sandbox behind ``gpu-tracker sql``: one read-only query against the warehouse, which
can change no file, runs for a bounded time in bounded memory, and prints valid output.

Read-only by construction, in two independent layers (either one alone refuses every write
we know of; ``tests/unit/test_sql_console.py`` attacks each one separately):

1. **The statement.** DuckDB's own parser (``duckdb.extract_statements``) must see exactly
   one statement of type SELECT (which covers WITH ... SELECT, UNION/EXCEPT/INTERSECT,
   FROM-first queries, VALUES, DESCRIBE, SHOW, SUMMARIZE and ``PRAGMA version``-style
   read forms, all of which DuckDB rewrites into SELECTs), or an EXPLAIN [ANALYZE] of one.
   COPY, EXPORT, ATTACH/DETACH, INSTALL/LOAD, SET/RESET/USE, PRAGMA assignments, CALL
   (``checkpoint`` is one), CREATE/INSERT/UPDATE/DELETE/MERGE, PREPARE/EXECUTE,
   transactions and several statements at once are refused before anything runs.
2. **The connection.** The file is opened read-only, then external access is switched off,
   DuckDB's local file system is disabled and the configuration is locked. Switching
   external access off is not enough on its own: DuckDB keeps the database's own paths
   (``<db>``, ``<db>.wal``, ``.wal.recovery``, ``.wal.checkpoint``) in ``allowed_paths`` and
   a ``COPY ... TO '<db>'`` replaced the warehouse with an 8-byte CSV (issue #10), and
   ``read_blob('<db>')`` handed out the file. With ``disabled_filesystems =
   'LocalFileSystem'`` no path can be opened for reading or writing by any statement; the
   database's blocks are still read through the handle opened at connect time.

   The price: the console never spills to disk (``temp_directory`` is empty). A query that
   needs more than the memory limit fails with a one-line message naming the limit instead
   of writing ``<db>.tmp``.

Bounds:

* a wall-clock statement timeout (DuckDB has none of its own): a timer thread calls
  ``con.interrupt()``; ``GPU_TRACKER_SQL_TIMEOUT_SECONDS`` or ``--timeout``, default 60 s;
* a memory cap by default: ``memory_limit`` is 2GB unless ``GPU_TRACKER_DUCKDB_MEMORY_LIMIT``
  says otherwise (an unbounded cross join reached 5.4 GB in 25 s).

Output: column types that CSV or JSON cannot carry are converted in DuckDB before the result
is fetched, so every format gets the same text: INTERVAL, BLOB, BIT, TIME WITH TIME ZONE,
ENUM and any other type outside the plain scalar set become DuckDB's own text form
(``1 month 2 days``); LIST, STRUCT, MAP, ARRAY and UNION values become JSON text in CSV
and table output and nested JSON values in JSON output. In ``--format json`` NaN, Infinity
and -Infinity (which JSON cannot represent) are written as ``null``, and DECIMAL/HUGEINT values
as JSON numbers (exact when integral; otherwise a double, ~15 significant digits).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from pipelines.lib import lake, warehouse

DEFAULT_TIMEOUT_SECONDS = 60.0
DEFAULT_MEMORY_LIMIT = "2GB"
TIMEOUT_ENV = "GPU_TRACKER_SQL_TIMEOUT_SECONDS"
MEMORY_ENV = "GPU_TRACKER_DUCKDB_MEMORY_LIMIT"

# DuckDB statement types that are a read-only query. Everything else is refused.
_READ_TYPES = {duckdb.StatementType.SELECT}
_EXPLAIN_PREFIX = re.compile(r"^\s*explain\s+(?:analy[sz]e\s+)?", re.IGNORECASE)

# types polars fetches and CSV/JSON carry faithfully; everything else is cast to VARCHAR
# (interval: polars cannot import it; timetz: polars drops the offset; blob/bit: not text)
_PLAIN_TYPES = {
    "boolean",
    "tinyint",
    "smallint",
    "integer",
    "bigint",
    "hugeint",
    "utinyint",
    "usmallint",
    "uinteger",
    "ubigint",
    "uhugeint",
    "float",
    "double",
    "decimal",
    "varchar",
    "date",
    "time",
    "timestamp",
    "timestamp_s",
    "timestamp_ms",
    "timestamp_ns",
    "timestamp with time zone",
    "uuid",
    "null",
}
_NESTED_TYPES = {"list", "struct", "map", "array", "union"}
_CONVERSION_ERRORS = (pl.exceptions.PolarsError, ValueError, TypeError, OverflowError)


class SqlConsoleError(Exception):
    """A refused, failed, timed-out or unanswerable query; the message is one line."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def check_read_only(query: str) -> None:
    """Raise ``SqlConsoleError`` unless ``query`` is exactly one read-only query."""
    try:
        statements = duckdb.extract_statements(query)
    except duckdb.Error as exc:
        raise SqlConsoleError(f"query failed: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise SqlConsoleError(
            f"refused: {len(statements)} statements; gpu-tracker sql runs exactly one read-only query"
        )
    statement = statements[0]
    kind = statement.type
    if kind == duckdb.StatementType.EXPLAIN:
        # EXPLAIN ANALYZE runs its statement: the explained statement must itself be a query
        match = _EXPLAIN_PREFIX.match(statement.query)
        inner = statement.query[match.end() :] if match else ""
        try:
            inner_statements = duckdb.extract_statements(inner) if inner.strip() else []
        except duckdb.Error:
            inner_statements = []
        if len(inner_statements) == 1 and inner_statements[0].type in _READ_TYPES:
            return
        raise SqlConsoleError("refused: EXPLAIN of something other than one read-only query")
    if kind not in _READ_TYPES:
        raise SqlConsoleError(
            f"refused: {kind.name} statement; gpu-tracker sql runs only read-only queries "
            "(SELECT, WITH, DESCRIBE, SHOW, SUMMARIZE, EXPLAIN)"
        )


def timeout_seconds(value: float | None = None) -> float:
    """The statement timeout: ``value`` (the --timeout flag), else the environment, else 60 s."""
    if value is None:
        raw = os.environ.get(TIMEOUT_ENV, "").strip()
        if not raw:
            return DEFAULT_TIMEOUT_SECONDS
        try:
            value = float(raw)
        except ValueError:
            raise SqlConsoleError(f"{TIMEOUT_ENV}={raw!r} is not a number of seconds") from None
    if not (math.isfinite(value) and value > 0):
        raise SqlConsoleError(
            f"statement timeout must be a positive number of seconds, not {value}"
        )
    return value


def memory_limit() -> str:
    """``GPU_TRACKER_DUCKDB_MEMORY_LIMIT`` if set, else 2GB (DuckDB's own default is 80% of RAM)."""
    return os.environ.get(MEMORY_ENV, "").strip() or DEFAULT_MEMORY_LIMIT


def sandbox(con: duckdb.DuckDBPyConnection, limit: str | None = None) -> None:
    """Lock a freshly opened read-only connection down: no file system, no extensions, a
    memory cap, and a locked configuration (no statement can undo any of it)."""
    limit = limit or memory_limit()
    try:
        con.execute(f"SET memory_limit = '{limit.replace(chr(39), '')}'")
    except duckdb.Error as exc:
        raise SqlConsoleError(
            f"bad memory limit {limit!r} ({MEMORY_ENV}): {_first_line(exc)}"
        ) from None
    # a DuckLake warehouse may read its data path (and a local one needs the local file system)
    lake_settings, keep_local_fs = lake.sandbox_settings(con)
    for setting in lake_settings:
        con.execute(setting)
    for setting in (
        "SET temp_directory = ''",  # never spill: past the memory limit a query fails (OOM)
        "SET enable_external_access = false",
        "SET autoinstall_known_extensions = false",
        "SET autoload_known_extensions = false",
        # the database's own paths stay in allowed_paths with external access off: disable
        # the local file system itself, so not even those can be opened by a statement
        "SET disabled_filesystems = 'LocalFileSystem'",
        "SET lock_configuration = true",
    ):
        if keep_local_fs and "disabled_filesystems" in setting:
            continue
        con.execute(setting)


@contextlib.contextmanager
def open_sandboxed(db_path: Path, wait_seconds: float = 60) -> Iterator[duckdb.DuckDBPyConnection]:
    """``warehouse.reader`` (read-only, gives way to writers) + ``sandbox``; errors opening the
    file become one line: missing, busy (a writer kept it past the wait), or corrupt."""
    db_path = Path(db_path)
    with contextlib.ExitStack() as stack:
        try:
            con = stack.enter_context(warehouse.reader(db_path, wait_seconds=wait_seconds))
        except FileNotFoundError as exc:
            raise SqlConsoleError(str(exc)) from None
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():  # the file stayed busy past the wait
                raise SqlConsoleError(
                    f"warehouse {db_path} is busy, try again: {_first_line(exc)}"
                ) from None
            raise SqlConsoleError(
                f"warehouse {db_path} is corrupt or not a DuckDB file: {_first_line(exc)}"
            ) from None
        except duckdb.Error as exc:  # e.g. a damaged catalog or WAL found while opening
            raise SqlConsoleError(
                f"warehouse {db_path} is corrupt or not a DuckDB file: {_first_line(exc)}"
            ) from None
        except OSError as exc:
            raise SqlConsoleError(f"warehouse {db_path} cannot be opened: {exc}") from None
        sandbox(con)
        yield con


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _output_projection(rel: duckdb.DuckDBPyRelation) -> tuple[str | None, set[int]]:
    """A projection converting the columns polars/CSV/JSON cannot carry (None: nothing to
    convert), and the positions of nested columns (JSON text after the projection)."""
    exprs, nested, changed = [], set(), False
    for i, (name, dtype) in enumerate(zip(rel.columns, rel.types, strict=True)):
        ref = f"#{i + 1}"  # positional: result column names may repeat
        kind = dtype.id
        if kind in _NESTED_TYPES:
            exprs.append(f"CAST(to_json({ref}) AS VARCHAR) AS {_quote(name)}")
            nested.add(i)
            changed = True
        elif kind not in _PLAIN_TYPES:
            exprs.append(f"CAST({ref} AS VARCHAR) AS {_quote(name)}")
            changed = True
        else:
            exprs.append(f"{ref} AS {_quote(name)}")
    return (", ".join(exprs) if changed else None), nested


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # NaN / Infinity are not JSON
    if isinstance(value, Decimal):  # DECIMAL / HUGEINT: a JSON number, exact when integral
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    return value


def _nested_json(text: str | None) -> Any:
    # DuckDB's to_json writes NaN/Infinity bare; parse them as None
    return None if text is None else json.loads(text, parse_constant=lambda _c: None)


def render(frame, fmt: str, nested: set[int], max_rows: int = 50) -> str:
    """The result as text in ``fmt`` (table | csv | json); always valid CSV / JSON."""
    if fmt == "csv":
        return frame.write_csv()
    if fmt == "json":
        names = frame.columns
        rows = []
        for row in frame.iter_rows():
            rows.append(
                {
                    names[i]: _nested_json(v) if i in nested else _json_value(v)
                    for i, v in enumerate(row)
                }
            )
        return json.dumps(rows, default=str, indent=1, allow_nan=False) + "\n"
    with pl.Config(
        tbl_rows=max_rows,
        tbl_cols=-1,
        tbl_width_chars=200,
        tbl_hide_dataframe_shape=True,
        tbl_formatting="ASCII_MARKDOWN",
        tbl_hide_column_data_types=True,
    ):
        return str(frame) + "\n"


def run_query(
    db_path: Path,
    query: str,
    fmt: str = "table",
    *,
    max_rows: int = 50,
    timeout: float | None = None,
) -> str:
    """Run one read-only ``query`` in the sandbox; returns the output text. Every failure is a
    ``SqlConsoleError`` with a one-line message."""
    if fmt not in ("table", "csv", "json"):
        raise SqlConsoleError(f"unknown format {fmt!r} (table, csv, json)")
    seconds = timeout_seconds(timeout)
    check_read_only(query)  # before the file is even opened
    with open_sandboxed(db_path) as con:
        timed_out = threading.Event()

        def _interrupt() -> None:
            timed_out.set()
            con.interrupt()

        timer = threading.Timer(seconds, _interrupt)
        timer.daemon = True
        timer.start()
        try:
            rel = con.sql(query)
            if rel is None:  # cannot happen for a SELECT; nothing to print if it does
                return ""
            projection, nested = _output_projection(rel)
            if projection is not None:
                rel = rel.project(projection)
            frame = rel.pl()  # errors can also surface while the result is fetched
        except duckdb.Error as exc:  # every DuckDB error type; report it as one line
            if timed_out.is_set() or isinstance(exc, duckdb.InterruptException):
                raise SqlConsoleError(
                    f"query timed out after {seconds:g} s (--timeout / {TIMEOUT_ENV})"
                ) from None
            message = _first_line(exc)
            if "LocalFileSystem has been disabled" in message:
                raise SqlConsoleError(
                    "refused: gpu-tracker sql reads only the warehouse's tables, no files "
                    f"(read_csv, read_blob, glob, extensions ...): {message}"
                ) from None
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise SqlConsoleError(
                    f"query needs more than the memory limit ({memory_limit()}; raise it with "
                    f"{MEMORY_ENV}, gpu-tracker sql never spills to disk): {message}"
                ) from None
            raise SqlConsoleError(f"query failed: {message}") from None
        except _CONVERSION_ERRORS as exc:  # polars conversion of an unusual result
            raise SqlConsoleError(
                f"query result could not be converted: {_first_line(exc)}"
            ) from None
        finally:
            timer.cancel()
    try:
        return render(frame, fmt, nested, max_rows=max_rows)
    except _CONVERSION_ERRORS as exc:
        raise SqlConsoleError(
            f"query result could not be written as {fmt}: {_first_line(exc)}"
        ) from None
