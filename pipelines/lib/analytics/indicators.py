"""Building blocks of the NVIDIA-margin indicators: the economics assumptions (``[economics]``
of the config, each with its source; ``ECONOMICS_DEFAULTS`` mirrors them), the indicator
row schema (every row carries its formula and assumptions as JSON) and the per-FLOP cost and
confidence helpers. Pure polars, no I/O.
"""

from __future__ import annotations

import json
from typing import Any

import polars as pl

from pipelines.lib.analytics.gpu_index import METHODOLOGY_VERSION

HOURS_PER_YEAR = 8760.0

ECONOMICS_DEFAULTS: dict[str, Any] = {
    "utilization": 0.7,
    "utilization_source": "assumption: a well-run rental fleet bills ~70% of hours (planning figure)",
    "useful_life_years": 5.0,
    "useful_life_source": "assumption: hyperscalers depreciate servers over 5-6 years (10-K filings)",
    "mfu_inference": 0.3,
    "mfu_inference_source": "assumption: batched serving sustains ~30% of dense peak",
    "reference_gpu": "H100-SXM-80GB",
    "precision": "bf16",
    "nvidia_gpus": ["H100-SXM-80GB", "H200-SXM-141GB", "B200-180GB"],
    "amd_gpus": ["MI300X-192GB", "MI325X-256GB", "MI355X-288GB"],
    "custom_silicon": [
        "TPUV5E-16GB",
        "TPUV5P-95GB",
        "TPUV6E-32GB",
        "TRAINIUM-32GB",
        "TRAINIUM2-96GB",
        "INFERENTIA2-32GB",
    ],
    "generation_pairs": [
        ["B200-180GB", "H100-SXM-80GB"],
        ["H200-SXM-141GB", "H100-SXM-80GB"],
        ["H100-SXM-80GB", "A100-SXM-80GB"],
    ],
    "build_cost_usd": {"H100-SXM-80GB": 3320.0, "B200-180GB": 6400.0},
    "build_cost_source": "published analyst estimates of NVIDIA's manufacturing cost (DOMAIN.md): "
    "~$3,320 per H100, ~$6,400 per B200",
    "purchase_price_usd": {
        "H100-SXM-80GB": 27500.0,
        "H200-SXM-141GB": 32000.0,
        "B200-180GB": 37500.0,
        "A100-SXM-80GB": 15000.0,
        "MI300X-192GB": 15000.0,
    },
    "purchase_price_source": "assumption: mid-points of reported street prices (H100 $25-30k, H200 ~$32k, "
    "B200 $35-40k, A100 80GB ~$15k, MI300X ~$10-20k)",
    "model_active_params": {},
    "model_active_params_source": "model cards (see config)",
}


def economics(config: dict[str, Any] | None) -> dict[str, Any]:
    out = dict(ECONOMICS_DEFAULTS)
    out.update(config or {})
    return out


INDICATOR_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "period": pl.Utf8,
    "indicator": pl.Utf8,
    "subject": pl.Utf8,
    "pricing": pl.Utf8,
    "value": pl.Float64,
    "unit": pl.Utf8,
    "numerator": pl.Float64,
    "denominator": pl.Float64,
    "formula": pl.Utf8,
    "assumptions": pl.Utf8,
    # methodology 2.0: 'low' where a ratio rests on fewer than two providers on a side; null
    # where the indicator does not assess it
    "confidence": pl.Utf8,
    "methodology_version": pl.Utf8,
}
_CONFIDENCE_RANK = {"low": 0, "medium": 1, "high": 2}


def _rows(
    frame: pl.DataFrame,
    indicator: str,
    unit: str,
    formula: str,
    assumptions: dict[str, Any],
    period: str = "day",
) -> pl.DataFrame:
    """frame: date, subject, pricing, value, numerator, denominator -> indicator rows."""
    return frame.select(
        "date",
        pl.lit(period).alias("period"),
        pl.lit(indicator).alias("indicator"),
        "subject",
        "pricing",
        "value",
        pl.lit(unit).alias("unit"),
        "numerator",
        "denominator",
        pl.lit(formula).alias("formula"),
        pl.lit(json.dumps(assumptions, sort_keys=True)).alias("assumptions"),
        pl.col("confidence")
        if "confidence" in frame.columns
        else pl.lit(None, pl.Utf8).alias("confidence"),
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    ).cast(INDICATOR_SCHEMA)


def _side_quality(summary: pl.DataFrame) -> list[pl.Expr]:
    """Providers behind a market median (after the index's hygiene where known) and its
    confidence, as ``_n`` and ``_conf``; null where the summary does not carry them."""
    n = [c for c in ("n_providers_index", "n_providers") if c in summary.columns]
    return [
        pl.coalesce([pl.col(c) for c in n]).cast(pl.Int64).alias("_n")
        if n
        else pl.lit(None, pl.Int64).alias("_n"),
        pl.col("confidence").alias("_conf")
        if "confidence" in summary.columns
        else pl.lit(None, pl.Utf8).alias("_conf"),
    ]


def _pair_confidence(n_a: str, n_b: str, conf_a: str, conf_b: str) -> pl.Expr:
    """A ratio of two market medians: 'low' unless both rest on >= 2 providers, else the
    lower of the two sides' confidence (medium where they carry none)."""
    rank = _CONFIDENCE_RANK
    worst = pl.min_horizontal(
        pl.col(conf_a).replace_strict(rank, default=1),
        pl.col(conf_b).replace_strict(rank, default=1),
    )
    return (
        pl.when((pl.col(n_a) >= 2) & (pl.col(n_b) >= 2))
        .then(worst.replace_strict({v: k for k, v in rank.items()}, return_dtype=pl.Utf8))
        .otherwise(pl.lit("low"))
        .alias("confidence")
    )


def _pflop_cost(summary: pl.DataFrame, specs: pl.DataFrame, precision: str) -> pl.DataFrame:
    col = {"bf16": "bf16_tflops", "fp8": "fp8_tflops", "fp16": "bf16_tflops"}.get(
        precision, f"{precision}_tflops"
    )
    return (
        summary.join(
            specs.select("gpu_model", pl.col(col).cast(pl.Float64).alias("tflops")), on="gpu_model"
        )
        .filter(pl.col("tflops") > 0)
        .with_columns(
            (pl.col("market_median") / (pl.col("tflops") / 1000)).alias("usd_per_pflop_hour"),
            *_side_quality(summary),
        )
        .select(
            "date",
            "gpu_model",
            "pricing",
            "market_median",
            "tflops",
            "usd_per_pflop_hour",
            "_n",
            "_conf",
        )
    )


def _ratio_pairs(cost: pl.DataFrame, numer: list[str], denom: list[str]) -> pl.DataFrame:
    a = cost.filter(pl.col("gpu_model").is_in(numer)).select(
        "date",
        "pricing",
        pl.col("gpu_model").alias("a"),
        pl.col("usd_per_pflop_hour").alias("numerator"),
        pl.col("_n").alias("_na"),
        pl.col("_conf").alias("_ca"),
    )
    b = cost.filter(pl.col("gpu_model").is_in(denom)).select(
        "date",
        "pricing",
        pl.col("gpu_model").alias("b"),
        pl.col("usd_per_pflop_hour").alias("denominator"),
        pl.col("_n").alias("_nb"),
        pl.col("_conf").alias("_cb"),
    )
    return a.join(b, on=["date", "pricing"]).with_columns(
        (pl.col("a") + " vs " + pl.col("b")).alias("subject"),
        (pl.col("numerator") / pl.col("denominator")).alias("value"),
        _pair_confidence("_na", "_nb", "_ca", "_cb"),
    )
