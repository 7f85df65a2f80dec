"""Which columns of which mart the report reads, and their types from the marts' own YAML.

The report coerces every frame to these kinds before it selects anything (``data.prepare``), so
a mart written by an older build (a column missing, a date stored as text) still renders. The
types are not written here: each mart declares its columns' ``data_type`` once, in the YAML
beside its model under ``sql/marts/`` (checked by dbt_like after every build), and
``pipelines.lib.mart_schemas`` reads them. This module only names the columns the report uses.
"""

from __future__ import annotations

import polars as pl

from pipelines.lib import mart_schemas

_NUM, _INT, _STR, _BOOL, _DATE = "num", "int", "str", "bool", "date"
DATE_KIND = _DATE
# the columns the report reads, per mart (optional ones missing from a frame become nulls,
# missing required ones (REQUIRED) turn the section into a "No data" note)
READS: dict[str, tuple[str, ...]] = {
    "gpu_price_daily": (
        "date",
        "gpu_model",
        "provider",
        "provider_tier",
        "pricing",
        "price_min",
        "price_median",
        "n_offers",
    ),
    "daily_summary": (
        "date",
        "gpu_model",
        "pricing",
        "market_median",
        "p25_price",
        "p75_price",
        "lowest_price",
        "lowest_provider",
        "change_1d_pct",
        "change_7d_pct",
        "change_30d_pct",
        "n_providers",
        "n_offers",
        "available_gpus",
        "coverage",
        "confidence",
        "methodology_version",
        "change_1d_like_for_like_pct",
        "change_7d_like_for_like_pct",
        "change_30d_like_for_like_pct",
    ),
    "provider_spreads": (
        "date",
        "gpu_model",
        "pricing",
        "n_providers",
        "cheapest_provider",
        "cheapest_price",
        "dearest_provider",
        "dearest_price",
        "median_price",
        "hyperscaler_median",
        "neocloud_median",
        "marketplace_median",
        "max_min_ratio",
        "hyperscaler_premium",
    ),
    "cost_per_flop": (
        "date",
        "gpu_model",
        "provider",
        "pricing",
        "usd_per_gpu_hour",
        "usd_per_pflop_hour_bf16",
        "usd_per_gb_vram_hour",
        "bf16_is_fp16",
    ),
    "price_changes": (
        "date",
        "gpu_model",
        "provider",
        "pricing",
        "kind",
        "prev_date",
        "days_since_prev",
        "price_prev",
        "price_now",
        "change_abs",
        "change_pct",
    ),
    "api_price_families": (
        "date",
        "family",
        "cheapest_output_usd_per_mtok",
        "cheapest_input_usd_per_mtok",
        "cheapest_model_id",
        "cheapest_source",
    ),
    "serving_cost_daily": (
        "date",
        "model",
        "gpu_model",
        "pricing",
        "usd_per_gpu_hour",
        "tokens_per_second_per_gpu",
        "usd_per_million_output_tokens",
        "usd_per_gpu_hour_cheapest",
        "cheapest_provider",
        "usd_per_million_output_tokens_cheapest",
        "cost_rank",
        "api_output_usd_per_mtok",
        "serving_margin",
        "benchmark_round",
        "benchmark_system",
        "scenario",
    ),
    "index_constituents": (
        "date",
        "gpu_model",
        "pricing",
        "segment",
        "provider",
        "price_used",
        "included",
        "exclusion_reason",
    ),
}


def _schemas() -> dict[str, dict[str, str]]:
    out = {}
    for mart, columns in READS.items():
        kinds = mart_schemas.column_kinds(mart)
        missing = [c for c in columns if c not in kinds]
        if missing:  # a renamed column must fail here, not render as an empty section
            raise KeyError(f"marts.{mart} declares no column {missing} in its YAML")
        out[mart] = {c: kinds[c] for c in columns}
    return out


SCHEMAS: dict[str, dict[str, str]] = _schemas()
REQUIRED: dict[str, tuple[str, ...]] = {
    "index_constituents": (
        "date",
        "gpu_model",
        "pricing",
        "provider",
        "included",
        "exclusion_reason",
    ),
    "serving_cost_daily": (
        "date",
        "model",
        "gpu_model",
        "pricing",
        "usd_per_million_output_tokens",
    ),
    "api_price_families": ("date", "family", "cheapest_output_usd_per_mtok"),
    "gpu_price_daily": ("date", "gpu_model", "provider", "pricing", "price_min"),
    "daily_summary": ("date", "gpu_model", "pricing", "market_median"),
    "provider_spreads": ("date", "gpu_model", "pricing"),
    "cost_per_flop": ("date", "gpu_model", "provider", "pricing", "usd_per_pflop_hour_bf16"),
    "price_changes": ("date", "gpu_model", "provider", "pricing", "kind"),
}
DTYPES: dict[str, pl.DataType] = {
    _NUM: pl.Float64,
    _INT: pl.Int64,
    _STR: pl.String,
    _BOOL: pl.Boolean,
    _DATE: pl.Date,
}
