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

The package, by concern: ``schema`` (DDL, raw tables, ``ensure_schema``), ``locks`` (writer
and write-intent locks), ``connection`` (``reader``, ``open_for_write``, ``writer``),
``errors`` (``WarehouseWriteError``, ``in_transaction``) and ``writes`` (partition, load and
table writes). Every name is re-exported here: ``from pipelines.lib import warehouse`` and
``warehouse.writer(...)`` keep working.
"""

from __future__ import annotations

from pipelines.lib.warehouse.connection import (
    _connect,
    connect_retrying,
    duckdb_settings,
    open_for_write,
    reader,
    writer,
)
from pipelines.lib.warehouse.errors import (
    WRITE_WAIT_SECONDS,
    WarehouseWriteError,
    in_transaction,
    rollback,
    write_error,
    write_wait_seconds,
)
from pipelines.lib.warehouse.locks import write_intent, writer_lock
from pipelines.lib.warehouse.schema import (
    FAMILY_SCHEMAS,
    LOAD_LOG_DDL,
    OFFER_SCHEMA,
    QUARANTINE_SCHEMA,
    RAW_TABLES,
    ddl_for,
    ensure_schema,
)
from pipelines.lib.warehouse.writes import (
    load_market_day,
    load_source_day,
    record_failure,
    record_load,
    replace_partition,
    replace_table,
)

__all__ = [
    "FAMILY_SCHEMAS",
    "LOAD_LOG_DDL",
    "OFFER_SCHEMA",
    "QUARANTINE_SCHEMA",
    "RAW_TABLES",
    "WRITE_WAIT_SECONDS",
    "WarehouseWriteError",
    "_connect",
    "connect_retrying",
    "ddl_for",
    "duckdb_settings",
    "ensure_schema",
    "in_transaction",
    "load_market_day",
    "load_source_day",
    "open_for_write",
    "reader",
    "record_failure",
    "record_load",
    "replace_partition",
    "replace_table",
    "rollback",
    "write_error",
    "write_intent",
    "write_wait_seconds",
    "writer",
    "writer_lock",
]
