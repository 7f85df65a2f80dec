"""Model releases, API prices and the NVIDIA-margin indicators: pure polars functions.

Inputs are the raw family tables (``raw.model_catalog``, ``raw.api_prices``), the quarterly
financials (``pipelines.lib.financials``) and the GPU marts (``marts.daily_summary``,
``marts.provider_spreads``) plus the spec seed. The Dagster assets in
``pipelines/defs/market.py`` read them, call these, and write ``marts.model_releases``,
``marts.api_prices_daily``, ``marts.nvidia_financials`` and ``marts.nvidia_margin_indicators``.

Every indicator row carries its formula and the assumptions it used (JSON), so a number in
the table can always be traced back. Assumptions live in ``[economics]`` of the config, each
with its source; ``ECONOMICS_DEFAULTS`` mirrors them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import polars as pl

from pipelines.lib.market_index import METHODOLOGY_VERSION

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


# ----------------------------------------------------------------------------- model releases


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


# ----------------------------------------------------------------------------- API prices


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


# ----------------------------------------------------------------------------- indicators

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


def _active_params_table(
    releases: pl.DataFrame | None, cfg: dict[str, Any], keys: list[str] | None = None
) -> pl.DataFrame:
    """Active parameters per model key, each with where it came from, in this order: config
    ``model_active_params``; the sourced mixture-of-experts table (``pipelines.lib.moe_params``)
    for ``keys``; an active count in ``marts.model_releases``; the total count of a model of a
    documented dense family. A model in none of them has no row: its active count is unknown
    (a total parameter count alone never makes a model dense -- DeepSeek-V3's 671B would be
    costed 18x too high)."""
    from pipelines.lib.moe_params import dense_evidence, moe_model

    schema = {"model_key": pl.Utf8, "n_active": pl.Float64, "params_source": pl.Utf8}
    rows = [
        {
            "model_key": k.lower(),
            "n_active": float(v),
            "params_source": "config model_active_params",
        }
        for k, v in cfg.get("model_active_params", {}).items()
    ]
    seen = {r["model_key"] for r in rows}
    candidates = set(keys or [])
    if releases is not None and releases.height:
        candidates |= set(releases["model_key"].drop_nulls().to_list())
    for key in sorted(candidates - seen):
        moe = moe_model(key)
        if moe is not None:
            rows.append(
                {
                    "model_key": key,
                    "n_active": moe.active,
                    "params_source": f"moe table: {moe.source}",
                }
            )
            seen.add(key)
    if releases is not None and releases.height:
        for key, active, total in releases.select(
            "model_key", "active_parameters", "parameters"
        ).iter_rows():
            if key is None or key in seen:
                continue
            if active is not None:
                rows.append(
                    {"model_key": key, "n_active": active, "params_source": "marts.model_releases"}
                )
            elif total is not None and dense_evidence(key):
                rows.append(
                    {
                        "model_key": key,
                        "n_active": total,
                        "params_source": f"marts.model_releases total; dense: {dense_evidence(key)}",
                    }
                )
            else:
                continue
            seen.add(key)
    return pl.DataFrame(rows, schema=schema)


def _api_margin_proxy(summary, specs, releases, api_daily, cfg) -> pl.DataFrame:
    ref, mfu = cfg["reference_gpu"], float(cfg["mfu_inference"])
    peak = specs.filter(pl.col("gpu_model") == ref)["bf16_tflops"]
    if peak.len() == 0 or peak[0] is None:
        return pl.DataFrame(schema=INDICATOR_SCHEMA)
    peak_flops = float(peak[0]) * 1e12
    h100 = (
        summary.filter((pl.col("gpu_model") == ref) & (pl.col("pricing") == "on_demand"))
        .select("date", pl.col("market_median").alias("gpu_price"))
        .sort("date")
    )
    all_prices = (
        api_daily.filter(pl.col("output_usd_per_mtok") > 0)
        .group_by(["date", "model_key"])
        .agg(pl.col("output_usd_per_mtok").min().alias("api_price"))
    )
    active = _active_params_table(
        releases, cfg, all_prices["model_key"].drop_nulls().unique().to_list()
    )
    prices = all_prices.join(active, on="model_key").sort("date")
    assumptions = {
        "reference_gpu": ref,
        "mfu_inference": mfu,
        "mfu_source": cfg["mfu_inference_source"],
        "active_params": "config, else the sourced mixture-of-experts table "
        "(pipelines/lib/moe_params.py), else marts.model_releases (an active "
        "count, or the total of a documented dense family)",
    }
    formula = (
        "cheapest API price per 1M output tokens / implied serving cost per 1M tokens "
        f"(2 x active params x 1e6 FLOPs at {ref} dense BF16 peak x MFU, at the day's {ref} "
        "on-demand market median); >1 = the API charges more than raw GPU time"
    )
    if h100.height == 0 or all_prices.height == 0:
        return pl.DataFrame(schema=INDICATOR_SCHEMA)
    parts = []
    if prices.height:
        # for every GPU-price day, each model's latest API price at or before it (<= 120 days old)
        grid = h100.join(prices.select("model_key").unique(), how="cross").sort("date")
        joined = grid.join_asof(
            prices.rename({"date": "api_date"}).sort("api_date"),
            left_on="date",
            right_on="api_date",
            by="model_key",
            strategy="backward",
            tolerance="120d",
            check_sortedness=False,
        ).filter(pl.col("api_price").is_not_null())
        out = joined.with_columns(
            (2 * pl.col("n_active") * 1e6 / (peak_flops * mfu) / 3600 * pl.col("gpu_price")).alias(
                "serving_cost"
            ),
        ).select(
            "date",
            pl.col("model_key").alias("subject"),
            pl.lit("on_demand").alias("pricing"),
            (pl.col("api_price") / pl.col("serving_cost")).alias("value"),
            pl.col("api_price").alias("numerator"),
            pl.col("serving_cost").alias("denominator"),
        )
        parts.append(_rows(out, "api_margin_proxy", "ratio", formula, assumptions))
    # models whose active parameters are unknown: one flagged row each (newest GPU-price day, its
    # latest API price beside it), no value -- never costed as if dense
    unknown = all_prices.filter(
        ~pl.col("model_key").is_in(active["model_key"].implode())
        & pl.col("model_key").is_not_null()
    )
    if unknown.height:
        last = h100["date"].max()
        latest = unknown.filter(pl.col("date") <= last).sort("date").group_by("model_key").last()
        flagged = latest.select(
            pl.lit(last).alias("date"),
            pl.col("model_key").alias("subject"),
            pl.lit("on_demand").alias("pricing"),
            pl.lit(None, pl.Float64).alias("value"),
            pl.col("api_price").alias("numerator"),
            pl.lit(None, pl.Float64).alias("denominator"),
        )
        parts.append(
            _rows(
                flagged,
                "api_margin_proxy",
                "ratio",
                formula,
                {
                    **assumptions,
                    "active_params": "unknown: not in config, the mixture-of-experts "
                    "table or model_releases, and not a documented dense family; no value computed",
                },
            )
        )
    return pl.concat(parts) if parts else pl.DataFrame(schema=INDICATOR_SCHEMA)


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
