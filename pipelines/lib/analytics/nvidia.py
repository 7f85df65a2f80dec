"""The NVIDIA-margin indicators (``marts.nvidia_margin_indicators``): pure polars functions.

Inputs are the raw family tables (``raw.model_catalog``, ``raw.api_prices``), the quarterly
financials (``pipelines.lib.financials``) and the GPU marts (``marts.daily_summary``,
``marts.provider_spreads``) plus the spec seed. The Python model
``sql/marts/nvidia_margin_indicators.py`` reads them and calls ``margin_indicators``; the API
margin proxy is in ``api_margin``, the shared row helpers in ``indicators``.

Every indicator row carries its formula and the assumptions it used (JSON), so a number in
the table can always be traced back. Assumptions live in ``[economics]`` of the config, each
with its source; ``ECONOMICS_DEFAULTS`` mirrors them.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipelines.lib.analytics.api_margin import _api_margin_proxy
from pipelines.lib.analytics.indicators import (
    HOURS_PER_YEAR,
    INDICATOR_SCHEMA,
    _pair_confidence,
    _pflop_cost,
    _ratio_pairs,
    _rows,
    _side_quality,
    economics,
)


def margin_indicators(
    *,
    summary: pl.DataFrame,
    spreads: pl.DataFrame,
    specs: pl.DataFrame,
    releases: pl.DataFrame | None = None,
    api_daily: pl.DataFrame | None = None,
    financials: pl.DataFrame | None = None,
    config: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """``marts.nvidia_margin_indicators``: see the formulas in each block and the model docs."""
    cfg = economics(config)
    precision = cfg["precision"]
    parts: list[pl.DataFrame] = []
    cost = _pflop_cost(summary, specs, precision)
    unit_pflop = f"ratio of USD per dense {precision.upper()} PFLOP-hour"

    # 1-2. NVIDIA vs AMD, NVIDIA vs custom silicon: cost per dense PFLOP-hour ratio, same day and price type
    for name, others, src in (
        ("nvidia_vs_amd_cost_per_pflop", cfg["amd_gpus"], "amd_gpus"),
        ("nvidia_vs_custom_silicon_cost_per_pflop", cfg["custom_silicon"], "custom_silicon"),
    ):
        pairs = _ratio_pairs(cost, cfg["nvidia_gpus"], others)
        parts.append(
            _rows(
                pairs,
                name,
                unit_pflop,
                f"(NVIDIA market median USD/GPU-h / dense {precision} PFLOPS) / (same for the "
                f"other chip), same date and pricing; >1 = buyers pay a premium per FLOP for NVIDIA",
                {
                    "precision": precision,
                    "nvidia_gpus": cfg["nvidia_gpus"],
                    src: others,
                    "market_median": "median over providers of each provider's lowest price",
                },
            )
        )

    # 3. hyperscaler premium (from provider_spreads)
    hp = spreads.filter(pl.col("hyperscaler_premium").is_not_null()).select(
        "date",
        pl.col("gpu_model").alias("subject"),
        "pricing",
        pl.col("hyperscaler_premium").alias("value"),
        pl.col("hyperscaler_median").alias("numerator"),
        pl.col("non_hyperscaler_median").alias("denominator"),
    )
    parts.append(
        _rows(
            hp,
            "hyperscaler_premium",
            "ratio",
            "median hyperscaler price / median neocloud+marketplace price (USD per GPU-hour)",
            {
                "tiers": "hyperscaler = AWS, Azure, GCP, OCI, IBM; providers spanning two tiers excluded"
            },
        )
    )

    # 4. rental-implied annual revenue and payback; 5. rental-implied value vs build cost
    util, life = float(cfg["utilization"]), float(cfg["useful_life_years"])
    od = summary.filter(pl.col("pricing") == "on_demand").select(
        "date", "gpu_model", "pricing", "market_median"
    )
    revenue = od.with_columns(
        (pl.col("market_median") * HOURS_PER_YEAR * util).alias("annual_revenue")
    )
    parts.append(
        _rows(
            revenue.select(
                "date",
                pl.col("gpu_model").alias("subject"),
                "pricing",
                pl.col("annual_revenue").alias("value"),
                pl.col("market_median").alias("numerator"),
                pl.lit(None, pl.Float64).alias("denominator"),
            ),
            "rental_implied_annual_revenue_usd",
            "USD per GPU per year",
            "market median USD/GPU-h x 8,760 h x utilization",
            {"utilization": util, "utilization_source": cfg["utilization_source"]},
        )
    )
    purchase = pl.DataFrame(
        {
            "gpu_model": list(cfg["purchase_price_usd"]),
            "price": [float(v) for v in cfg["purchase_price_usd"].values()],
        },
        schema={"gpu_model": pl.Utf8, "price": pl.Float64},
    )
    payback = revenue.join(purchase, on="gpu_model").select(
        "date",
        pl.col("gpu_model").alias("subject"),
        "pricing",
        (pl.col("price") / (pl.col("annual_revenue") / 12)).alias("value"),
        pl.col("price").alias("numerator"),
        (pl.col("annual_revenue") / 12).alias("denominator"),
    )
    parts.append(
        _rows(
            payback,
            "payback_months",
            "months",
            "purchase price / (rental-implied annual revenue / 12)",
            {
                "utilization": util,
                "purchase_price_usd": cfg["purchase_price_usd"],
                "purchase_price_source": cfg["purchase_price_source"],
            },
        )
    )
    build = pl.DataFrame(
        {
            "gpu_model": list(cfg["build_cost_usd"]),
            "cost": [float(v) for v in cfg["build_cost_usd"].values()],
        },
        schema={"gpu_model": pl.Utf8, "cost": pl.Float64},
    )
    value = revenue.join(build, on="gpu_model").select(
        "date",
        pl.col("gpu_model").alias("subject"),
        "pricing",
        (pl.col("annual_revenue") * life / pl.col("cost")).alias("value"),
        (pl.col("annual_revenue") * life).alias("numerator"),
        pl.col("cost").alias("denominator"),
    )
    parts.append(
        _rows(
            value,
            "rental_value_vs_build_cost",
            "ratio",
            "rental-implied annual revenue x useful life / estimated build cost",
            {
                "utilization": util,
                "useful_life_years": life,
                "build_cost_usd": cfg["build_cost_usd"],
                "build_cost_source": cfg["build_cost_source"],
                "useful_life_source": cfg["useful_life_source"],
            },
        )
    )

    # 6. generation pricing: price ratio vs FLOPS ratio
    gen_parts = []
    for new, old in cfg["generation_pairs"]:
        a = cost.filter(pl.col("gpu_model") == new).select(
            "date",
            "pricing",
            pl.col("market_median").alias("pn"),
            pl.col("tflops").alias("fn"),
            pl.col("_n").alias("_na"),
            pl.col("_conf").alias("_ca"),
        )
        b = cost.filter(pl.col("gpu_model") == old).select(
            "date",
            "pricing",
            pl.col("market_median").alias("po"),
            pl.col("tflops").alias("fo"),
            pl.col("_n").alias("_nb"),
            pl.col("_conf").alias("_cb"),
        )
        gen_parts.append(
            a.join(b, on=["date", "pricing"]).select(
                "date",
                pl.lit(f"{new} vs {old}").alias("subject"),
                "pricing",
                ((pl.col("pn") / pl.col("po")) / (pl.col("fn") / pl.col("fo"))).alias("value"),
                (pl.col("pn") / pl.col("po")).alias("numerator"),
                (pl.col("fn") / pl.col("fo")).alias("denominator"),
                _pair_confidence("_na", "_nb", "_ca", "_cb"),
            )
        )
    if gen_parts:
        parts.append(
            _rows(
                pl.concat(gen_parts),
                "generation_price_vs_flops",
                "ratio",
                f"(price new / price old) / (dense {precision} TFLOPS new / old); <1 = the new "
                "generation is cheaper per FLOP",
                {"pairs": cfg["generation_pairs"], "precision": precision},
            )
        )

    # 7. API margin proxy
    if api_daily is not None and api_daily.height:
        parts.append(_api_margin_proxy(summary, specs, releases, api_daily, cfg))

    # 8. reported gross margin beside the rental index of the quarter
    if financials is not None and financials.height:
        parts.append(_reported_margin(summary, financials, cfg))

    parts = [p for p in parts if p.height]
    if not parts:
        return pl.DataFrame(schema=INDICATOR_SCHEMA)
    return pl.concat(parts).sort(["indicator", "subject", "pricing", "date"])


def _reported_margin(summary, financials, cfg) -> pl.DataFrame:
    ref = cfg["reference_gpu"]
    idx = summary.filter((pl.col("gpu_model") == ref) & (pl.col("pricing") == "on_demand")).select(
        "date", "market_median", *_side_quality(summary)
    )
    q = financials.select(
        "fiscal_year",
        "fiscal_quarter",
        "period_start",
        "period_end",
        "gross_margin",
        "gross_profit",
        "revenue",
        (
            pl.lit("FY")
            + pl.col("fiscal_year").cast(pl.Utf8)
            + pl.lit("Q")
            + pl.col("fiscal_quarter").cast(pl.Utf8)
        ).alias("subject"),
    )
    rental = (
        q.join(idx, how="cross")
        .filter(
            (pl.col("date") >= pl.col("period_start")) & (pl.col("date") <= pl.col("period_end"))
        )
        .group_by("subject")
        .agg(
            pl.col("market_median").mean().alias("rental_index"),
            pl.len().alias("rental_days"),
            # a day's median of one provider is that provider's price list
            (pl.col("_n").fill_null(0) >= 2).all().alias("_two_every_day"),
        )
    )
    q = q.join(rental, on="subject", how="left")
    margin = q.select(
        pl.col("period_end").alias("date"),
        "subject",
        pl.lit(None, pl.Utf8).alias("pricing"),
        pl.col("gross_margin").alias("value"),
        pl.col("gross_profit").alias("numerator"),
        pl.col("revenue").alias("denominator"),
    )
    index = q.filter(pl.col("rental_index").is_not_null()).select(
        pl.col("period_end").alias("date"),
        "subject",
        pl.lit("on_demand").alias("pricing"),
        pl.col("rental_index").alias("value"),
        pl.col("rental_days").cast(pl.Float64).alias("numerator"),
        pl.lit(None, pl.Float64).alias("denominator"),
        # a mean of cross-sectional medians: at best medium (composition changes move it)
        pl.when(pl.col("_two_every_day"))
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
        .alias("confidence"),
    )
    return pl.concat(
        [
            _rows(
                margin,
                "nvidia_reported_gross_margin",
                "fraction",
                "gross profit / revenue of the fiscal quarter "
                "(SEC EDGAR XBRL; Q4 = fiscal year - 9-month year to date)",
                {"source": "marts.nvidia_financials"},
                period="fiscal_quarter",
            ),
            _rows(
                index,
                "rental_index_for_quarter",
                "USD per GPU-hour",
                f"mean over the quarter's days of the {ref} on-demand market median (numerator = days observed)",
                {"reference_gpu": ref},
                period="fiscal_quarter",
            ),
        ]
    )
