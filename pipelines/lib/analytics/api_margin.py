"""The API margin proxy of the NVIDIA-margin indicators: the cheapest API price per 1M output
tokens over the implied serving cost of the model's active parameters at the reference GPU's
market median. Active parameters come from config, the sourced mixture-of-experts table,
``marts.model_releases`` or a documented dense family -- never a guess. Pure polars, no I/O.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from pipelines.lib.analytics.indicators import INDICATOR_SCHEMA, _rows


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
