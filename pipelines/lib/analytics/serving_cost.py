"""Cost per 1M output tokens served: measured throughput x the day's GPU rental market.

Pure polars, no I/O (the Python model ``sql/marts/serving_cost_daily.py`` and
``gpu-tracker serving-cost`` read the warehouse and call these functions; the benchmark
selection below is ``serving_benchmarks``).

**Formula** (the same as InferenceX's TCO docs)::

    usd_per_million_output_tokens = usd_per_gpu_hour / (tokens_per_second_per_gpu * 3600) * 1e6

It assumes the measured throughput is sustained for every billed hour: idle time, networking,
storage and staff are excluded, so it is a floor on what serving costs.

**Benchmark selection** (the "serving cost" contract, ``select_benchmark`` / ``best_benchmarks``):
among the rows of ``raw.serving_benchmarks`` of one source (default ``mlperf_inference``) for a
model (any accuracy target: ``llama2-70b-99`` and ``-99.9`` are one model) and a GPU:

1. closed division, ``available`` systems only (comparable results on hardware one can rent);
2. systems built only of that GPU -- guaranteed upstream: a mixed system has no ``gpu_model``
   (``mixed_accelerators`` is quarantined by the parser);
3. the scenario asked for (default ``Offline``: peak batch throughput);
4. the newest round that has such a result (``v6.1`` > ``v6.0`` > ``v5.1``; InferenceX rounds
   are dates);
5. within it, the highest per-accelerator throughput (ties: system name, then precision, for a
   stable answer).

When a round was loaded on several dates, the rows of its latest load are used.

**The daily mart** (``serving_cost_daily``): one row per date x model x gpu_model x pricing of
``marts.daily_summary``, for every model x GPU with a benchmark:

* ``usd_per_gpu_hour`` is the day's like-for-like market level, ``MARKET_LEVEL`` -- the one
  place that says which mart column it is: ``daily_summary.market_level_like_for_like``, the
  chained index of ``marts.gpu_price_index`` (segment ``all``) in USD per GPU-hour (its
  ``level_usd_per_gpu_hour``: anchored at the newest date's median of included votes, moved
  back in time only by like-for-like links, so a provider joining or leaving never moves the
  cost per token);
* ``usd_per_gpu_hour_cheapest`` / ``usd_per_million_output_tokens_cheapest``: the same with the
  cheapest provider of the day (``lowest_price``, ``lowest_provider``);
* ``api_output_usd_per_mtok``: the cheapest *paid* output price of the same ``model_key`` in
  ``marts.api_prices_daily`` on that date or the latest before it (at most ``API_MAX_AGE_DAYS``
  old; ``api_price_date`` and ``api_price_source`` say which). ``:free`` routes (price 0) are
  promotions, not a price of serving, and are left out;
* ``serving_margin`` = ``api_output_usd_per_mtok / usd_per_million_output_tokens``: how many
  times the measured serving cost the API charges (null without an API price);
* ``cost_rank``: 1 = the cheapest GPU for that model on that date and pricing (by cost per
  token at the market level, not by datasheet FLOPs).

The throughput is the newest measurement known to the warehouse and is applied to every price
date: the series over time shows the market moving, not the benchmark.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import polars as pl

from pipelines.lib.analytics.gpu_index import METHODOLOGY_VERSION
from pipelines.lib.analytics.serving_benchmarks import (
    DEFAULT_SCENARIO,
    DEFAULT_SOURCE,
    ServingCostError,
    best_benchmarks,
    select_benchmark,
)

# The day's market level per GPU-hour: (mart, column). The one place to switch it.
MARKET_LEVEL: tuple[str, str] = ("marts.daily_summary", "market_level_like_for_like")
CHEAPEST_LEVEL: tuple[str, str] = ("marts.daily_summary", "lowest_price")
API_MAX_AGE_DAYS = 31
MART_KEYS = ["date", "model", "gpu_model", "pricing"]
SECONDS_PER_HOUR = 3600.0

MART_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "model": pl.Utf8,  # tracker model key (pipelines.lib.model_keys)
    "gpu_model": pl.Utf8,
    "pricing": pl.Utf8,
    "usd_per_gpu_hour": pl.Float64,  # MARKET_LEVEL
    "tokens_per_second_per_gpu": pl.Float64,  # output tokens/s per accelerator
    "usd_per_million_output_tokens": pl.Float64,
    "usd_per_gpu_hour_cheapest": pl.Float64,
    "cheapest_provider": pl.Utf8,
    "usd_per_million_output_tokens_cheapest": pl.Float64,
    "cost_rank": pl.Int64,
    "api_output_usd_per_mtok": pl.Float64,
    "api_price_source": pl.Utf8,
    "api_price_date": pl.Date,
    "serving_margin": pl.Float64,
    "benchmark_source": pl.Utf8,
    "benchmark_round": pl.Utf8,
    "benchmark_system": pl.Utf8,
    "benchmark_submitter": pl.Utf8,
    "benchmark_model": pl.Utf8,
    "scenario": pl.Utf8,
    "precision": pl.Utf8,
    "accelerators": pl.Int64,
    "market_level_column": pl.Utf8,
    "methodology_version": pl.Utf8,
}


def usd_per_million_output_tokens(
    usd_per_gpu_hour: float, tokens_per_second_per_gpu: float
) -> float:
    """USD per GPU-hour / (output tokens/s per GPU x 3600) x 1e6."""
    for name, value in (
        ("usd_per_gpu_hour", usd_per_gpu_hour),
        ("tokens_per_second_per_gpu", tokens_per_second_per_gpu),
    ):
        if value is None or not math.isfinite(value) or value <= 0:
            raise ServingCostError(f"{name} must be a positive number, got {value!r}")
    return usd_per_gpu_hour / (tokens_per_second_per_gpu * SECONDS_PER_HOUR) * 1e6


def _cost_expr(price: str, tps: str) -> pl.Expr:
    return pl.when((pl.col(price) > 0) & (pl.col(tps) > 0)).then(
        pl.col(price) / (pl.col(tps) * SECONDS_PER_HOUR) * 1e6
    )


def serving_cost(
    bench: pl.DataFrame,
    *,
    model: str,
    gpu_model: str,
    usd_per_gpu_hour: float,
    scenario: str = DEFAULT_SCENARIO,
    source: str = DEFAULT_SOURCE,
    price_basis: str = "--usd-per-hour",
) -> dict[str, Any]:
    """The ``gpu-tracker serving-cost`` answer as a JSON-ready dict."""
    b = select_benchmark(bench, model=model, gpu_model=gpu_model, scenario=scenario, source=source)
    return {
        "model": b.model_key,
        "gpu_model": b.gpu_model,
        "tokens_per_second_per_gpu": b.tokens_per_second_per_gpu,
        "usd_per_gpu_hour": usd_per_gpu_hour,
        "usd_per_million_output_tokens": usd_per_million_output_tokens(
            usd_per_gpu_hour, b.tokens_per_second_per_gpu
        ),
        "benchmark": b.as_json(),
        "price_basis": price_basis,
        "formula": "usd_per_gpu_hour / (tokens_per_second_per_gpu * 3600) * 1e6",
        "note": "derived from published results; not an official MLPerf result"
        if b.source == "mlperf_inference"
        else "derived from published sweep data",
    }


def market_level(
    summary: pl.DataFrame, *, gpu_model: str, day: dt.date, pricing: str = "on_demand"
) -> float:
    """The day's ``MARKET_LEVEL`` for one GPU (``--date`` of serving-cost)."""
    column = MARKET_LEVEL[1]
    hit = summary.filter(
        (pl.col("date") == day)
        & (pl.col("gpu_model") == gpu_model)
        & (pl.col("pricing") == pricing)
    )
    if hit.height == 0 or hit[column][0] is None:
        raise ServingCostError(f"no {pricing} {MARKET_LEVEL[0]}.{column} for {gpu_model} on {day}")
    return float(hit[column][0])


def _api_prices(api_daily: pl.DataFrame | None) -> pl.DataFrame:
    """Cheapest paid output price per date x model_key, with its source."""
    schema = {
        "api_price_date": pl.Date,
        "model": pl.Utf8,
        "api_output_usd_per_mtok": pl.Float64,
        "api_price_source": pl.Utf8,
    }
    if api_daily is None or api_daily.height == 0:
        return pl.DataFrame(schema=schema)
    paid = api_daily.filter((pl.col("output_usd_per_mtok") > 0) & pl.col("model_key").is_not_null())
    return (
        paid.sort(["date", "model_key", "output_usd_per_mtok", "source"])
        .group_by(["date", "model_key"], maintain_order=True)
        .first()
        .select(
            pl.col("date").alias("api_price_date"),
            pl.col("model_key").alias("model"),
            pl.col("output_usd_per_mtok").alias("api_output_usd_per_mtok"),
            pl.col("source").alias("api_price_source"),
        )
        .cast(schema)
        .sort("api_price_date")
    )


def serving_cost_daily(
    bench: pl.DataFrame,
    summary: pl.DataFrame,
    api_daily: pl.DataFrame | None = None,
    *,
    scenario: str = DEFAULT_SCENARIO,
    source: str = DEFAULT_SOURCE,
) -> pl.DataFrame:
    """``marts.serving_cost_daily`` (see the module docstring)."""
    level, cheapest = MARKET_LEVEL[1], CHEAPEST_LEVEL[1]
    missing = [
        c
        for c in ("date", "gpu_model", "pricing", level, cheapest, "lowest_provider")
        if c not in summary.columns
    ]
    if missing:
        raise ValueError(f"{MARKET_LEVEL[0]} lacks column(s) {missing}")
    best = best_benchmarks(bench, scenario=scenario, source=source)
    if best.height == 0 or summary.height == 0:
        return pl.DataFrame(schema=MART_SCHEMA)
    best = best.select(
        pl.col("model_key").alias("model"),
        "gpu_model",
        "tokens_per_second_per_gpu",
        pl.col("source").alias("benchmark_source"),
        pl.col("round").alias("benchmark_round"),
        pl.col("system").alias("benchmark_system"),
        pl.col("submitter").alias("benchmark_submitter"),
        "benchmark_model",
        "scenario",
        "precision",
        pl.col("total_accelerators").alias("accelerators"),
    )
    day = summary.select(
        "date",
        "gpu_model",
        "pricing",
        pl.col(level).alias("usd_per_gpu_hour"),
        pl.col(cheapest).alias("usd_per_gpu_hour_cheapest"),
        pl.col("lowest_provider").alias("cheapest_provider"),
    )
    out = (
        day.join(best, on="gpu_model", how="inner")
        .with_columns(
            _cost_expr("usd_per_gpu_hour", "tokens_per_second_per_gpu").alias(
                "usd_per_million_output_tokens"
            ),
            _cost_expr("usd_per_gpu_hour_cheapest", "tokens_per_second_per_gpu").alias(
                "usd_per_million_output_tokens_cheapest"
            ),
            pl.lit(".".join(MARKET_LEVEL)).alias("market_level_column"),
        )
        .filter(pl.col("usd_per_million_output_tokens").is_not_null())
    )
    out = out.with_columns(
        pl.col("usd_per_million_output_tokens")
        .rank("min")
        .over(["date", "model", "pricing"])
        .cast(pl.Int64)
        .alias("cost_rank"),
    )
    api = _api_prices(api_daily)
    out = (
        out.sort("date")
        .join_asof(
            api,
            left_on="date",
            right_on="api_price_date",
            by="model",
            strategy="backward",
            tolerance=f"{API_MAX_AGE_DAYS}d",
            check_sortedness=False,
        )
        .with_columns(
            (pl.col("api_output_usd_per_mtok") / pl.col("usd_per_million_output_tokens")).alias(
                "serving_margin"
            ),
        )
    )
    out = out.with_columns(pl.lit(METHODOLOGY_VERSION).alias("methodology_version"))
    return out.select([pl.col(c).cast(t) for c, t in MART_SCHEMA.items()]).sort(MART_KEYS)
