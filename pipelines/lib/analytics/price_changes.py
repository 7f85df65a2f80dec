"""What moved: each provider's lowest price against its previous observation
(``marts.price_changes``). Pure polars, no I/O; the rules are in ``price_changes``'s docstring.
"""

from __future__ import annotations

import polars as pl

from pipelines.lib.analytics.gpu_market import (
    MAX_COMPARISON_AGE_DAYS,
    METHODOLOGY_VERSION,
    PRICE_KEYS,
    _require,
)


def price_changes(prices: pl.DataFrame, min_change_pct: float = 0.0) -> pl.DataFrame:
    """What moved: each provider x GPU x price type against its previous observation.

    ``kind`` is ``new`` (first observation of that series), ``up`` or ``down``; unchanged
    prices are left out, as are moves of at most ``min_change_pct`` percent (float noise).
    A previous observation more than ``MAX_COMPARISON_AGE_DAYS`` old is no baseline: the
    row is ``reappeared`` with its ``prev_date`` and ``price_prev`` but no change.
    """
    _require(
        prices, [*PRICE_KEYS, "gpu_family", "provider_tier", "price_min", "n_offers"], "prices"
    )
    series = ["gpu_model", "provider", "pricing"]
    s = prices.sort([*series, "date"]).with_columns(
        pl.col("date").shift(1).over(series).alias("prev_date"),
        pl.col("price_min").shift(1).over(series).alias("price_prev"),
        pl.col("n_offers").shift(1).over(series).alias("n_offers_prev"),
    )
    s = s.with_columns(
        (pl.col("date") - pl.col("prev_date"))
        .dt.total_days()
        .cast(pl.Int64)
        .alias("days_since_prev"),
    )
    fresh = pl.col("days_since_prev") <= MAX_COMPARISON_AGE_DAYS
    s = s.with_columns(
        pl.when(fresh).then(pl.col("price_min") - pl.col("price_prev")).alias("change_abs"),
        pl.when(fresh)
        .then((pl.col("price_min") / pl.col("price_prev") - 1.0) * 100.0)
        .alias("change_pct"),
    ).with_columns(
        pl.when(pl.col("prev_date").is_null())
        .then(pl.lit("new"))
        .when(~fresh)
        .then(pl.lit("reappeared"))
        .when(pl.col("change_abs") > 0)
        .then(pl.lit("up"))
        .when(pl.col("change_abs") < 0)
        .then(pl.lit("down"))
        .otherwise(None)
        .alias("kind"),
    )
    moved = s.filter(
        pl.col("kind").is_in(["new", "reappeared"])
        | (
            pl.col("kind").is_in(["up", "down"])
            & (pl.col("change_pct").abs() > max(min_change_pct, 1e-9))
        )
    )
    return moved.select(
        "date",
        "gpu_model",
        "gpu_family",
        "provider",
        "provider_tier",
        "pricing",
        "kind",
        "prev_date",
        "days_since_prev",
        "price_prev",
        pl.col("price_min").alias("price_now"),
        "change_abs",
        "change_pct",
        "n_offers_prev",
        pl.col("n_offers").alias("n_offers_now"),
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    ).sort(PRICE_KEYS)
