"""Model releases across OpenRouter, Hugging Face and Epoch AI (``marts.model_releases``):
one row per model key with first seen, organization and parameters. Pure polars, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl


def model_releases(catalog: pl.DataFrame, key_fn: Callable[[str], str]) -> pl.DataFrame:
    """One row per model (``model_key``) across OpenRouter, Hugging Face and Epoch AI.

    ``first_seen`` is the earliest of: the source's own release/listing date (Epoch publication
    date, OpenRouter ``created``, Hub ``createdAt``) and the first day the tracker saw the row.
    Parameters come from the Hub's safetensors count where present (exact), else Epoch; active
    parameters from Epoch's notes (mixture-of-experts)."""
    if catalog.height == 0:
        return pl.DataFrame(schema=MODEL_RELEASES_SCHEMA)
    priority = {"huggingface": 0, "epoch_models": 1, "openrouter": 2}
    rows = catalog.with_columns(
        pl.col("model_id").map_elements(key_fn, return_dtype=pl.Utf8).alias("model_key"),
        pl.coalesce(
            pl.col("publication_date"), pl.col("created_at").dt.date(), pl.col("date")
        ).alias("seen"),
        pl.col("source").replace_strict(priority, default=9, return_dtype=pl.Int32).alias("_prio"),
    ).filter(pl.col("model_key").is_not_null() & (pl.col("model_key") != ""))
    first = (
        rows.sort(["model_key", "seen", "_prio"])
        .group_by("model_key", maintain_order=True)
        .agg(
            pl.col("seen").first().alias("first_seen"),
            pl.col("source").first().alias("first_seen_source"),
            pl.col("model_id").first(),
            pl.col("model_name").first(),
        )
    )
    by_prio = rows.sort(["model_key", "_prio", "date"], descending=[False, False, True])
    facts = by_prio.group_by("model_key", maintain_order=True).agg(
        pl.col("organization").drop_nulls().first(),
        pl.col("parameters").drop_nulls().first(),
        pl.col("active_parameters").drop_nulls().first(),
        pl.col("context_length").max(),
        pl.col("training_compute_flop").drop_nulls().first(),
        pl.col("source").unique().sort().str.join(",").alias("sources"),
        pl.col("date").max().alias("last_seen"),
    )
    out = first.join(facts, on="model_key").with_columns(
        (
            pl.col("active_parameters").is_not_null()
            & (pl.col("active_parameters") < pl.col("parameters"))
        ).alias("is_moe"),
    )
    return (
        out.select(list(MODEL_RELEASES_SCHEMA))
        .cast(MODEL_RELEASES_SCHEMA)
        .sort(["first_seen", "model_key"])
    )


MODEL_RELEASES_SCHEMA: dict[str, pl.DataType] = {
    "model_key": pl.Utf8,
    "model_id": pl.Utf8,
    "model_name": pl.Utf8,
    "organization": pl.Utf8,
    "first_seen": pl.Date,
    "first_seen_source": pl.Utf8,
    "last_seen": pl.Date,
    "parameters": pl.Float64,
    "active_parameters": pl.Float64,
    "is_moe": pl.Boolean,
    "context_length": pl.Int64,
    "training_compute_flop": pl.Float64,
    "sources": pl.Utf8,
}
