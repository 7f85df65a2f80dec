"""Materialising one SQL model or seed: a view or table replaced in one transaction, or an
incremental model's changed partitions deleted and re-inserted (state in ``_dbt_like``)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dbt_like.model import Model


def _relation_type(con, name: str) -> str | None:
    schema, table = name.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def _on_ducklake(con) -> bool:
    row = con.execute(
        "select type from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return bool(row) and row[0] == "ducklake"


def materialize(con, model: Model) -> int | None:
    """Create or replace one model in one transaction; return its row count (tables)."""
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {model.schema}")
        kind = "view" if model.materialized == "view" else "table"
        existing = _relation_type(con, model.name)
        if existing and existing != kind:
            con.execute(f"drop {existing} {model.name}")
        if model.materialized == "seed":
            path = str(model.path).replace("'", "''")
            types = ""
            if model.column_types:
                pairs = ", ".join(f"'{c}': '{t}'" for c, t in model.column_types.items())
                types = f", types = {{{pairs}}}"
            body = f"select * from read_csv('{path}', header = true, auto_detect = true{types})"
        else:
            body = model.sql
        con.execute(f"create or replace {kind} {model.name} as\n{body}")
        rows = None
        if kind == "table":
            rows = con.execute(f"select count(*) from {model.name}").fetchone()[0]
        con.execute("commit")
        return rows
    except BaseException:
        con.execute("rollback")
        raise


STATE_TABLE = "_dbt_like.incremental_state"


def _literal(value) -> str:
    """A partition value as a SQL literal (a literal, not a parameter: DuckDB pushes
    ``col = <literal>`` down through the model's views to the scan, not ``col = ?``)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return (
            f"TIMESTAMPTZ '{value.isoformat()}'"
            if value.tzinfo
            else f"TIMESTAMP '{value.isoformat()}'"
        )
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def materialize_incremental(
    con, model: Model, lineage: str, full_refresh: bool = False
) -> tuple[int, str]:
    """Build an incremental model in one transaction: in full the first time, when its SQL or
    anything upstream changed (``lineage``), on ``full_refresh``, or when more partitions
    changed than ``full_refresh_above``; otherwise delete and re-insert only the partitions
    loaded since the stored watermark. Returns (rows, what was done)."""
    inc = model.incremental
    assert inc is not None
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {model.schema}")
        con.execute("create schema if not exists _dbt_like")
        # DuckLake has no PRIMARY KEY constraints; the delete-then-insert below keeps one row
        # per model either way
        key = "" if _on_ducklake(con) else " primary key"
        con.execute(
            f"create table if not exists {STATE_TABLE} "
            f"(model varchar{key}, lineage varchar, watermark varchar, built_at timestamptz)"
        )
        existing = _relation_type(con, model.name)
        state = con.execute(
            f"select lineage, watermark from {STATE_TABLE} where model = ?", [model.name]
        ).fetchone()
        new_watermark = con.execute(inc.watermark).fetchone()[0]
        why_full = (
            "full refresh asked"
            if full_refresh
            else "first build"
            if existing != "table" or state is None
            else "its SQL or an upstream model changed"
            if state[0] != lineage
            else "no watermark stored"
            if state[1] is None
            else ""
        )
        changed: list = []
        if not why_full:
            changed = [r[0] for r in con.execute(inc.changed_partitions, [state[1]]).fetchall()]
            if len(changed) > inc.full_refresh_above:
                why_full = f"{len(changed)} partitions changed (> {inc.full_refresh_above})"
        if why_full:
            if existing and existing != "table":
                con.execute(f"drop {existing} {model.name}")
            con.execute(f"create or replace table {model.name} as\n{model.sql}")
            done = f"full build: {why_full}"
        else:
            col = inc.partition_by
            for value in changed:
                cond = f"{col} is null" if value is None else f"{col} = {_literal(value)}"
                con.execute(f"delete from {model.name} where {cond}")
                con.execute(
                    f"insert into {model.name} select * from (\n{model.sql}\n) as m where {cond}"
                )
            done = f"incremental: {len(changed)} {col} partition(s) rebuilt"
        con.execute(f"delete from {STATE_TABLE} where model = ?", [model.name])
        con.execute(
            f"insert into {STATE_TABLE} values (?, ?, ?, now())",
            [model.name, lineage, None if new_watermark is None else str(new_watermark)],
        )
        rows = con.execute(f"select count(*) from {model.name}").fetchone()[0]
        con.execute("commit")
        return rows, done
    except BaseException:
        con.execute("rollback")
        raise
