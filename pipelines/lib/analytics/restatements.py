"""Restatements (METHODOLOGY.md section 6): every already published value of the index or the
daily summary that a rebuild changes is appended, old and new, to ``marts.restatements``.

``restatements`` is pure polars; ``write_restating`` is the write of the restated marts'
Python models (``sql/marts/gpu_price_index.py``, ``daily_summary.py``): inside the writer
session it reads the published table, replaces it and appends what changed.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from pipelines.lib.analytics.gpu_index import INDEX_KEYS

RESTATEMENT_SCHEMA: dict[str, pl.DataType] = {
    "restated_at": pl.Datetime("us", "UTC"),
    "methodology_version_old": pl.Utf8,
    "methodology_version_new": pl.Utf8,
    "reason": pl.Utf8,
    "table_name": pl.Utf8,
    "row_key": pl.Utf8,
    "column_name": pl.Utf8,
    "value_old": pl.Utf8,
    "value_new": pl.Utf8,
}
# published marts whose history a rebuild may restate -> (unique key, value columns recorded)
RESTATED_MARTS = {
    "gpu_price_index": (
        INDEX_KEYS,
        ["index_level", "change_1d_pct", "n_providers", "n_providers_matched", "confidence"],
    ),
    "daily_summary": (
        ["date", "gpu_model", "pricing"],
        [
            "market_median",
            "change_1d_like_for_like_pct",
            "change_7d_like_for_like_pct",
            "change_30d_like_for_like_pct",
            "confidence",
        ],
    ),
}
RESTATEMENT_REL_TOL = 1e-9


def restatements(
    old: pl.DataFrame | None,
    new: pl.DataFrame,
    table: str,
    keys: list[str],
    columns: list[str],
    restated_at,
    reason: str,
) -> pl.DataFrame:
    """``marts.restatements`` rows (METHODOLOGY.md section 6): every value of a row already
    published in ``old`` that ``new`` changes (numbers beyond ``RESTATEMENT_REL_TOL``
    relative), and every published row ``new`` no longer has (``column_name = '*'``). Rows
    new in ``new`` (a new day) are not restatements. Values are recorded as text."""
    if old is None or old.height == 0:
        return pl.DataFrame(schema=RESTATEMENT_SCHEMA)
    cols = [c for c in columns if c in old.columns and c in new.columns]
    version = "methodology_version"
    o = old.select(*keys, *cols, *([version] if version in old.columns else []))
    n = new.select(
        *keys, *cols, *([version] if version in new.columns else []), pl.lit(True).alias("_in_new")
    )
    joined = o.join(n, on=keys, how="left", suffix="_new", nulls_equal=True).with_columns(
        pl.struct(keys).struct.json_encode().alias("row_key"),
    )
    present = pl.col("_in_new").fill_null(False)
    parts = []
    removed = joined.filter(~present)
    parts.append(
        removed.select(
            "row_key",
            pl.lit("*").alias("column_name"),
            pl.lit("row").alias("value_old"),
            pl.lit(None, pl.Utf8).alias("value_new"),
            *_versions(removed, version),
        )
    )
    kept = joined.filter(present)
    for c in cols:
        a, b = pl.col(c), pl.col(f"{c}_new")
        if kept.schema[c].is_numeric():
            differs = (a.is_null() != b.is_null()) | (
                (a - b).abs() > RESTATEMENT_REL_TOL * pl.max_horizontal(a.abs(), b.abs())
            )
        else:
            differs = a.cast(pl.Utf8).ne_missing(b.cast(pl.Utf8))
        changed = kept.filter(differs.fill_null(False))
        parts.append(
            changed.select(
                "row_key",
                pl.lit(c).alias("column_name"),
                a.cast(pl.Utf8).alias("value_old"),
                b.cast(pl.Utf8).alias("value_new"),
                *_versions(changed, version),
            )
        )
    out = pl.concat(parts)
    return (
        out.select(
            pl.lit(restated_at).cast(RESTATEMENT_SCHEMA["restated_at"]).alias("restated_at"),
            "methodology_version_old",
            "methodology_version_new",
            pl.lit(reason).alias("reason"),
            pl.lit(table).alias("table_name"),
            "row_key",
            "column_name",
            "value_old",
            "value_new",
        )
        .cast(RESTATEMENT_SCHEMA)
        .sort("table_name", "row_key", "column_name")
    )


def _versions(frame: pl.DataFrame, version: str) -> list[pl.Expr]:
    old = pl.col(version) if version in frame.columns else pl.lit(None, pl.Utf8)
    new = pl.col(f"{version}_new") if f"{version}_new" in frame.columns else pl.lit(None, pl.Utf8)
    return [
        old.cast(pl.Utf8).alias("methodology_version_old"),
        new.cast(pl.Utf8).alias("methodology_version_new"),
    ]


def published(con: Any, relation: str) -> pl.DataFrame | None:
    """The table as published now (before a rebuild replaces it); None if it does not exist."""
    schema, table = relation.split(".")
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()[0]
    return con.sql(f"select * from {relation}").pl() if exists else None


def record(
    con: Any, name: str, before: pl.DataFrame | None, after: pl.DataFrame, reason: str
) -> int:
    """Append to ``marts.restatements`` every published value of mart ``name`` that ``after``
    changed or removed; returns how many."""
    if name not in RESTATED_MARTS or before is None:
        return 0
    keys, columns = RESTATED_MARTS[name]
    rows = restatements(before, after, name, keys, columns, dt.datetime.now(dt.UTC), reason)
    if rows.height:
        con.register("_restated", rows.to_arrow())
        con.execute(
            "create table if not exists marts.restatements as select * from _restated limit 0"
        )
        con.execute("insert into marts.restatements select * from _restated")
        con.unregister("_restated")
    return rows.height


def write_restating(ctx: Any, con: Any, frame: pl.DataFrame) -> dict[str, Any]:
    """A restated mart's write (a dbt_like Python model's ``write``): read what is published,
    replace the table with ``frame``, append the restated values. Returns build metadata."""
    name = ctx.name.split(".")[-1]
    before = published(con, ctx.name)
    ctx.replace(con, frame)
    reason = f"rebuild in Dagster run {ctx.run_id}" if ctx.run_id else "rebuild by dbt_like"
    restated = record(con, name, before, frame, reason)
    if restated:
        ctx.log.info(f"{ctx.name}: {restated} restated values")
    return {"restated_values": restated}
