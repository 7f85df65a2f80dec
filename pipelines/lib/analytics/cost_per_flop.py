"""Cost per FLOP: USD per dense PFLOP-hour per precision and USD per GB-VRAM-hour, from each
provider's lowest price (``marts.gpu_price_daily``) and the spec seed (``seeds.gpu_specs``).

USD per dense PFLOP-hour = USD per GPU-hour / (dense TFLOPS / 1000), per precision; INT8 is in
peta-*ops* (TOPS). Pure polars, no I/O (METHODOLOGY.md).
"""

from __future__ import annotations

import polars as pl

from pipelines.lib.analytics.gpu_market import METHODOLOGY_VERSION, PRICE_KEYS, _require

# precision -> (spec seed column, output column)
PRECISIONS = {
    "fp64": ("fp64_tflops", "usd_per_pflop_hour_fp64"),
    "fp32": ("fp32_tflops", "usd_per_pflop_hour_fp32"),
    "tf32": ("tf32_tflops", "usd_per_pflop_hour_tf32"),
    "bf16": ("bf16_tflops", "usd_per_pflop_hour_bf16"),
    "fp8": ("fp8_tflops", "usd_per_pflop_hour_fp8"),
    "int8": ("int8_tops", "usd_per_pop_hour_int8"),
}


def cost_per_flop(prices: pl.DataFrame, specs: pl.DataFrame) -> pl.DataFrame:
    """One row per date x gpu_model x provider x pricing: USD per dense PFLOP-hour by precision
    (from the provider's lowest price that day) and USD per GB-of-VRAM-hour."""
    _require(
        prices, [*PRICE_KEYS, "gpu_family", "provider_tier", "price_min", "price_median"], "prices"
    )
    _require(specs, ["gpu_model", "memory_gb", *(c for c, _ in PRECISIONS.values())], "specs")
    spec_cols = ["gpu_model", "memory_gb", "bf16_is_fp16", *(c for c, _ in PRECISIONS.values())]
    spec = specs.select([c for c in spec_cols if c in specs.columns])
    joined = prices.join(spec, on="gpu_model", how="left")
    per_pflop = []
    for tflops_col, out in PRECISIONS.values():
        t = pl.col(tflops_col).cast(pl.Float64)
        per_pflop.append(
            pl.when(t > 0).then(pl.col("price_min") / (t / 1000.0)).otherwise(None).alias(out)
        )
    return joined.select(
        "date",
        "gpu_model",
        "gpu_family",
        "provider",
        "provider_tier",
        "pricing",
        pl.col("price_min").alias("usd_per_gpu_hour"),
        pl.col("price_median").alias("usd_per_gpu_hour_median"),
        *per_pflop,
        pl.when(pl.col("memory_gb").cast(pl.Float64) > 0)
        .then(pl.col("price_min") / pl.col("memory_gb").cast(pl.Float64))
        .alias("usd_per_gb_vram_hour"),
        (
            pl.col("bf16_is_fp16").fill_null(False)
            if "bf16_is_fp16" in joined.columns
            else pl.lit(False)
        ).alias("bf16_is_fp16"),
        pl.lit(METHODOLOGY_VERSION).alias("methodology_version"),
    ).sort(PRICE_KEYS)
