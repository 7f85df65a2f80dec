"""The like-for-like GPU rental price index (methodology 2.0): constituents, hygiene, index.

Pure polars, no I/O. The Python models ``sql/marts/index_constituents.py`` and
``sql/marts/gpu_price_index.py`` read the offers from ``intermediate.int_comparable_offers``
(aggregated by ``observations_sql``) and call ``index_constituents`` and ``gpu_price_index``;
the hygiene rules (steps 1-4) are in ``index_hygiene``, restatements in ``restatements``.
METHODOLOGY.md at the repository root is the reader's version of this module; the constants
here and in ``index_hygiene`` are the numbers it quotes.

Pipeline, per date x gpu_model x pricing x segment (``all`` or a provider tier):

1. **Observations** -- the lowest per-GPU-hour price of each provider x feed x region
   (a feed is where the row came from: the provider's own API/page, a catalog, or an
   aggregator's copy). Repeat fetches of one listing collapse here (a minimum does not
   change when a row is seen twice; ``n_offers`` is never used).
2. **Hygiene on observations** -- ``rule_constant_floor`` flags suspicious constant floors
   (the $0.50 RunPod / getdeploying H200 and MI300X rows). Flagged observations do not vote.
3. **One vote per provider** -- ``provider_votes``: among the clean observations the best
   feed by ``feed_rank`` (own feed 0 < catalog 1 < aggregator 2) wins; within it the lowest
   price over regions (RunPod's "any" region and its community rows collapse to one vote).
4. **Hygiene on votes** -- ``rule_not_a_spot_price`` (a "spot" vote at or above the same
   provider's on-demand vote that day), ``rule_outlier`` (robust MAD test on log prices
   within the segment). Excluded votes stay in the constituents with their reason.
5. **Panel** -- a provider that voted in the last ``PANEL_DAYS`` days but not today is
   listed as ``not_reported`` (no price); unseen for longer, it leaves the panel.
6. **Index** -- ``gpu_price_index``: Jevons (geometric mean) of the price relatives of the
   providers included on both this date and the previous index date of the series, chained
   into ``index_level`` (100 on the series' first date). Links are marked, never hidden:
   ``base``, ``matched`` (>= 2 matched), ``thin`` (1), ``no_match`` (0) and ``gap`` (previous
   index date more than ``MAX_LINK_GAP_DAYS`` back); an unmatched link carries the level.
7. **Confidence** -- from matched providers, coverage of the 7-day panel and the spread of
   the matched relatives; thresholds in ``CONFIDENCE``.
"""

from __future__ import annotations

import math

import polars as pl

from pipelines.lib.analytics.index_hygiene import (
    exclusion_reason,
    prepare_observations,
    provider_votes,
    rule_constant_floor,
    rule_not_a_spot_price,
    rule_outlier,
)

METHODOLOGY_VERSION = "2.0"
SEGMENTS = ("all", "hyperscaler", "neocloud", "marketplace")
SERIES_KEYS = ["gpu_model", "pricing", "segment"]
INDEX_KEYS = ["date", *SERIES_KEYS]
CONSTITUENT_KEYS = [*INDEX_KEYS, "provider"]
INDEX_BASE_LEVEL = 100.0

# panel and links
PANEL_DAYS = 7
MAX_LINK_GAP_DAYS = 7
# confidence thresholds (METHODOLOGY.md "Confidence")
CONFIDENCE = {
    "high": {"min_matched": 3, "min_coverage": 0.75, "max_relative_spread": math.log(1.5)},
    "medium": {"min_matched": 2, "min_coverage": 0.5},
}

EXCLUSION_REASONS = ("constant_floor", "not_a_spot_price", "outlier", "not_reported")

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


def observations_sql(table: str = "intermediate.int_comparable_offers") -> str:
    """SQL that reads the index's input from the warehouse: the lowest price per
    date x gpu_model x provider x tier x pricing x source x upstream_source x region."""
    return f"""
        select date, gpu_model, provider, provider_tier, pricing, source, upstream_source,
               region, min(price_min_usd_per_gpu_hour) as price_min, count(*)::bigint as n_rows
        from {table}
        group by all
    """


def _require(df: pl.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} lacks column(s) {missing}")


def _panel_absentees(votes: pl.DataFrame) -> pl.DataFrame:
    """Providers that voted in the series within the last ``PANEL_DAYS`` days but not today:
    listed (no price) so a reader sees who is missing; older ones have left the panel."""
    dates = votes.select(*SERIES_KEYS, "date").unique()
    seen = votes.select(*SERIES_KEYS, "provider", pl.col("date").alias("last_seen")).unique()
    cand = (
        dates.join(seen, on=SERIES_KEYS)
        .filter(
            (pl.col("last_seen") < pl.col("date"))
            & (pl.col("last_seen") >= pl.col("date") - pl.duration(days=PANEL_DAYS))
        )
        .group_by([*INDEX_KEYS, "provider"])
        .agg(pl.col("last_seen").max())
    )
    present = votes.select(*INDEX_KEYS, "provider")
    return cand.join(present, on=[*INDEX_KEYS, "provider"], how="anti")


def index_constituents(observations: pl.DataFrame) -> pl.DataFrame:
    """``marts.index_constituents``: one row per date x gpu_model x pricing x segment x
    provider -- the provider's one vote (``price_used``, ``source_used``), whether it is in
    the index and, if not, why (``exclusion_reason``), with every rule's own flag."""
    obs = rule_constant_floor(prepare_observations(observations))
    votes = rule_outlier(rule_not_a_spot_price(provider_votes(obs)))
    votes = votes.with_columns(exclusion_reason()).with_columns(
        pl.col("exclusion_reason").is_null().alias("included"),
        pl.col("date").alias("last_seen"),
    )
    absent = _panel_absentees(votes).with_columns(
        pl.lit(False).alias("included"),
        pl.lit("not_reported").alias("exclusion_reason"),
        *(
            pl.lit(False).alias(c)
            for c in (
                "flag_constant_floor",
                "floor_observations_dropped",
                "flag_not_a_spot_price",
                "flag_outlier",
            )
        ),
    )
    out = pl.concat([votes, absent], how="diagonal_relaxed")
    return out.select(
        "date",
        "gpu_model",
        "pricing",
        "segment",
        "provider",
        "price_used",
        "source_used",
        "included",
        "exclusion_reason",
        "provider_tiers",
        "n_feeds",
        "feeds_overridden",
        "flag_constant_floor",
        "floor_observations_dropped",
        "flag_not_a_spot_price",
        "flag_outlier",
        "last_seen",
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    ).sort(CONSTITUENT_KEYS)


# ---------------------------------------------------------------------------- index


def confidence_expr() -> pl.Expr:
    """Index confidence from matched providers, panel coverage and the spread of the matched
    price relatives (``CONFIDENCE``); never from offer counts."""
    hi, med = CONFIDENCE["high"], CONFIDENCE["medium"]
    linked = pl.col("link_status").is_in(["matched", "thin"])
    return (
        pl.when(
            linked
            & (pl.col("n_providers_matched") >= hi["min_matched"])
            & (pl.col("panel_coverage") >= hi["min_coverage"])
            & (pl.col("relative_spread_log") <= hi["max_relative_spread"])
        )
        .then(pl.lit("high"))
        .when(
            linked
            & (pl.col("n_providers_matched") >= med["min_matched"])
            & (pl.col("panel_coverage") >= med["min_coverage"])
        )
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
        .alias("confidence")
    )


def gpu_price_index(constituents: pl.DataFrame) -> pl.DataFrame:
    """``marts.gpu_price_index``: per date x gpu_model x pricing x segment, the like-for-like
    change against the previous index date (Jevons: geometric mean of the price relatives of
    the providers included on both dates), chained into ``index_level``."""
    _require(
        constituents,
        [*CONSTITUENT_KEYS, "price_used", "included", "exclusion_reason"],
        "constituents",
    )
    inc = constituents.filter(pl.col("included")).select(*CONSTITUENT_KEYS, "price_used")
    panel = (
        constituents.filter(pl.col("included") | (pl.col("exclusion_reason") == "not_reported"))
        .group_by(INDEX_KEYS)
        .agg(pl.col("provider").n_unique().alias("n_panel"))
    )
    days = (
        inc.group_by(INDEX_KEYS)
        .agg(
            pl.col("provider").n_unique().alias("n_providers"),
            pl.col("price_used").log().median().exp().alias("median_price"),
        )
        .sort(INDEX_KEYS)
        .with_columns(pl.col("date").shift(1).over(SERIES_KEYS).alias("prev_date"))
    )
    prev = inc.select(
        *SERIES_KEYS,
        "provider",
        pl.col("date").alias("prev_date"),
        pl.col("price_used").alias("price_prev"),
    )
    rel = (
        inc.join(days.select(*INDEX_KEYS, "prev_date"), on=INDEX_KEYS)
        .join(prev, on=[*SERIES_KEYS, "provider", "prev_date"], how="inner")
        .with_columns((pl.col("price_used") / pl.col("price_prev")).log().alias("_lr"))
        .group_by(INDEX_KEYS)
        .agg(
            pl.len().alias("n_providers_matched"),
            pl.col("_lr").mean().alias("_mean_lr"),
            pl.col("_lr").min().exp().alias("min_relative"),
            pl.col("_lr").max().exp().alias("max_relative"),
            (pl.col("_lr").max() - pl.col("_lr").min()).alias("relative_spread_log"),
        )
    )
    f = days.join(rel, on=INDEX_KEYS, how="left").join(panel, on=INDEX_KEYS, how="left")
    gap_days = (pl.col("date") - pl.col("prev_date")).dt.total_days()
    f = f.with_columns(
        pl.col("n_providers_matched").fill_null(0).cast(pl.Int64),
        pl.when(pl.col("prev_date").is_null())
        .then(pl.lit("base"))
        .when(gap_days > MAX_LINK_GAP_DAYS)
        .then(pl.lit("gap"))
        .when(pl.col("n_providers_matched").fill_null(0) >= 2)
        .then(pl.lit("matched"))
        .when(pl.col("n_providers_matched").fill_null(0) == 1)
        .then(pl.lit("thin"))
        .otherwise(pl.lit("no_match"))
        .alias("link_status"),
        (pl.col("n_providers") / pl.col("n_panel")).alias("panel_coverage"),
    )
    linked = pl.col("link_status").is_in(["matched", "thin"])
    f = (
        f.with_columns(
            pl.when(linked).then((pl.col("_mean_lr").exp() - 1.0) * 100.0).alias("change_1d_pct"),
            pl.when(linked).then(pl.col("_mean_lr")).otherwise(0.0).alias("_step"),
            *(
                pl.when(linked).then(pl.col(c)).alias(c)
                for c in ("min_relative", "max_relative", "relative_spread_log")
            ),
        )
        .sort(INDEX_KEYS)
        .with_columns(
            (INDEX_BASE_LEVEL * pl.col("_step").cum_sum().over(SERIES_KEYS).exp()).alias(
                "index_level"
            ),
        )
    )
    f = f.with_columns(confidence_expr())
    # The index in USD, anchored at the series' newest date: there it equals that day's median
    # of included votes (a price someone pays today), and every earlier value differs from it
    # only by the chained like-for-like links, so a panel change never moves it. Anchoring at
    # the base date instead would carry the base day's panel forever (L40S on the real log:
    # $1.81 against a $0.85 median today). The anchor moves as dates arrive; the index does
    # not, so this is a re-expression, not a restatement. It prices a GPU-hour in the serving
    # cost mart ("the day's like-for-like market level").
    f = f.with_columns(
        (
            pl.col("median_price").last().over(SERIES_KEYS, order_by="date")
            * pl.col("index_level")
            / pl.col("index_level").last().over(SERIES_KEYS, order_by="date")
        ).alias("level_usd_per_gpu_hour"),
    )
    return f.select(
        "date",
        "gpu_model",
        "pricing",
        "segment",
        "index_level",
        "change_1d_pct",
        "n_providers",
        "n_providers_matched",
        "confidence",
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
        "prev_date",
        "link_status",
        "min_relative",
        "max_relative",
        "relative_spread_log",
        pl.col("n_panel").alias("n_panel_providers"),
        "panel_coverage",
        pl.col("median_price").alias("median_price_included"),
        "level_usd_per_gpu_hour",
    ).sort(INDEX_KEYS)


def index_change(index: pl.DataFrame, horizon_days: int, tolerance_days: int) -> pl.DataFrame:
    """Like-for-like change over ``horizon_days``: ``index_level`` today over the level of the
    latest index date in [date - horizon - tolerance, date - horizon] of the same series,
    in percent (null when there is none)."""
    ref = index.select(
        *SERIES_KEYS, pl.col("date").alias("_ref_date"), pl.col("index_level").alias("_ref_level")
    ).sort("_ref_date")
    target = index.select(
        *SERIES_KEYS,
        "date",
        "index_level",
        (pl.col("date") - pl.duration(days=horizon_days)).alias("_target"),
    ).sort("_target")
    m = target.join_asof(
        ref,
        left_on="_target",
        right_on="_ref_date",
        by=SERIES_KEYS,
        strategy="backward",
        tolerance=f"{tolerance_days}d",
        check_sortedness=False,
    )
    return m.select(
        *INDEX_KEYS,
        ((pl.col("index_level") / pl.col("_ref_level") - 1.0) * 100.0).alias(
            f"change_{horizon_days}d_like_for_like_pct"
        ),
    )
