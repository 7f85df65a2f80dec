"""``marts.serving_cost_daily`` as a Dagster asset: cost per 1M output tokens per date x model x
GPU x pricing, from measured throughput (``raw.serving_benchmarks``) and the day's rental market
(``marts.daily_summary``), with the API price of the same model (``marts.api_prices_daily``).

Pure logic: ``pipelines.lib.serving``. Like ``pipelines/defs/market.py``: read the inputs,
compute, replace the mart in one transaction under the warehouse writer lock, and check the
unique key (blocking). Runs in ``models_job`` with the other marts.
"""

import dagster as dg
import polars as pl

from pipelines.defs.analytics import mart_key
from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL, source_asset_key
from pipelines.lib import serving, warehouse
from pipelines.lib.families import FAMILY_SCHEMAS

SERVING_MART = "serving_cost_daily"
BENCHMARK_TABLE = "raw.serving_benchmarks"


def _table(con, name: str) -> pl.DataFrame | None:
    schema, table = name.split(".")
    exists = con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return con.sql(f"select * from {name}").pl() if exists else None


def unique_key_duplicates(frame: pl.DataFrame) -> int:
    """Rows beyond the first per (date, model, gpu_model, pricing)."""
    return frame.height - frame.select(serving.MART_KEYS).unique().height if frame.height else 0


@dg.asset(
    key=mart_key(SERVING_MART),
    deps=[
        source_asset_key("mlperf_inference"),
        mart_key("daily_summary"),
        mart_key("api_prices_daily"),
    ],
    description="USD per 1M output tokens per date x model x gpu_model x pricing: the day's market "
    "level per GPU-hour (and the cheapest provider's) over the best closed-division, "
    "available MLPerf Offline throughput per GPU of the newest round; API price of the "
    "same model beside it and api price / serving cost = measured serving margin.",
    group_name=MODELS_GROUP,
    kinds={"polars", "duckdb"},
    check_specs=[
        dg.AssetCheckSpec(
            "unique_key",
            asset=mart_key(SERVING_MART),
            blocking=True,
            description=f"unique on ({', '.join(serving.MART_KEYS)})",
        )
    ],
    pool=WAREHOUSE_POOL,
)
def serving_cost_daily(context: dg.AssetExecutionContext, tracker: TrackerResource):
    config = tracker.load()
    scenario = (config.data.get("serving") or {}).get("scenario", serving.DEFAULT_SCENARIO)
    with warehouse.writer(config.warehouse_path) as con:
        bench = _table(con, BENCHMARK_TABLE)
        if bench is None:
            bench = pl.DataFrame(schema=FAMILY_SCHEMAS[BENCHMARK_TABLE])
        summary = _table(con, serving.MARKET_LEVEL[0])
        if summary is None:
            raise dg.Failure(f"{serving.MARKET_LEVEL[0]} missing: build the GPU marts first")
        frame = serving.serving_cost_daily(
            bench, summary, _table(con, "marts.api_prices_daily"), scenario=scenario
        )
        warehouse.replace_table(con, f"marts.{SERVING_MART}", frame)
    if bench.height == 0:
        context.log.warning(
            f"{BENCHMARK_TABLE} is empty: load mlperf_inference to fill marts.{SERVING_MART}"
        )
    context.log.info(f"marts.{SERVING_MART}: {frame.height} rows")
    dupes = unique_key_duplicates(frame)
    yield dg.MaterializeResult(
        metadata={
            "dagster/row_count": frame.height,
            "models": frame["model"].n_unique() if frame.height else 0,
            "gpus": frame["gpu_model"].n_unique() if frame.height else 0,
            "market_level": ".".join(serving.MARKET_LEVEL),
            "scenario": scenario,
        }
    )
    yield dg.AssetCheckResult(
        check_name="unique_key",
        passed=dupes == 0,
        metadata={
            "key": ", ".join(serving.MART_KEYS),
            "duplicate_rows": dupes,
            "rows": frame.height,
        },
    )
