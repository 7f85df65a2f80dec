"""Column types of the published marts as the report reads them: one small table, kept apart.

The report coerces every frame to these kinds before it selects anything (``data.prepare``), so
a mart written by an older build (a column missing, a date stored as text) still renders. The
marts declare their own column types in the YAML under ``sql/``; this module is the one place
to point at that registry later, so nothing else in the report names a column type.
"""

from __future__ import annotations

import polars as pl

# Column kinds per mart; missing optional columns are added as nulls, missing required ones
# turn the section into a "No data" note.
_NUM, _INT, _STR, _BOOL, _DATE = "num", "int", "str", "bool", "date"
DATE_KIND = _DATE
SCHEMAS: dict[str, dict[str, str]] = {
    "gpu_price_daily": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "provider_tier": _STR,
        "pricing": _STR,
        "price_min": _NUM,
        "price_median": _NUM,
        "n_offers": _INT,
    },
    "daily_summary": {
        "date": _DATE,
        "gpu_model": _STR,
        "pricing": _STR,
        "market_median": _NUM,
        "p25_price": _NUM,
        "p75_price": _NUM,
        "lowest_price": _NUM,
        "lowest_provider": _STR,
        "change_1d_pct": _NUM,
        "change_7d_pct": _NUM,
        "change_30d_pct": _NUM,
        "n_providers": _INT,
        "n_offers": _INT,
        "available_gpus": _INT,
        "coverage": _NUM,
        "confidence": _STR,
        "methodology_version": _STR,
        "change_1d_like_for_like_pct": _NUM,
        "change_7d_like_for_like_pct": _NUM,
        "change_30d_like_for_like_pct": _NUM,
    },
    "provider_spreads": {
        "date": _DATE,
        "gpu_model": _STR,
        "pricing": _STR,
        "n_providers": _INT,
        "cheapest_provider": _STR,
        "cheapest_price": _NUM,
        "dearest_provider": _STR,
        "dearest_price": _NUM,
        "median_price": _NUM,
        "hyperscaler_median": _NUM,
        "neocloud_median": _NUM,
        "marketplace_median": _NUM,
        "max_min_ratio": _NUM,
        "hyperscaler_premium": _NUM,
    },
    "cost_per_flop": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "pricing": _STR,
        "usd_per_gpu_hour": _NUM,
        "usd_per_pflop_hour_bf16": _NUM,
        "usd_per_gb_vram_hour": _NUM,
        "bf16_is_fp16": _BOOL,
    },
    "price_changes": {
        "date": _DATE,
        "gpu_model": _STR,
        "provider": _STR,
        "pricing": _STR,
        "kind": _STR,
        "prev_date": _DATE,
        "days_since_prev": _INT,
        "price_prev": _NUM,
        "price_now": _NUM,
        "change_abs": _NUM,
        "change_pct": _NUM,
    },
}
SCHEMAS["api_price_families"] = {
    "date": _DATE,
    "family": _STR,
    "cheapest_output_usd_per_mtok": _NUM,
    "cheapest_input_usd_per_mtok": _NUM,
    "cheapest_model_id": _STR,
    "cheapest_source": _STR,
}
SCHEMAS["serving_cost_daily"] = {
    "date": _DATE,
    "model": _STR,
    "gpu_model": _STR,
    "pricing": _STR,
    "usd_per_gpu_hour": _NUM,
    "tokens_per_second_per_gpu": _NUM,
    "usd_per_million_output_tokens": _NUM,
    "usd_per_gpu_hour_cheapest": _NUM,
    "cheapest_provider": _STR,
    "usd_per_million_output_tokens_cheapest": _NUM,
    "cost_rank": _INT,
    "api_output_usd_per_mtok": _NUM,
    "serving_margin": _NUM,
    "benchmark_round": _STR,
    "benchmark_system": _STR,
    "scenario": _STR,
}
# who is in the index and, if not, why: the report marks excluded observations on its charts
SCHEMAS["index_constituents"] = {
    "date": _DATE,
    "gpu_model": _STR,
    "pricing": _STR,
    "segment": _STR,
    "provider": _STR,
    "price_used": _NUM,
    "included": _BOOL,
    "exclusion_reason": _STR,
}
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
