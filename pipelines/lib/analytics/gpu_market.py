"""The GPU rental market's day over ``marts.gpu_price_daily``: pure polars functions, no I/O.

Every function takes the daily price table (one row per date x gpu_model x provider x
pricing, USD per GPU-hour; see sql/marts/gpu_price_daily.sql) and returns a new mart: the
market's day (``daily_summary``) and the spread across providers (``provider_spreads``)
here, ``cost_per_flop`` and ``price_changes`` beside it. The Python models in
``sql/marts/*.py`` read the inputs and call these; ``dbt_like`` writes the results.

Methodology (version ``METHODOLOGY_VERSION``, METHODOLOGY.md at the repository root):

* A provider's price for a day is its **lowest** per-GPU-hour price (``price_min``) for that
  GPU and price type. Market statistics weigh every *provider* once -- a marketplace with
  300 offers does not outvote a neocloud with one price list.
* Price types (on_demand / spot / reserved) are separate series and never mixed.
* ``market_median`` / p25 / p75 / lowest are **cross-sectional**: quantiles (linear
  interpolation, as DuckDB's ``quantile_cont``) of whichever providers reported that day.
  ``change_1d/7d/30d_pct`` compare those cross-sectional medians, so they move when the set
  of reporting providers changes even if no price did; they are kept, labelled as such.
  The like-for-like changes (``change_Nd_like_for_like_pct``) come from the chained index
  of ``pipelines.lib.market_index`` (segment ``all``): only providers present on both
  dates of each link count. Headlines and alerts use those.
* Both kinds of change look back to the latest observation of the same GPU and price type
  at most ``CHANGE_TOLERANCE_DAYS`` older than the target day (0 for 1 day, 1 for 7, 3 for
  30); none within tolerance -> null, never a made-up baseline.
* Coverage = providers today / providers that priced the GPU (same price type) in the trailing
  ``COVERAGE_WINDOW_DAYS`` days. Confidence (``SUMMARY_CONFIDENCE``) comes from distinct
  providers (after the index's hygiene rules when the index is given), coverage and the
  dispersion (p75 - p25) / median -- never from ``n_offers``, which counts repeat fetches
  of one listing: high (>= 3 providers, coverage >= 0.75, dispersion <= 1), medium
  (>= 2 providers, coverage >= 0.5), else low.
* ``price_changes`` compares a provider's price with its previous observation only when
  that is at most ``MAX_COMPARISON_AGE_DAYS`` old; an older one makes the row ``reappeared``
  (no change computed: a price last seen weeks ago is not today's move).
* Tier medians use providers whose tier is hyperscaler / neocloud / marketplace; a provider
  whose offers span two tiers that day (``mixed``, e.g. RunPod secure + community) counts in
  the market figures but in no tier median.
* Cost per FLOP: USD per dense PFLOP-hour = USD per GPU-hour / (dense TFLOPS / 1000), per
  precision, from the spec seed (``seeds.gpu_specs``). INT8 is in peta-*ops* (TOPS).
"""

from __future__ import annotations

import polars as pl

from pipelines.lib.analytics import gpu_index as market_index

METHODOLOGY_VERSION = market_index.METHODOLOGY_VERSION
MAX_COMPARISON_AGE_DAYS = 7
SUMMARY_CONFIDENCE = {
    "high": {"min_providers": 3, "min_coverage": 0.75, "max_dispersion": 1.0},
    "medium": {"min_providers": 2, "min_coverage": 0.5},
}
COVERAGE_WINDOW_DAYS = 30
CHANGE_HORIZONS = {1: 0, 7: 1, 30: 3}  # horizon days -> tolerance days
CHANGE_TOLERANCE_DAYS = CHANGE_HORIZONS
TIERS = ("hyperscaler", "neocloud", "marketplace")


PRICE_KEYS = ["date", "gpu_model", "provider", "pricing"]
MARKET_KEYS = ["date", "gpu_model", "pricing"]


def _require(df: pl.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}")


def _median(col: str, where: pl.Expr | None = None) -> pl.Expr:
    expr = pl.col(col) if where is None else pl.col(col).filter(where)
    return expr.quantile(0.5, interpolation="linear")


# ---------------------------------------------------------------------------- spreads


def provider_spreads(prices: pl.DataFrame) -> pl.DataFrame:
    """One row per date x gpu_model x pricing: cheapest and dearest provider, max/min ratio,
    p25/p75 across providers, and tier medians with premiums."""
    _require(prices, [*PRICE_KEYS, "gpu_family", "provider_tier", "price_min"], "prices")
    ordered = prices.sort([*MARKET_KEYS, "price_min", "provider"])
    base = ordered.group_by(MARKET_KEYS, maintain_order=True).agg(
        pl.col("gpu_family").first(),
        pl.col("provider").n_unique().alias("n_providers"),
        pl.col("provider").first().alias("cheapest_provider"),
        pl.col("price_min").first().alias("cheapest_price"),
        pl.col("provider")
        .sort_by(["price_min", "provider"], descending=[True, False])
        .first()
        .alias("dearest_provider"),
        pl.col("price_min").max().alias("dearest_price"),
        pl.col("price_min").quantile(0.25, interpolation="linear").alias("p25_price"),
        _median("price_min").alias("median_price"),
        pl.col("price_min").quantile(0.75, interpolation="linear").alias("p75_price"),
        *[_median("price_min", pl.col("provider_tier") == t).alias(f"{t}_median") for t in TIERS],
        *[(pl.col("provider_tier") == t).sum().cast(pl.Int64).alias(f"n_{t}") for t in TIERS],
        _median("price_min", pl.col("provider_tier").is_in(["neocloud", "marketplace"])).alias(
            "non_hyperscaler_median"
        ),
    )
    return base.with_columns(
        (pl.col("dearest_price") / pl.col("cheapest_price")).alias("max_min_ratio"),
        (pl.col("hyperscaler_median") / pl.col("non_hyperscaler_median")).alias(
            "hyperscaler_premium"
        ),
        (pl.col("hyperscaler_median") / pl.col("neocloud_median")).alias("hyperscaler_vs_neocloud"),
        (pl.col("hyperscaler_median") / pl.col("marketplace_median")).alias(
            "hyperscaler_vs_marketplace"
        ),
        (pl.col("neocloud_median") / pl.col("marketplace_median")).alias("neocloud_vs_marketplace"),
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    ).sort(MARKET_KEYS)


# ---------------------------------------------------------------------------- daily summary


def _asof_change(summary: pl.DataFrame, horizon: int, tolerance: int) -> pl.DataFrame:
    """``market_median`` of the latest observation in [date - horizon - tolerance, date - horizon]."""
    ref = summary.select(
        "gpu_model",
        "pricing",
        pl.col("date").alias("ref_date"),
        pl.col("market_median").alias("ref_median"),
    ).sort("ref_date")
    target = summary.select(
        "gpu_model",
        "pricing",
        "date",
        (pl.col("date") - pl.duration(days=horizon)).alias("target_date"),
    ).sort("target_date")
    matched = target.join_asof(
        ref,
        left_on="target_date",
        right_on="ref_date",
        by=["gpu_model", "pricing"],
        strategy="backward",
        tolerance=f"{tolerance}d",
        check_sortedness=False,
    )
    return matched.select(
        "gpu_model", "pricing", "date", pl.col("ref_median").alias(f"_ref_{horizon}")
    )


def daily_summary(prices: pl.DataFrame, index: pl.DataFrame | None = None) -> pl.DataFrame:
    """One row per date x gpu_model x pricing: the market's day (see module docstring).

    ``index`` is ``marts.gpu_price_index`` (``market_index.gpu_price_index``); its segment
    ``all`` gives the like-for-like changes and the provider count after hygiene. Without
    it those columns are null and confidence uses the raw provider count."""
    _require(
        prices, [*PRICE_KEYS, "gpu_family", "price_min", "n_offers", "available_gpus"], "prices"
    )
    ordered = prices.sort([*MARKET_KEYS, "price_min", "provider"])
    summary = (
        ordered.group_by(MARKET_KEYS, maintain_order=True)
        .agg(
            pl.col("gpu_family").first(),
            _median("price_min").alias("market_median"),
            pl.col("price_min").quantile(0.25, interpolation="linear").alias("p25_price"),
            pl.col("price_min").quantile(0.75, interpolation="linear").alias("p75_price"),
            pl.col("price_min").first().alias("lowest_price"),
            pl.col("provider").first().alias("lowest_provider"),
            pl.col("provider").n_unique().alias("n_providers"),
            pl.col("n_offers").sum().cast(pl.Int64).alias("n_offers"),
            pl.col("available_gpus").sum().alias("available_gpus"),
            pl.col("available_gpus")
            .is_not_null()
            .sum()
            .cast(pl.Int64)
            .alias("n_providers_reporting_availability"),
        )
        .with_columns(
            pl.when(pl.col("n_providers_reporting_availability") > 0)
            .then(pl.col("available_gpus"))
            .cast(pl.Int64)
            .alias("available_gpus"),
        )
    )

    for horizon, tolerance in CHANGE_HORIZONS.items():
        summary = summary.join(
            _asof_change(summary, horizon, tolerance),
            on=["gpu_model", "pricing", "date"],
            how="left",
        )
        summary = summary.with_columns(
            ((pl.col("market_median") / pl.col(f"_ref_{horizon}") - 1.0) * 100.0).alias(
                f"change_{horizon}d_pct"
            )
        ).drop(f"_ref_{horizon}")

    # coverage: providers today / distinct providers in the trailing window (same GPU, pricing)
    window = (
        prices.select("gpu_model", "pricing", "provider", pl.col("date").alias("seen"))
        .unique()
        .join(summary.select("gpu_model", "pricing", "date"), on=["gpu_model", "pricing"])
        .filter(
            (pl.col("seen") <= pl.col("date"))
            & (pl.col("seen") > pl.col("date") - pl.duration(days=COVERAGE_WINDOW_DAYS))
        )
        .group_by(MARKET_KEYS)
        .agg(pl.col("provider").n_unique().alias("n_providers_window"))
    )
    summary = summary.join(window, on=MARKET_KEYS, how="left").with_columns(
        (pl.col("n_providers") / pl.col("n_providers_window")).alias("coverage"),
    )
    summary = _like_for_like(summary, index)
    hi, med = SUMMARY_CONFIDENCE["high"], SUMMARY_CONFIDENCE["medium"]
    providers = pl.coalesce(pl.col("n_providers_index"), pl.col("n_providers"))
    dispersion = (pl.col("p75_price") - pl.col("p25_price")) / pl.col("market_median")
    summary = summary.with_columns(
        pl.when(
            (providers >= hi["min_providers"])
            & (pl.col("coverage") >= hi["min_coverage"])
            & (dispersion <= hi["max_dispersion"])
        )
        .then(pl.lit("high"))
        .when((providers >= med["min_providers"]) & (pl.col("coverage") >= med["min_coverage"]))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
        .alias("confidence"),
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    )
    return summary.select(
        "date",
        "gpu_model",
        "gpu_family",
        "pricing",
        "market_median",
        "market_level_like_for_like",
        "p25_price",
        "p75_price",
        "lowest_price",
        "lowest_provider",
        "change_1d_pct",
        "change_7d_pct",
        "change_30d_pct",
        "change_1d_like_for_like_pct",
        "change_7d_like_for_like_pct",
        "change_30d_like_for_like_pct",
        "n_providers",
        "n_providers_index",
        "n_offers",
        "available_gpus",
        "n_providers_reporting_availability",
        "n_providers_window",
        "coverage",
        "confidence",
        "methodology_version",
    ).sort(MARKET_KEYS)


def _like_for_like(summary: pl.DataFrame, index: pl.DataFrame | None) -> pl.DataFrame:
    """Adds ``change_Nd_like_for_like_pct`` and ``n_providers_index`` (providers in the
    index after hygiene) from the index's segment ``all``; nulls without an index."""
    cols = [f"change_{h}d_like_for_like_pct" for h in CHANGE_HORIZONS]
    if index is None or index.height == 0:
        return summary.with_columns(
            *(pl.lit(None, dtype=pl.Float64).alias(c) for c in cols),
            pl.lit(None, dtype=pl.Int64).alias("n_providers_index"),
            pl.lit(None, dtype=pl.Float64).alias("market_level_like_for_like"),
        )
    idx = index.filter(pl.col("segment") == "all")
    for horizon, tolerance in CHANGE_HORIZONS.items():
        if horizon == 1:
            # the index's own link: against its previous index date, if that is yesterday
            ch = idx.select(
                *MARKET_KEYS,
                pl.when((pl.col("date") - pl.col("prev_date")).dt.total_days() <= 1)
                .then(pl.col("change_1d_pct"))
                .alias(cols[0]),
            )
        else:
            ch = market_index.index_change(idx, horizon, tolerance).drop("segment")
        summary = summary.join(ch, on=MARKET_KEYS, how="left")
    level = (
        pl.col("level_usd_per_gpu_hour")
        if "level_usd_per_gpu_hour" in idx.columns
        else pl.lit(None, dtype=pl.Float64)
    )
    counts = idx.select(
        *MARKET_KEYS,
        pl.col("n_providers").cast(pl.Int64).alias("n_providers_index"),
        level.alias("market_level_like_for_like"),
    )
    return summary.join(counts, on=MARKET_KEYS, how="left")
