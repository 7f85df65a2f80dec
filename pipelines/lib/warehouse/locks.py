"""Cross-process locks around the warehouse file: ``writer_lock`` serialises writers,
``write_intent`` makes new readers give way to a writer that wants the file, and
``wait_for_writer`` is the reader's side of it. Advisory ``flock`` locks on files beside
the warehouse (``<file>.lock``, ``<file>.write-intent``)."""

from __future__ import annotations

import contextlib
import fcntl
import time
from collections.abc import Iterator
from pathlib import Path


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
                    # free: no writer waiting or writing
                    fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
                    # never held while reading: readers don't block writers
                    fcntl.flock(fh, fcntl.LOCK_UN)
                    return
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        return  # the connect below reports DuckDB's own lock error
                    time.sleep(0.02)
    except OSError:
        # no writer ever ran here (or the file is not ours to read): nothing to wait for
        return


@contextlib.contextmanager
def _file_locks(db_path: Path) -> Iterator[None]:
    with writer_lock(db_path), write_intent(db_path):
        yield
