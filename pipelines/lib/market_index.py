"""The like-for-like GPU rental price index (methodology 2.0): constituents, hygiene, index.

Pure polars, no I/O. The Dagster assets in ``pipelines/defs/analytics.py`` read the offers
from ``intermediate.int_comparable_offers`` (aggregated by ``observations_sql``), call
``index_constituents`` and ``gpu_price_index``, and write ``marts.index_constituents`` and
``marts.gpu_price_index``. METHODOLOGY.md at the repository root is the reader's version of
this module; the constants below are the numbers it quotes.

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

METHODOLOGY_VERSION = "2.0"
SEGMENTS = ("all", "hyperscaler", "neocloud", "marketplace")
SERIES_KEYS = ["gpu_model", "pricing", "segment"]
INDEX_KEYS = ["date", *SERIES_KEYS]
CONSTITUENT_KEYS = [*INDEX_KEYS, "provider"]
INDEX_BASE_LEVEL = 100.0

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


# ---------------------------------------------------------------------------- restatements

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
