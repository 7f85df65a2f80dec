"""marts.serving_cost_daily: USD per 1M output tokens per date x model x GPU x pricing, from the
best measured throughput and the day's like-for-like market level (``serving_cost.MARKET_LEVEL``),
with the API price of the same model beside it. The scenario is ``[serving] scenario``."""

import polars as pl

from pipelines.lib.analytics import serving_cost


def model(ctx) -> pl.DataFrame:
    scenario = (ctx.config.get("serving") or {}).get("scenario", serving_cost.DEFAULT_SCENARIO)
    bench = ctx.ref("staging.stg_raw__serving_benchmarks")
    if bench.height == 0:
        ctx.log.warning(
            "raw.serving_benchmarks is empty: load mlperf_inference to fill marts.serving_cost_daily"
        )
    return serving_cost.serving_cost_daily(
        bench,
        ctx.ref(serving_cost.MARKET_LEVEL[0]),
        ctx.ref("marts.api_prices_daily"),
        scenario=scenario,
    )
