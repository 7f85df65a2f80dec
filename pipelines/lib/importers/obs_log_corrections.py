"""Corrections applied to the observation log (``obs_log.read_obs_log``), each established
from the data itself and listed in ``OBS_LOG_CORRECTIONS`` so a reader can see and test them:

1. *getdeploying.com instance prices.* Rows fetched before 2026-02-18T21:00Z quote the
   price of the whole multi-GPU instance, not per GPU (Lambda 8x H100 SXM 23.92 beside 1x
   3.29 on 2026-02-11; AWS 8x H100 55.04). From the 21:00 fetch on they are per GPU. Rows
   in that window get ``price_basis = per_instance`` and are divided by ``gpu_count``.
2. *nebius.com preemptible prices labelled on_demand.* Until 2026-05-30 the log's
   nebius.com scraper recorded the preemptible column (H100 1.25, H200 1.45 = SkyPilot's
   Nebius ``SpotPrice``; on-demand was 2.95/3.50). Those rows are re-labelled ``spot``.
   From 2026-05-31 it records on-demand (H100 2.15 after Nebius' price cut).

3. *2026-02-18, one row, two fetches.* The switch day's getdeploying.com rows stamped with
   the evening (21:00) fetch aggregate the morning fetch too: the minimum is the evening's
   per-GPU price while the median and maximum may be the morning's instance price (Lambda
   2x H100: min 3.67, median 7.34, max 7.34). Each statistic gets its own basis: on a
   multi-GPU row of that day a statistic above ``price_min x sqrt(gpu_count)`` (the
   geometric midpoint between a per-GPU and an instance quote of the same listing) is an
   instance price. The row's ``price_basis`` is that of its median; the other statistics
   are rescaled to it (exactly: multiply or divide by ``gpu_count``), so the offer's min,
   median and max are all per GPU; the row's minimum and maximum are then taken over the
   three (the two fetches differ by a fraction of a cent per GPU). Before this, one
   timestamp per row decided, and 27 provider series of 02-17 and 02-19 were quarantined
   on 02-18.
4. *One bad statistic does not discard the row.* A row whose minimum is within the GPU's
   price bounds but whose median or maximum (per GPU) is not keeps its minimum: the bad
   statistic is dropped and a quarantine record (reason ``statistic_out_of_bounds``)
   names it and its value. The offer schema has no empty median or maximum, so a dropped
   maximum falls back to the median (``normalise_offers``' rule for a record without a
   maximum) and a dropped median to the minimum -- the offer then stands only for its
   minimum, the statistic every mart uses (Vast RTX 4090 on 2026-05-27: min 0.6033 kept,
   max 4.0011 quarantined; before, the day's minimum became 0.7352).

Known and *not* corrected (an aggregate row cannot be split): lambda.ai rows mix Lambda's
8x-cluster per-GPU price (3.99) into the 1x row's minimum (their max, 4.29, is the 1x price).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import polars as pl

from pipelines.lib.gpus import UnmappedGpu, price_bounds, resolve_gpu

GETDEPLOYING_PER_GPU_FROM = dt.datetime(2026, 2, 18, 21, 0, tzinfo=dt.UTC)
NEBIUS_ON_DEMAND_FROM = dt.date(2026, 5, 31)

OBS_LOG_CORRECTIONS = {
    "getdeploying_instance_prices": (
        "getdeploying.com rows fetched before 2026-02-18T21:00Z are per-instance prices"
    ),
    "nebius_preemptible_as_on_demand": (
        "nebius.com rows dated before 2026-05-31 are preemptible (spot) prices labelled on_demand"
    ),
    "getdeploying_mixed_fetch_statistics": (
        "statistics of 2026-02-18 getdeploying.com rows rescaled to the basis of the row's median"
    ),
    "statistic_out_of_bounds": (
        "an out-of-bounds median or maximum dropped (and quarantined) instead of the whole row"
    ),
}
STAT_COLUMNS = {
    "price_min": "price_min_usd",
    "price_median": "price_median_usd",
    "price_max": "price_max_usd",
}


def _per_statistic_basis(frame: pl.DataFrame, per_instance: pl.Expr) -> tuple[pl.DataFrame, int]:
    """Corrections 1 and 3: ``price_basis`` per row, and on the switch day's mixed rows each
    statistic rescaled to the basis of the median. Returns the frame and how many
    statistics were rescaled."""
    count = pl.col("gpu_count").cast(pl.Float64, strict=False)
    stat = {k: pl.col(c).cast(pl.Float64, strict=False) for k, c in STAT_COLUMNS.items()}
    mixed = (
        (pl.col("host") == "getdeploying.com")
        & (pl.col("day") == GETDEPLOYING_PER_GPU_FROM.date())
        & (pl.col("fetched_ts") >= GETDEPLOYING_PER_GPU_FROM)
        & (count > 1)
    ).fill_null(False)
    midpoint = stat["price_min"] * count.sqrt()
    is_instance = {k: mixed & (v > midpoint).fill_null(False) for k, v in stat.items()}
    median_instance = is_instance["price_median"]
    frame = frame.with_columns(
        (per_instance | median_instance).alias("_c1"),
        pl.when(per_instance | median_instance)
        .then(pl.lit("per_instance"))
        .otherwise(pl.lit("per_gpu"))
        .alias("price_basis"),
    )
    rescaled = []
    n = 0
    for k, col in STAT_COLUMNS.items():
        up = mixed & median_instance & ~is_instance[k]  # per-GPU statistic on an instance row
        down = mixed & ~median_instance & is_instance[k]  # instance statistic on a per-GPU row
        n += int(frame.select((up | down).sum()).item())
        rescaled.append(
            pl.when(up)
            .then((stat[k] * count).round(6).cast(pl.Utf8))
            .when(down)
            .then((stat[k] / count).round(6).cast(pl.Utf8))
            .otherwise(pl.col(col))
            .alias(col)
        )
    frame = frame.with_columns(rescaled)
    # the two fetches quote slightly different prices (gcore 8x L40S: evening 1.59 per GPU,
    # morning 12.68 = 1.585 per GPU), so on a mixed row the minimum and maximum are taken
    # over all three rescaled statistics
    values = [pl.col(c).cast(pl.Float64, strict=False) for c in STAT_COLUMNS.values()]
    return frame.with_columns(
        pl.when(mixed)
        .then(pl.min_horizontal(values).cast(pl.Utf8))
        .otherwise(pl.col("price_min_usd"))
        .alias("price_min_usd"),
        pl.when(mixed)
        .then(pl.max_horizontal(values).cast(pl.Utf8))
        .otherwise(pl.col("price_max_usd"))
        .alias("price_max_usd"),
    ), n


def _bounds(name: str) -> tuple[float | None, float | None]:
    try:
        return price_bounds(resolve_gpu(name).gpu_family)
    except UnmappedGpu:
        return None, None  # normalise_offers quarantines the name


def _drop_out_of_bounds_statistics(
    frame: pl.DataFrame,
) -> tuple[pl.DataFrame, list[dict[str, Any]]]:
    """Correction 4: where the per-GPU minimum is within bounds and the median or maximum is
    not, drop that statistic (see the module docstring) and return one quarantine row per
    such log row, naming the statistics and values."""
    names = frame.select(pl.col("gpu_model").unique()).to_series().to_list()
    bounds = pl.DataFrame(
        {
            "gpu_model": names,
            "_lo": [_bounds(n)[0] for n in names],
            "_hi": [_bounds(n)[1] for n in names],
        },
        schema={"gpu_model": pl.Utf8, "_lo": pl.Float64, "_hi": pl.Float64},
    )
    f = frame.join(bounds, on="gpu_model", how="left")
    divisor = (
        pl.when(pl.col("price_basis") == "per_instance")
        .then(pl.col("gpu_count").cast(pl.Float64, strict=False))
        .otherwise(1.0)
    )
    per_gpu = {
        k: pl.col(c).cast(pl.Float64, strict=False) / divisor for k, c in STAT_COLUMNS.items()
    }
    ok = {k: v.is_between(pl.col("_lo"), pl.col("_hi")) for k, v in per_gpu.items()}
    bad_median = (ok["price_min"] & ~ok["price_median"]).fill_null(False)
    bad_max = (ok["price_min"] & ~ok["price_max"]).fill_null(False)
    detail = pl.concat_str(
        [
            pl.when(bad).then(pl.format("{} {} USD/GPU-h", pl.lit(k), v.round(6)))
            for k, bad, v in (
                ("price_median", bad_median, per_gpu["price_median"]),
                ("price_max", bad_max, per_gpu["price_max"]),
            )
        ],
        separator="; ",
        ignore_nulls=True,
    )
    f = f.with_columns(
        pl.when(bad_median | bad_max)
        .then(
            pl.format(
                "{} for {} outside [{}, {}]: statistic dropped, price_min {} kept",
                detail,
                pl.col("gpu_model"),
                pl.col("_lo"),
                pl.col("_hi"),
                pl.col("price_min_usd"),
            )
        )
        .alias("_stat_detail"),
    )
    quarantine = f.filter(pl.col("_stat_detail").is_not_null()).to_dicts()
    f = f.with_columns(
        pl.when(bad_median)
        .then(pl.col("price_min_usd"))
        .otherwise(pl.col("price_median_usd"))
        .alias("price_median_usd"),
        pl.when(bad_max).then(None).otherwise(pl.col("price_max_usd")).alias("price_max_usd"),
    )
    return f.drop("_lo", "_hi", "_stat_detail"), quarantine
