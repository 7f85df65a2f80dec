"""The polars marts on small hand-built frames with hand-computed expectations."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.lib import analytics as A
from pipelines.lib import mart_schemas

D1, D2, D8 = dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 8)


def prices(rows):
    """rows: (date, gpu_model, provider, tier, pricing, price_min, n_offers[, available])"""
    out = []
    for r in rows:
        date, model, provider, tier, pricing, price, n = r[:7]
        out.append(
            {
                "date": date,
                "gpu_model": model,
                "gpu_family": model.split("-")[0],
                "provider": provider,
                "provider_tier": tier,
                "pricing": pricing,
                "price_min": price,
                "price_median": price + 0.1,
                "price_max": price + 0.2,
                "n_offers": n,
                "available_gpus": r[7] if len(r) > 7 else None,
            }
        )
    return pl.DataFrame(out, schema_overrides={"available_gpus": pl.Int64, "n_offers": pl.Int64})


SPECS = pl.DataFrame(
    {
        "gpu_model": ["H100-SXM-80GB", "MI300X-192GB"],
        "memory_gb": [80.0, 192.0],
        "fp64_tflops": [33.5, 81.7],
        "fp32_tflops": [66.9, 163.4],
        "tf32_tflops": [494.7, 653.7],
        "bf16_tflops": [989.4, 1307.4],
        "fp8_tflops": [1978.9, 2614.9],
        "int8_tops": [1978.9, 2614.9],
        "bf16_is_fp16": [False, False],
    }
)

MARKET = prices(
    [
        (D1, "H100-SXM-80GB", "aws", "hyperscaler", "on_demand", 6.00, 1),
        (D1, "H100-SXM-80GB", "azure", "hyperscaler", "on_demand", 8.00, 1),
        (D1, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.00, 1, 16),
        (D1, "H100-SXM-80GB", "nebius", "neocloud", "on_demand", 2.00, 2),
        (D1, "H100-SXM-80GB", "vastai", "marketplace", "on_demand", 1.50, 40, 100),
        (D1, "H100-SXM-80GB", "vastai", "marketplace", "spot", 1.00, 10),
        (D1, "MI300X-192GB", "runpod", "mixed", "on_demand", 2.40, 3),
    ]
)


def test_cost_per_flop_is_price_over_dense_pflops():
    out = A.cost_per_flop(MARKET, SPECS)
    row = out.filter((pl.col("provider") == "lambda") & (pl.col("pricing") == "on_demand")).row(
        0, named=True
    )
    assert row["usd_per_gpu_hour"] == 3.00
    assert row["usd_per_pflop_hour_bf16"] == pytest.approx(3.00 / 0.9894)
    assert row["usd_per_pflop_hour_fp8"] == pytest.approx(3.00 / 1.9789)
    assert row["usd_per_pflop_hour_fp64"] == pytest.approx(3.00 / 0.0335)
    assert row["usd_per_pop_hour_int8"] == pytest.approx(3.00 / 1.9789)
    assert row["usd_per_gb_vram_hour"] == pytest.approx(3.00 / 80)
    mi = out.filter(pl.col("gpu_model") == "MI300X-192GB").row(0, named=True)
    assert mi["usd_per_pflop_hour_bf16"] == pytest.approx(2.40 / 1.3074)
    assert out.height == MARKET.height


def test_cost_per_flop_without_spec_is_null_not_zero():
    out = A.cost_per_flop(
        prices([(D1, "X1-9GB", "aws", "hyperscaler", "on_demand", 1.0, 1)]), SPECS
    )
    assert out["usd_per_pflop_hour_bf16"].to_list() == [None]


def test_provider_spreads_cheapest_dearest_quantiles_and_tier_premiums():
    out = A.provider_spreads(MARKET)
    h = out.filter(
        (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand")
    ).row(0, named=True)
    assert (h["cheapest_provider"], h["cheapest_price"]) == ("vastai", 1.50)
    assert (h["dearest_provider"], h["dearest_price"]) == ("azure", 8.00)
    assert h["max_min_ratio"] == pytest.approx(8.00 / 1.50)
    assert h["n_providers"] == 5
    # sorted prices 1.5, 2, 3, 6, 8 -> linear quantiles
    assert h["p25_price"] == pytest.approx(2.0)
    assert h["median_price"] == pytest.approx(3.0)
    assert h["p75_price"] == pytest.approx(6.0)
    assert h["hyperscaler_median"] == pytest.approx(7.0)
    assert h["neocloud_median"] == pytest.approx(2.5)
    assert h["marketplace_median"] == pytest.approx(1.5)
    assert h["non_hyperscaler_median"] == pytest.approx(2.0)  # 1.5, 2, 3
    assert h["hyperscaler_premium"] == pytest.approx(3.5)
    assert h["hyperscaler_vs_neocloud"] == pytest.approx(2.8)
    assert h["neocloud_vs_marketplace"] == pytest.approx(2.5 / 1.5)
    assert (h["n_hyperscaler"], h["n_neocloud"], h["n_marketplace"]) == (2, 2, 1)
    # a provider spanning two tiers counts in the market, in no tier
    mi = out.filter(pl.col("gpu_model") == "MI300X-192GB").row(0, named=True)
    assert mi["n_providers"] == 1 and mi["median_price"] == 2.40
    assert mi["neocloud_median"] is None and mi["hyperscaler_premium"] is None
    # spot is its own series
    spot = out.filter(pl.col("pricing") == "spot").row(0, named=True)
    assert spot["n_providers"] == 1 and spot["cheapest_price"] == 1.00


def test_ties_pick_the_alphabetically_first_provider():
    tie = prices(
        [(D1, "H100-SXM-80GB", p, "neocloud", "on_demand", 2.0, 1) for p in ("zeta", "alpha")]
    )
    out = A.provider_spreads(tie).row(0, named=True)
    assert out["cheapest_provider"] == "alpha" and out["dearest_provider"] == "alpha"


def test_daily_summary_changes_coverage_and_confidence():
    day2 = prices(
        [
            (D2, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1, 8),
            (D2, "H100-SXM-80GB", "nebius", "neocloud", "on_demand", 2.00, 2),
            (D2, "H100-SXM-80GB", "vastai", "marketplace", "on_demand", 1.60, 30, 90),
        ]
    )
    day8 = prices(
        [
            (D8, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1),
            (D8, "H100-SXM-80GB", "nebius", "neocloud", "on_demand", 2.20, 2),
        ]
    )
    out = A.daily_summary(pl.concat([MARKET, day2, day8]))
    h = out.filter((pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand"))
    d1, d2, d8 = h.sort("date").iter_rows(named=True)
    assert d1["market_median"] == pytest.approx(3.0)
    assert (d1["lowest_price"], d1["lowest_provider"]) == (1.50, "vastai")
    assert d1["n_offers"] == 45 and d1["available_gpus"] == 116
    assert d1["n_providers_reporting_availability"] == 2
    # 5 providers, full coverage, but (p75 - p25) / median = (6 - 2) / 3 = 1.33 > 1: medium
    assert d1["change_1d_pct"] is None and d1["coverage"] == 1.0 and d1["confidence"] == "medium"
    assert d2["market_median"] == pytest.approx(2.0)
    assert d2["change_1d_pct"] == pytest.approx((2.0 / 3.0 - 1) * 100)
    assert d2["coverage"] == pytest.approx(3 / 5)  # aws, azure gone this day
    assert d2["confidence"] == "medium"
    assert d8["market_median"] == pytest.approx(2.75)
    assert d8["change_1d_pct"] is None  # no observation on D8 - 1
    assert d8["change_7d_pct"] == pytest.approx((2.75 / 3.0 - 1) * 100)  # D1 exactly 7 days back
    assert d8["available_gpus"] is None  # no provider reported availability that day
    assert d8["confidence"] == "low"  # 2 of 5 providers
    assert set(out["methodology_version"]) == {A.METHODOLOGY_VERSION}


def test_seven_day_change_tolerates_one_missing_day_but_not_two():
    def one(date, price):
        return (date, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", price, 1)

    base = dt.date(2026, 6, 1)
    frame = prices(
        [
            one(base, 2.0),
            one(base + dt.timedelta(days=8), 3.0),
            one(base + dt.timedelta(days=9), 3.0),
        ]
    )
    out = A.daily_summary(frame).sort("date")
    assert out["change_7d_pct"].to_list() == [None, pytest.approx(50.0), None]


def test_price_changes_new_up_down_and_unchanged_left_out():
    frame = prices(
        [
            (D1, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.00, 1),
            (D2, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.00, 1),
            (D8, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1),
            (D1, "H100-SXM-80GB", "vastai", "marketplace", "on_demand", 2.00, 5),
            (D2, "H100-SXM-80GB", "vastai", "marketplace", "on_demand", 1.50, 4),
        ]
    )
    out = A.price_changes(frame)
    rows = [(r["date"], r["provider"], r["kind"]) for r in out.iter_rows(named=True)]
    assert rows == [
        (D1, "lambda", "new"),
        (D1, "vastai", "new"),
        (D2, "vastai", "down"),
        (D8, "lambda", "up"),
    ]
    up = out.filter(pl.col("kind") == "up").row(0, named=True)
    assert (up["prev_date"], up["days_since_prev"], up["price_prev"], up["price_now"]) == (
        D2,
        6,
        3.00,
        3.30,
    )
    assert up["change_pct"] == pytest.approx(10.0)
    down = out.filter(pl.col("kind") == "down").row(0, named=True)
    assert (
        down["change_pct"] == pytest.approx(-25.0)
        and down["n_offers_prev"] == 5
        and down["n_offers_now"] == 4
    )


def test_missing_input_column_is_a_clear_error():
    with pytest.raises(ValueError, match=r"prices lacks column\(s\) \['price_min'\]"):
        A.provider_spreads(MARKET.drop("price_min"))


def test_confidence_is_not_raised_by_offer_counts():
    # 3 providers within a tight range: high with one offer each, and exactly as high
    # (not higher, not lower) when one listing is counted 1000 times by repeat fetches
    tight = prices(
        [
            (D1, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.00, 1),
            (D1, "H100-SXM-80GB", "nebius", "neocloud", "on_demand", 2.80, 1),
            (D1, "H100-SXM-80GB", "vastai", "marketplace", "on_demand", 2.50, 1),
        ]
    )
    assert A.daily_summary(tight)["confidence"].to_list() == ["high"]
    repeated = tight.with_columns(
        pl.when(pl.col("provider") == "vastai")
        .then(1000)
        .otherwise(pl.col("n_offers"))
        .alias("n_offers")
    )
    assert A.daily_summary(repeated)["confidence"].to_list() == ["high"]
    two = tight.filter(pl.col("provider") != "vastai").with_columns(pl.lit(500).alias("n_offers"))
    assert A.daily_summary(two)["confidence"].to_list() == [
        "medium"
    ]  # offers do not make a third provider


def test_daily_summary_takes_like_for_like_changes_from_the_index():
    # index levels 100 -> 90 (D1 -> D2) -> 99 (D8, prev index date D2): 1-day only where the
    # previous index date is yesterday; 7-day from D1 exactly
    index = pl.DataFrame(
        {
            "date": [D1, D2, D8],
            "gpu_model": ["H100-SXM-80GB"] * 3,
            "pricing": ["on_demand"] * 3,
            "segment": ["all"] * 3,
            "index_level": [100.0, 90.0, 99.0],
            "change_1d_pct": [None, -10.0, 10.0],
            "prev_date": [None, D1, D2],
            "n_providers": [5, 3, 2],
        }
    )
    day2 = prices([(D2, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1)])
    day8 = prices([(D8, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1)])
    out = A.daily_summary(pl.concat([MARKET, day2, day8]), index)
    h = out.filter(
        (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand")
    ).sort("date")
    assert h["change_1d_like_for_like_pct"].to_list() == [None, pytest.approx(-10.0), None]
    assert h["change_7d_like_for_like_pct"].to_list() == [None, None, pytest.approx(-1.0)]
    assert h["n_providers_index"].to_list() == [5, 3, 2]
    # the cross-sectional change is still there, labelled as such
    assert h["change_1d_pct"][1] == pytest.approx((3.30 / 3.00 - 1) * 100)
    # no index: like-for-like columns exist and are null
    bare = A.daily_summary(MARKET)
    assert bare["change_30d_like_for_like_pct"].null_count() == bare.height


def test_price_changes_compare_only_against_fresh_observations():
    d10 = D1 + dt.timedelta(days=9)
    frame = prices(
        [
            (D1, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.00, 1),
            (D8, "H100-SXM-80GB", "lambda", "neocloud", "on_demand", 3.30, 1),  # 7 days: a move
            (D1, "H100-SXM-80GB", "nebius", "neocloud", "on_demand", 2.00, 1),
            (
                d10,
                "H100-SXM-80GB",
                "nebius",
                "neocloud",
                "on_demand",
                1.00,
                1,
            ),  # 9 days: reappeared
        ]
    )
    out = A.price_changes(frame)
    kinds = {(r["provider"], r["date"]): r["kind"] for r in out.iter_rows(named=True)}
    assert kinds[("lambda", D8)] == "up" and kinds[("nebius", d10)] == "reappeared"
    back = out.filter(pl.col("kind") == "reappeared").row(0, named=True)
    assert (back["prev_date"], back["days_since_prev"], back["price_prev"]) == (D1, 9, 2.00)
    assert back["change_pct"] is None and back["change_abs"] is None
    assert set(out["methodology_version"]) == {"2.0"}


@pytest.mark.parametrize(
    "name", ["cost_per_flop", "provider_spreads", "daily_summary", "price_changes"]
)
def test_every_mart_is_unique_on_its_key(name):
    frame = A.cost_per_flop(MARKET, SPECS) if name == "cost_per_flop" else getattr(A, name)(MARKET)
    # the key the mart declares in sql/marts/*.yml (its unique test)
    keys = mart_schemas.unique_key(name)
    assert frame.height == frame.select(keys).unique().height
