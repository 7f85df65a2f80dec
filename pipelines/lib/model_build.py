"""Building the ``sql/`` project (SQL and Python models) against the tracker's warehouse.

``WarehouseSession`` gives dbt_like the tracker's own connections: SQL models build on a
writer (``warehouse.writer``: the writer lock, waiting for readers to leave); Python models
read their inputs through ``warehouse.reader``, compute with no connection held and replace
their table with ``warehouse.replace_table`` in one short writer transaction (retried on a
DuckLake commit conflict). So the writer lock wraps writes only, never polars compute.

``build_models`` is what the Dagster asset and ``python -m dbt_like`` call.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from dbt_like import Project
from pipelines.lib import warehouse
from pipelines.lib.config import REPO_ROOT

SQL_DIR = REPO_ROOT / "sql"


class WarehouseSession:
    """dbt_like's ``Session`` over the tracker warehouse at ``db_path`` (a file or a lake).

    ``ensure_schema``: writers create the raw schema first (``warehouse.writer``), as every
    tracker writer does; ``python -m dbt_like`` on a foreign file passes False."""

    def __init__(self, db_path: Path, ensure_schema: bool = True):
        self.db_path = Path(db_path)
        self.ensure_schema = ensure_schema

    @contextlib.contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        opener = warehouse.writer if self.ensure_schema else warehouse.open_for_write
        with opener(self.db_path) as con:
            yield con

    @contextlib.contextmanager
    def reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        with warehouse.reader(self.db_path) as con:
            yield con

    def replace_table(self, con: duckdb.DuckDBPyConnection, name: str, frame: pl.DataFrame) -> None:
        warehouse.replace_table(con, name, frame)


@functools.cache
def project(sql_dir: Path = SQL_DIR) -> Project:
    """The loaded project (cached: the code location and the report read it many times)."""
    return Project.load(sql_dir)


def build_models(
    db_path: Path,
    select: list[str] | None = None,
    *,
    config: dict[str, Any] | None = None,
    full_refresh: bool = False,
    run_id: str = "",
    log: Any = None,
    sql_dir: Path = SQL_DIR,
):
    """Build the selected models (all by default) with their tests; returns the BuildResult.

    ``config`` is the tracker config's data (``[economics]``, ``[api_families]``,
    ``[serving]`` ... as Python models read them)."""
    return project(sql_dir).build(
        WarehouseSession(db_path),
        select=select,
        full_refresh=full_refresh,
        config=config,
        run_id=run_id,
        log=log,
    )
