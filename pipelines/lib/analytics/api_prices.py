"""API token prices (``marts.api_prices_daily``, ``marts.api_price_families``): USD per 1M
input / output tokens per date x source x model with the other source beside it, and the
cheapest price per well-known model family. Pure polars, no I/O.
"""

from __future__ import annotations

import polars as pl

from pipelines.lib.analytics.gpu_index import METHODOLOGY_VERSION

# [api_families] of the config when it has none: label -> regex on model_key
DEFAULT_API_FAMILIES = {
    "GPT-4o": r"^gpt-4o(-20\d\d-\d\d-\d\d)?$",
    "GPT-4o mini": r"^gpt-4o-mini(-20\d\d-\d\d-\d\d)?$",
    "Claude 3.5 Sonnet": r"^claude-3[.-]5-sonnet",
    "Llama 3.1 70B": r"llama-3\.1-70b",
    "Llama 3.1 8B": r"llama-3\.1-8b",
    "DeepSeek V3": r"deepseek-(v3|chat)$",
}


def api_prices_daily(prices: pl.DataFrame, max_gap_days: int = 120) -> pl.DataFrame:
    """USD per 1M input / output tokens per date x source x model, with the *other* source's
    latest price for the same ``model_key`` (as of that date, at most ``max_gap_days`` old)
    and the disagreement between them. OpenRouter and LiteLLM stay separate rows."""
    keys = ["date", "source", "model_id"]
    base = prices.sort([*keys, "payload_name"]).unique(
        subset=keys, keep="first", maintain_order=True
    )
    base = base.select(
        "date",
        "source",
        "model_id",
        "model_key",
        "organization",
        "mode",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "context_length",
    )
    # the other source's cheapest *paid* listing of the key (":free" variants share the key)
    per_key = (
        base.filter(pl.col("output_usd_per_mtok") > 0)
        .group_by(["date", "source", "model_key"])
        .agg(
            pl.col("input_usd_per_mtok").min().alias("other_input_usd_per_mtok"),
            pl.col("output_usd_per_mtok").min().alias("other_output_usd_per_mtok"),
        )
    )
    parts = []
    for source in base["source"].unique().sort().to_list():
        mine = base.filter(pl.col("source") == source).sort("date")
        others = (
            per_key.filter(pl.col("source") != source)
            .rename({"date": "other_date", "source": "other_source"})
            .sort("other_date")
        )
        if others.height == 0:
            parts.append(
                mine.with_columns(
                    pl.lit(None, pl.Date).alias("other_date"),
                    pl.lit(None, pl.Utf8).alias("other_source"),
                    pl.lit(None, pl.Float64).alias("other_input_usd_per_mtok"),
                    pl.lit(None, pl.Float64).alias("other_output_usd_per_mtok"),
                )
            )
            continue
        parts.append(
            mine.join_asof(
                others,
                left_on="date",
                right_on="other_date",
                by="model_key",
                strategy="backward",
                tolerance=f"{max_gap_days}d",
                check_sortedness=False,
            )
        )
    out = (
        pl.concat(parts, how="vertical_relaxed")
        if parts
        else base.with_columns(
            pl.lit(None, pl.Utf8).alias("other_source"),
            pl.lit(None, pl.Date).alias("other_date"),
            pl.lit(None, pl.Float64).alias("other_input_usd_per_mtok"),
            pl.lit(None, pl.Float64).alias("other_output_usd_per_mtok"),
        )
    )
    return (
        out.with_columns(
            ((pl.col("input_usd_per_mtok") / pl.col("other_input_usd_per_mtok") - 1) * 100).alias(
                "input_disagreement_pct"
            ),
            ((pl.col("output_usd_per_mtok") / pl.col("other_output_usd_per_mtok") - 1) * 100).alias(
                "output_disagreement_pct"
            ),
        )
        .with_columns(
            pl.when(pl.col("input_disagreement_pct").is_infinite())
            .then(None)
            .otherwise(pl.col("input_disagreement_pct"))
            .alias("input_disagreement_pct"),
            pl.when(pl.col("output_disagreement_pct").is_infinite())
            .then(None)
            .otherwise(pl.col("output_disagreement_pct"))
            .alias("output_disagreement_pct"),
        )
        .select(API_DAILY_COLUMNS)
        .sort(keys)
    )


API_DAILY_COLUMNS = [
    "date",
    "source",
    "model_id",
    "model_key",
    "organization",
    "mode",
    "input_usd_per_mtok",
    "output_usd_per_mtok",
    "context_length",
    "other_source",
    "other_date",
    "other_input_usd_per_mtok",
    "other_output_usd_per_mtok",
    "input_disagreement_pct",
    "output_disagreement_pct",
]


def cheapest_by_family(api_daily: pl.DataFrame, families: dict[str, str]) -> pl.DataFrame:
    """Cheapest output (and input) price per 1M tokens per date for model families given as
    ``{label: regex on model_key}`` -- across every source and route that lists the family."""
    parts = []
    if api_daily.height == 0 or "output_usd_per_mtok" not in api_daily.columns:
        return pl.DataFrame(schema=FAMILY_SCHEMA)
    for label, pattern in families.items():
        hit = api_daily.filter(
            pl.col("model_key").str.contains(pattern) & (pl.col("output_usd_per_mtok") > 0)
        )
        if hit.height:
            parts.append(
                hit.sort("output_usd_per_mtok")
                .group_by("date", maintain_order=True)
                .agg(
                    pl.lit(label).alias("family"),
                    pl.col("output_usd_per_mtok").first().alias("cheapest_output_usd_per_mtok"),
                    pl.col("model_id").first().alias("cheapest_model_id"),
                    pl.col("source").first().alias("cheapest_source"),
                    pl.col("input_usd_per_mtok").min().alias("cheapest_input_usd_per_mtok"),
                )
            )
    if not parts:
        return pl.DataFrame(schema=FAMILY_SCHEMA)
    return (
        pl.concat(parts)
        .with_columns(pl.lit(METHODOLOGY_VERSION).alias("methodology_version"))
        .select(list(FAMILY_SCHEMA))
        .cast(FAMILY_SCHEMA)
        .sort(["family", "date"])
    )


FAMILY_SCHEMA: dict[str, pl.DataType] = {
    "family": pl.Utf8,
    "date": pl.Date,
    "cheapest_output_usd_per_mtok": pl.Float64,
    "cheapest_input_usd_per_mtok": pl.Float64,
    "cheapest_model_id": pl.Utf8,
    "cheapest_source": pl.Utf8,
    "methodology_version": pl.Utf8,
}
