"""Where a build gets its connections: one given connection, or short-lived readers and writers.

``ConnectionSession(con)`` uses one DuckDB connection for everything (tests, scripts). An
application with its own locking (the tracker's writer lock, see
``pipelines.lib.model_build``) passes an object with the same three methods:

* ``writing()``  -- context manager yielding a read-write connection (SQL models, writes);
* ``reading()``  -- context manager yielding a connection to read inputs;
* ``replace_table(con, name, frame)`` -- replace a table with a polars frame atomically.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, Protocol


class Session(Protocol):
    def writing(self) -> contextlib.AbstractContextManager[Any]: ...

    def reading(self) -> contextlib.AbstractContextManager[Any]: ...

    def replace_table(self, con: Any, name: str, frame: Any) -> None: ...


def replace_table(con: Any, name: str, frame: Any) -> None:
    """``CREATE OR REPLACE TABLE name AS <frame>`` in one transaction."""
    schema = name.split(".")[0]
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {schema}")
        con.register("_dbt_like_frame", frame.to_arrow())
        con.execute(f"create or replace table {name} as select * from _dbt_like_frame")
        con.unregister("_dbt_like_frame")
        con.execute("commit")
    except BaseException:
        con.execute("rollback")
        raise


class ConnectionSession:
    """Every read and write on one connection that stays open (the caller closes it)."""

    def __init__(self, con: Any):
        self.con = con

    @contextlib.contextmanager
    def writing(self) -> Iterator[Any]:
        yield self.con

    @contextlib.contextmanager
    def reading(self) -> Iterator[Any]:
        yield self.con

    def replace_table(self, con: Any, name: str, frame: Any) -> None:
        replace_table(con, name, frame)


def as_session(con_or_session: Any) -> Session:
    """A session for ``con_or_session``: itself if it has ``writing``, else one connection."""
    if hasattr(con_or_session, "writing") and hasattr(con_or_session, "reading"):
        return con_or_session
    return ConnectionSession(con_or_session)
