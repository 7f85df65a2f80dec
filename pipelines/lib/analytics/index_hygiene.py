"""The index's hygiene (methodology 2.0, steps 1-4 of ``gpu_index``): which feed a price came
from and how it ranks, the constant-floor, not-a-spot-price and outlier rules, and one vote
per provider. Pure polars, no I/O; METHODOLOGY.md quotes the constants below.
"""

from __future__ import annotations

import math

import polars as pl

SEGMENTS = ("all", "hyperscaler", "neocloud", "marketplace")
SERIES_KEYS = ["gpu_model", "pricing", "segment"]
INDEX_KEYS = ["date", *SERIES_KEYS]

# feeds that copy other providers' prices (aggregators); a provider's own feed outranks them
AGGREGATOR_FEEDS = frozenset({"getdeploying.com", "gpuhunt"})
# sources that republish provider catalogs (rank between own feed and aggregator)
CATALOG_SOURCES = frozenset({"skypilot_catalog"})

# rule_constant_floor: an exact price repeated on >= FLOOR_MIN_DAYS dates of one observation
# series and at most FLOOR_MAX_RATIO x the day's reference price (median of the other
# providers' observations, or of the same provider's other observations when alone)
FLOOR_MIN_DAYS = 5
FLOOR_MAX_RATIO = 0.3
# rule_outlier: |log p - median| > max(K x 1.4826 x MAD, log(MIN_FACTOR)), needs >= MIN_VOTES
OUTLIER_MAD_K = 3.5
OUTLIER_MIN_FACTOR = 3.0
OUTLIER_MIN_VOTES = 4

OBSERVATION_COLUMNS = [
    "date",
    "gpu_model",
    "provider",
    "provider_tier",
    "pricing",
    "source",
    "upstream_source",
    "region",
    "price_min",
]


def _require(df: pl.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}")


# ---------------------------------------------------------------------------- feeds


def feed_expr() -> pl.Expr:
    """Where an observation came from: the upstream host when the source says it (a log or
    an aggregator), else the source id."""
    return pl.coalesce(pl.col("upstream_source"), pl.col("source")).alias("feed")


def feed_rank() -> pl.Expr:
    """Source precedence: 0 = the provider's own feed, 1 = a catalog, 2 = an aggregator."""
    return (
        pl.when(pl.col("feed").is_in(list(AGGREGATOR_FEEDS)))
        .then(2)
        .when(pl.col("source").is_in(list(CATALOG_SOURCES)))
        .then(1)
        .otherwise(0)
        .cast(pl.Int8)
        .alias("feed_rank")
    )


def prepare_observations(obs: pl.DataFrame) -> pl.DataFrame:
    """One row per date x gpu x provider x tier x pricing x feed x region with its lowest
    price (repeat fetches collapse), plus ``feed`` and ``feed_rank``."""
    _require(obs, OBSERVATION_COLUMNS, "observations")
    f = obs.with_columns(feed_expr()).with_columns(feed_rank(), pl.col("region").fill_null(""))
    return (
        f.group_by(
            [
                "date",
                "gpu_model",
                "provider",
                "provider_tier",
                "pricing",
                "source",
                "feed",
                "feed_rank",
                "region",
            ]
        )
        .agg(pl.col("price_min").min())
        .sort(["date", "gpu_model", "pricing", "provider", "feed", "region", "provider_tier"])
    )


# ---------------------------------------------------------------------------- hygiene rules


def rule_constant_floor(obs: pl.DataFrame) -> pl.DataFrame:
    """Adds ``flag_constant_floor``: the observation's exact price recurs on at least
    ``FLOOR_MIN_DAYS`` dates of its series (provider x feed x region x gpu x pricing) and is
    at most ``FLOOR_MAX_RATIO`` of the day's reference: the median of the other providers'
    observations of that GPU and price type, or -- when no other provider priced it -- of
    the same provider's other observations. A placeholder floor (RunPod's $0.50 MI300X
    beside its $1.99 list price) is constant and far below everyone; a real cheap offer is
    either not repeated to the cent or not that far below."""
    series = ["gpu_model", "pricing", "provider", "feed", "region", "provider_tier"]
    f = obs.with_columns(
        pl.col("date").n_unique().over([*series, "price_min"]).alias("_days_at_price"),
    )
    day = ["date", "gpu_model", "pricing"]
    others = f.select(*day, pl.col("provider").alias("_other"), pl.col("price_min").alias("_p"))
    ref = (
        f.select(*day, "provider")
        .unique()
        .join(others, on=day)
        .filter(pl.col("_other") != pl.col("provider"))
        .group_by([*day, "provider"])
        .agg(pl.col("_p").median().alias("_ref_others"))
    )
    f = f.join(ref, on=[*day, "provider"], how="left")
    # same provider's other observations (e.g. RunPod secure 1.99 beside its "any" 0.50)
    own = f.select(*day, "provider", pl.col("price_min").alias("_own"))
    f = f.with_row_index("_r")
    own_ref = (
        f.select("_r", *day, "provider", "price_min")
        .join(own, on=[*day, "provider"])
        .filter(pl.col("_own") != pl.col("price_min"))
        .group_by("_r")
        .agg(pl.col("_own").median().alias("_ref_own"))
    )
    f = f.join(own_ref, on="_r", how="left")
    ref_price = pl.coalesce(pl.col("_ref_others"), pl.col("_ref_own"))
    flag = (
        (pl.col("_days_at_price") >= FLOOR_MIN_DAYS)
        & (pl.col("price_min") <= FLOOR_MAX_RATIO * ref_price)
    ).fill_null(False)
    return f.with_columns(flag.alias("flag_constant_floor")).drop(
        "_r", "_days_at_price", "_ref_others", "_ref_own"
    )


def provider_votes(obs: pl.DataFrame) -> pl.DataFrame:
    """One vote per date x gpu_model x pricing x segment x provider (``obs`` flagged by
    ``rule_constant_floor``). Segment ``all`` takes every observation; a tier segment only
    the provider's observations of that tier. Clean observations of the best-ranked feed
    give ``price_used`` (their minimum over regions) and ``source_used``; lower-ranked feeds
    are listed in ``feeds_overridden``. A provider with only floor observations gets a vote
    with ``flag_constant_floor`` and the lowest of them as ``price_used``."""
    _require(obs, ["flag_constant_floor", "feed", "feed_rank"], "observations")
    tiered = obs.filter(pl.col("provider_tier").is_in(list(SEGMENTS[1:])))
    segmented = pl.concat(
        [
            obs.with_columns(pl.lit("all").alias("segment")),
            tiered.with_columns(pl.col("provider_tier").alias("segment")),
        ]
    )
    keys = [*INDEX_KEYS, "provider"]
    # priority: clean before floor, then own feed < catalog < aggregator
    f = segmented.with_columns(
        (pl.col("flag_constant_floor").cast(pl.Int8) * 10 + pl.col("feed_rank")).alias("_prio"),
    ).with_columns(pl.col("_prio").min().over(keys).alias("_best"))
    chosen = f.filter(pl.col("_prio") == pl.col("_best"))
    picked = (
        chosen.sort([*keys, "price_min", "feed", "region"])
        .group_by(keys, maintain_order=True)
        .agg(
            pl.col("price_min").first().alias("price_used"),
            pl.col("feed").first().alias("source_used"),
        )
    )
    rest = f.group_by(keys).agg(
        pl.col("flag_constant_floor").all().alias("flag_constant_floor"),
        pl.col("flag_constant_floor").any().alias("_any_floor"),
        pl.col("provider_tier").unique().sort().str.join(",").alias("provider_tiers"),
        pl.col("feed").n_unique().cast(pl.Int64).alias("n_feeds"),
        pl.col("feed")
        .filter((pl.col("_prio") % 10) > (pl.col("_best") % 10))
        .unique()
        .sort()
        .str.join(",")
        .alias("feeds_overridden"),
    )
    return (
        picked.join(rest, on=keys)
        .with_columns(
            (pl.col("_any_floor") & ~pl.col("flag_constant_floor")).alias(
                "floor_observations_dropped"
            ),
            pl.when(pl.col("feeds_overridden") != "")
            .then(pl.col("feeds_overridden"))
            .alias("feeds_overridden"),
        )
        .drop("_any_floor")
        .sort(keys)
    )


def rule_not_a_spot_price(votes: pl.DataFrame) -> pl.DataFrame:
    """Adds ``flag_not_a_spot_price``: a spot vote whose price is at or above the same
    provider's on-demand vote (segment ``all``, same date and GPU). A spot price exists to
    be cheaper; equal to the cent (RunPod on 421 of 584 day x GPU pairs) it is the list
    price relabelled, above it a different product."""
    on_demand = votes.filter(
        (pl.col("pricing") == "on_demand")
        & (pl.col("segment") == "all")
        & ~pl.col("flag_constant_floor")
    ).select("date", "gpu_model", "provider", pl.col("price_used").alias("_on_demand"))
    f = votes.join(on_demand, on=["date", "gpu_model", "provider"], how="left")
    flag = (
        (pl.col("pricing") == "spot") & (pl.col("price_used") >= pl.col("_on_demand"))
    ).fill_null(False)
    return f.with_columns(flag.alias("flag_not_a_spot_price")).drop("_on_demand")


def rule_outlier(votes: pl.DataFrame) -> pl.DataFrame:
    """Adds ``flag_outlier``: among the segment's votes that passed the other rules (at least
    ``OUTLIER_MIN_VOTES``), a price whose log distance from the median log price exceeds
    ``OUTLIER_MAD_K`` scaled MADs and a factor ``OUTLIER_MIN_FACTOR`` (so a tight market
    with MAD near 0 does not flag ordinary price differences)."""
    eligible = ~pl.col("flag_constant_floor") & ~pl.col("flag_not_a_spot_price")
    lp = pl.col("price_used").log()
    f = votes.with_columns(pl.when(eligible).then(lp).alias("_lp"))
    f = f.with_columns(
        pl.col("_lp").median().over(INDEX_KEYS).alias("_med"),
        pl.col("_lp").count().over(INDEX_KEYS).alias("_n"),
    ).with_columns((pl.col("_lp") - pl.col("_med")).abs().alias("_dev"))
    f = f.with_columns(pl.col("_dev").median().over(INDEX_KEYS).alias("_mad"))
    threshold = pl.max_horizontal(
        OUTLIER_MAD_K * 1.4826 * pl.col("_mad"), pl.lit(math.log(OUTLIER_MIN_FACTOR))
    )
    flag = (
        eligible & (pl.col("_n") >= OUTLIER_MIN_VOTES) & (pl.col("_dev") > threshold)
    ).fill_null(False)
    return f.with_columns(flag.alias("flag_outlier")).drop("_lp", "_med", "_n", "_dev", "_mad")


def exclusion_reason() -> pl.Expr:
    """The first rule that excludes a vote, in rule order; null when included."""
    return (
        pl.when(pl.col("flag_constant_floor"))
        .then(pl.lit("constant_floor"))
        .when(pl.col("flag_not_a_spot_price"))
        .then(pl.lit("not_a_spot_price"))
        .when(pl.col("flag_outlier"))
        .then(pl.lit("outlier"))
        .otherwise(None)
        .alias("exclusion_reason")
    )
