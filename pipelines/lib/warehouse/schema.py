"""The warehouse's schemas and raw tables: polars schema -> DuckDB DDL, the load log, the
registry of raw tables (one per source family, partitioned by source and date) and
``ensure_schema``, which creates what is missing."""

from __future__ import annotations

import duckdb
import polars as pl

from pipelines.lib import lake
from pipelines.lib.families import FAMILY_SCHEMAS
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA
from pipelines.lib.warehouse.errors import in_transaction

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
