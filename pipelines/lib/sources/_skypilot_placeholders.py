"""Placeholder prices in a SkyPilot catalog (quirk 10 of ``skypilot_catalog``): the same
whole-dollar per-GPU price for GPUs of different families within one upstream cloud is a
fetcher's stand-in, not a price list. Used by ``skypilot_catalog`` (not a source: no SPEC).

Pure: no I/O.
"""

from __future__ import annotations

import polars as pl

from pipelines.lib.gpus import gpu_family

# a placeholder: the same whole-dollar per-GPU price for this many different GPU families
PLACEHOLDER_MIN_FAMILIES = 2


def flag_placeholders(records: pl.DataFrame) -> pl.DataFrame:
    """Mark placeholder prices: one whole-dollar per-GPU price shared by GPUs of different
    families within one upstream cloud and pricing type (``quarantine_reason`` /
    ``quarantine_detail``; ``normalise_offers`` quarantines them). Real list prices of
    different chips are practically never the same round figure; a fetcher's stand-in is."""
    names = records.get_column("gpu_name").unique().to_list()
    families = {n: gpu_family(n) or n.strip().upper() for n in names}
    per_gpu = pl.col("price").cast(pl.Float64, strict=False) / pl.col("gpu_count").cast(
        pl.Float64, strict=False
    )
    f = records.with_columns(
        pl.col("gpu_name").replace_strict(families, return_dtype=pl.Utf8).alias("_family"),
        per_gpu.round(6).alias("_per_gpu"),
    )
    whole = (pl.col("_per_gpu") >= 1) & (
        (pl.col("_per_gpu") - pl.col("_per_gpu").round(0)).abs() < 1e-9
    )
    groups = (
        f.filter(whole.fill_null(False))
        .group_by("upstream_source", "pricing", "_per_gpu")
        .agg(pl.col("_family").unique().sort().alias("_families"))
        .filter(pl.col("_families").list.len() >= PLACEHOLDER_MIN_FAMILIES)
    )
    if groups.height == 0:
        return records.with_columns(
            pl.lit(None, pl.Utf8).alias("quarantine_reason"),
            pl.lit(None, pl.Utf8).alias("quarantine_detail"),
        )
    groups = groups.with_columns(
        pl.lit("placeholder_price").alias("quarantine_reason"),
        pl.format(
            "{} price of exactly {} USD per GPU-hour for every one of {} in {}: a placeholder, "
            "not a price list",
            pl.col("pricing"),
            pl.col("_per_gpu").cast(pl.Utf8),
            pl.col("_families").list.join(", "),
            pl.col("upstream_source"),
        ).alias("quarantine_detail"),
    ).drop("_families")
    return f.join(
        groups,
        on=["upstream_source", "pricing", "_per_gpu"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).drop("_family", "_per_gpu")
