"""Writes that fail, and transactions that retry: ``WarehouseWriteError`` (one line saying
why: disk full, read-only, busy, lost commit races), how long a writer waits for readers,
``rollback`` that never hides the real error, and ``in_transaction`` with the DuckLake
commit-conflict retry."""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import re
from pathlib import Path

import duckdb

from pipelines.lib import lake

# the warehouse's messages keep the logger name they had before the package split
log = logging.getLogger("pipelines.lib.warehouse")


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
