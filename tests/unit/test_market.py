"""Model releases, API price marts and NVIDIA-margin indicators on small hand-built frames."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from pipelines.lib import market as M
from pipelines.lib.families import MODEL_CATALOG_SCHEMA

D1, D2 = dt.date(2026, 3, 1), dt.date(2026, 3, 2)

SPECS = pl.DataFrame(
    {
        "gpu_model": ["H100-SXM-80GB", "MI300X-192GB", "B200-180GB", "TPUV6E-32GB"],
        "bf16_tflops": [989.4, 1307.4, 2250.0, 918.0],
    }
)


def summary(rows):
    """(date, gpu_model, pricing, market_median)"""
    return pl.DataFrame(
        [{"date": d, "gpu_model": g, "pricing": p, "market_median": m} for d, g, p, m in rows]
    )


SUMMARY = summary(
    [
        (D1, "H100-SXM-80GB", "on_demand", 2.0),
        (D1, "MI300X-192GB", "on_demand", 2.0),
        (D1, "B200-180GB", "on_demand", 4.0),
        (D1, "TPUV6E-32GB", "on_demand", 1.0),
    ]
)
SPREADS = pl.DataFrame(
    {
        "date": [D1],
        "gpu_model": ["H100-SXM-80GB"],
        "pricing": ["on_demand"],
        "hyperscaler_premium": [3.5],
        "hyperscaler_median": [7.0],
        "non_hyperscaler_median": [2.0],
    }
)


def ind(out, indicator, subject=None):
    f = out.filter(pl.col("indicator") == indicator)
    if subject:
        f = f.filter(pl.col("subject") == subject)
    return f


def test_nvidia_vs_amd_and_custom_silicon():
    out = M.margin_indicators(summary=SUMMARY, spreads=SPREADS, specs=SPECS)
    row = ind(out, "nvidia_vs_amd_cost_per_pflop", "H100-SXM-80GB vs MI300X-192GB").row(
        0, named=True
    )
    # (2.0 / 0.9894) / (2.0 / 1.3074) = 1.3074 / 0.9894
    assert row["value"] == pytest.approx(1.3074 / 0.9894)
    assert row["numerator"] == pytest.approx(2.0 / 0.9894)
    assert "precision" in json.loads(row["assumptions"])
    tpu = ind(out, "nvidia_vs_custom_silicon_cost_per_pflop", "B200-180GB vs TPUV6E-32GB").row(
        0, named=True
    )
    assert tpu["value"] == pytest.approx((4.0 / 2.25) / (1.0 / 0.918))


def test_hyperscaler_premium_revenue_payback_and_build_cost():
    cfg = {
        "utilization": 0.5,
        "useful_life_years": 4,
        "purchase_price_usd": {"H100-SXM-80GB": 26280.0},
        "build_cost_usd": {"H100-SXM-80GB": 3504.0},
    }
    out = M.margin_indicators(summary=SUMMARY, spreads=SPREADS, specs=SPECS, config=cfg)
    assert ind(out, "hyperscaler_premium", "H100-SXM-80GB")["value"].to_list() == [3.5]
    revenue = ind(out, "rental_implied_annual_revenue_usd", "H100-SXM-80GB")["value"][0]
    assert revenue == pytest.approx(2.0 * 8760 * 0.5)  # 8,760 USD
    assert ind(out, "payback_months", "H100-SXM-80GB")["value"][0] == pytest.approx(
        26280 / (8760 / 12)
    )  # 36
    assert ind(out, "rental_value_vs_build_cost", "H100-SXM-80GB")["value"][0] == pytest.approx(
        8760 * 4 / 3504
    )


def test_generation_price_vs_flops():
    out = M.margin_indicators(summary=SUMMARY, spreads=SPREADS, specs=SPECS)
    row = ind(out, "generation_price_vs_flops", "B200-180GB vs H100-SXM-80GB").row(0, named=True)
    assert row["numerator"] == pytest.approx(2.0)  # price ratio
    assert row["denominator"] == pytest.approx(2250 / 989.4)  # FLOPS ratio
    assert row["value"] == pytest.approx(2.0 / (2250 / 989.4))


def test_api_margin_proxy_by_hand():
    api = pl.DataFrame(
        {
            "date": [D1 - dt.timedelta(days=10)],
            "model_key": ["llama-3.1-70b-instruct"],
            "output_usd_per_mtok": [0.8],
        }
    )
    cfg = {"model_active_params": {"llama-3.1-70b-instruct": 70e9}, "mfu_inference": 0.5}
    out = M.margin_indicators(
        summary=SUMMARY, spreads=SPREADS, specs=SPECS, api_daily=api, config=cfg
    )
    row = ind(out, "api_margin_proxy", "llama-3.1-70b-instruct").row(0, named=True)
    serving = 2 * 70e9 * 1e6 / (989.4e12 * 0.5) / 3600 * 2.0  # USD per 1M tokens at $2/GPU-h
    assert row["denominator"] == pytest.approx(serving)
    assert row["value"] == pytest.approx(0.8 / serving)


def test_reported_margin_beside_rental_index():
    fin = pl.DataFrame(
        {
            "fiscal_year": [2027],
            "fiscal_quarter": [1],
            "period_start": [dt.date(2026, 2, 1)],
            "period_end": [dt.date(2026, 4, 30)],
            "revenue": [100.0],
            "gross_profit": [75.0],
            "gross_margin": [0.75],
        }
    )
    s = summary([(D1, "H100-SXM-80GB", "on_demand", 2.0), (D2, "H100-SXM-80GB", "on_demand", 3.0)])
    out = M.margin_indicators(summary=s, spreads=SPREADS, specs=SPECS, financials=fin)
    assert ind(out, "nvidia_reported_gross_margin", "FY2027Q1")["value"].to_list() == [0.75]
    idx = ind(out, "rental_index_for_quarter", "FY2027Q1").row(0, named=True)
    assert (idx["value"], idx["numerator"], idx["period"]) == (2.5, 2.0, "fiscal_quarter")


def test_model_releases_merges_sources_and_keeps_the_earliest_date():
    rows = [
        {
            "date": D2,
            "source": "openrouter",
            "model_id": "meta-llama/llama-3.1-70b-instruct",
            "model_name": "Llama 3.1 70B",
            "organization": "meta-llama",
            "created_at": dt.datetime(2024, 7, 23, tzinfo=dt.UTC),
            "context_length": 131072,
        },
        {
            "date": D1,
            "source": "huggingface",
            "model_id": "meta-llama/Llama-3.1-70B-Instruct",
            "model_name": None,
            "organization": "meta-llama",
            "created_at": dt.datetime(2024, 7, 16, tzinfo=dt.UTC),
            "parameters": 70.6e9,
        },
        {
            "date": D1,
            "source": "epoch_models",
            "model_id": "DeepSeek-V3",
            "organization": "deepseek",
            "publication_date": dt.date(2024, 12, 26),
            "parameters": 671e9,
            "active_parameters": 37e9,
        },
    ]
    catalog = pl.DataFrame(rows, schema=MODEL_CATALOG_SCHEMA)
    out = M.model_releases(catalog, key_fn=lambda s: s.split("/")[-1].lower())
    llama = out.filter(pl.col("model_key") == "llama-3.1-70b-instruct").row(0, named=True)
    assert (
        llama["first_seen"] == dt.date(2024, 7, 16) and llama["first_seen_source"] == "huggingface"
    )
    assert llama["parameters"] == 70.6e9 and llama["context_length"] == 131072
    assert llama["sources"] == "huggingface,openrouter" and llama["is_moe"] is False
    ds = out.filter(pl.col("model_key") == "deepseek-v3").row(0, named=True)
    assert ds["is_moe"] is True and ds["active_parameters"] == 37e9


def test_api_prices_daily_keeps_sources_apart_with_disagreement():
    prices = pl.DataFrame(
        {
            "date": [D1, D2, dt.date(2025, 1, 1)],
            "source": ["litellm_prices", "openrouter", "litellm_prices"],
            "model_id": ["gpt-4o", "openai/gpt-4o", "gpt-4o"],
            "model_key": ["gpt-4o"] * 3,
            "organization": ["openai"] * 3,
            "mode": ["chat"] * 3,
            "input_usd_per_mtok": [2.5, 2.5, 5.0],
            "output_usd_per_mtok": [10.0, 12.0, 15.0],
            "context_length": [128000] * 3,
            "payload_name": ["x"] * 3,
        }
    )
    out = M.api_prices_daily(prices)
    orow = out.filter(pl.col("source") == "openrouter").row(0, named=True)
    assert (orow["other_source"], orow["other_date"], orow["other_output_usd_per_mtok"]) == (
        "litellm_prices",
        D1,
        10.0,
    )
    assert orow["output_disagreement_pct"] == pytest.approx(20.0)
    # a LiteLLM row with no OpenRouter observation at or before it (within 120 days) has none
    early = out.filter(pl.col("date") == dt.date(2025, 1, 1)).row(0, named=True)
    assert early["other_source"] is None and early["output_disagreement_pct"] is None
    fam = M.cheapest_by_family(out, {"GPT-4o": r"^gpt-4o$"})
    assert fam.filter(pl.col("date") == dt.date(2025, 1, 1))[
        "cheapest_output_usd_per_mtok"
    ].to_list() == [15.0]
