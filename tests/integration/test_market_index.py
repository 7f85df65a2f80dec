"""The market index on the real 125-day observation log (../shared/data/price_history).

The log goes through the real import path (``read_obs_log`` -> ``normalise_offers`` per
day), the comparable-offer filter of ``intermediate.int_comparable_offers`` and the index's
own input query (``market_index.observations_sql``) run by DuckDB over the offers.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import polars as pl
import pytest

from pipelines.lib import analytics, market_index
from pipelines.lib.importers import read_obs_log
from pipelines.lib.offers import normalise_offers

OBS = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"
H100 = "H100-SXM-80GB"


@pytest.fixture(scope="module")
def offers(shared_data) -> pl.DataFrame:
    batch = read_obs_log(shared_data / OBS)
    frames = [
        normalise_offers(recs, source="obs_log", day=day)[0]
        for day, recs in sorted(batch.records_by_date.items())
    ]
    all_offers = pl.concat(frames)
    # intermediate.int_comparable_offers
    return all_offers.filter(
        pl.col("price_basis").is_in(["per_gpu", "per_instance"])
        & (pl.col("price_usd_per_gpu_hour") > 0)
    )


def _observations(offers: pl.DataFrame) -> pl.DataFrame:
    con = duckdb.connect()
    con.register("comparable", offers)
    return con.sql(market_index.observations_sql("comparable")).pl()


@pytest.fixture(scope="module")
def marts(offers):
    constituents = market_index.index_constituents(_observations(offers))
    return constituents, market_index.gpu_price_index(constituents)


def _series(frame, gpu=H100, pricing="on_demand", segment="all"):
    return frame.filter(
        (pl.col("gpu_model") == gpu)
        & (pl.col("pricing") == pricing)
        & (pl.col("segment") == segment)
    )


def test_every_change_lies_within_its_matched_relatives(marts):
    _, index = marts
    linked = index.filter(pl.col("change_1d_pct").is_not_null())
    assert linked.height > 4000
    rel = 1 + linked["change_1d_pct"] / 100
    assert ((rel >= linked["min_relative"] - 1e-12) & (rel <= linked["max_relative"] + 1e-12)).all()
    # a day whose matched providers did not move has a change of exactly 0
    still = linked.filter((pl.col("min_relative") == 1.0) & (pl.col("max_relative") == 1.0))
    assert still.height > 2000 and (still["change_1d_pct"] == 0.0).all()


def test_h100_30_day_like_for_like_is_well_short_of_the_cross_sectional_fall(marts, offers):
    constituents, index = marts
    # 2026-05-16: three providers (crusoe 3.90, lambda 3.99, runpod 2.99); 2026-06-15 five
    day = _series(constituents).filter(pl.col("included"))
    on = {
        d: dict(day.filter(pl.col("date") == d).select("provider", "price_used").iter_rows())
        for d in (dt.date(2026, 5, 16), dt.date(2026, 6, 15))
    }
    assert on[dt.date(2026, 5, 16)] == {"crusoe": 3.90, "lambda": 3.99, "runpod": 2.99}
    assert on[dt.date(2026, 6, 15)] == {
        "crusoe": 3.90,
        "lambda": 3.99,
        "runpod": 2.69,
        "nebius": 2.15,
        "vastai": 2.0411,
    }
    prices = offers.group_by(analytics.PRICE_KEYS).agg(
        pl.col("gpu_family").first(),
        pl.col("price_min_usd_per_gpu_hour").min().alias("price_min"),
        pl.col("n_offers").sum(),
        pl.col("available_gpus").sum(),
    )
    summary = analytics.daily_summary(prices, index)
    row = summary.filter(
        (pl.col("gpu_model") == H100)
        & (pl.col("pricing") == "on_demand")
        & (pl.col("date") == dt.date(2026, 6, 15))
    ).row(0, named=True)
    assert row["change_30d_pct"] == pytest.approx(-31.0, abs=0.05)  # 3.90 -> 2.69, cross-sectional
    assert row["change_30d_like_for_like_pct"] == pytest.approx(-14.18, abs=0.01)
    # the chain counts Vast.ai's own fall from its first day back (05-17, 3.07) to 2.04, but not
    # the cheaper entrants' levels
    vast = (
        _series(constituents)
        .filter(
            (pl.col("provider") == "vastai")
            & pl.col("included")
            & (pl.col("date") > dt.date(2026, 5, 16))
        )
        .sort("date")
    )
    assert vast["date"][0] == dt.date(2026, 5, 17) and vast["price_used"][0] == pytest.approx(
        3.0689
    )


def test_2026_02_18_keeps_the_series_of_the_days_around_it(marts):
    _, index = marts
    keys = ["gpu_model", "pricing", "segment"]

    def present(d):
        return set(index.filter(pl.col("date") == d).select(keys).iter_rows())

    around = present(dt.date(2026, 2, 17)) & present(dt.date(2026, 2, 19))
    assert len(around) == 40 and around - present(dt.date(2026, 2, 18)) == set()
    h = (
        _series(index)
        .filter(pl.col("date").is_between(dt.date(2026, 2, 17), dt.date(2026, 2, 19)))
        .sort("date")
    )
    # no false -9.5% / +9.6% swing: the matched providers barely moved
    assert h["change_1d_pct"].abs().max() < 2.0


def test_constituents_list_each_provider_once(marts):
    constituents, _ = marts
    assert constituents.height == constituents.select(market_index.CONSTITUENT_KEYS).unique().height
    assert set(constituents["methodology_version"]) == {"2.0"}


def test_hygiene_rules_on_the_real_log(marts):
    constituents, _ = marts
    all_seg = constituents.filter(pl.col("segment") == "all")
    counts = dict(all_seg.group_by("exclusion_reason").len().iter_rows())
    assert counts == {
        None: 11704,
        "constant_floor": 69,
        "not_a_spot_price": 200,
        "outlier": 27,
        "not_reported": 1886,
    }
    # the $0.50 RunPod rows getdeploying carried in H200 and MI300X on-demand: all excluded
    floors = all_seg.filter(
        (pl.col("provider") == "runpod")
        & (pl.col("price_used") == 0.5)
        & (pl.col("pricing") == "on_demand")
    )
    assert floors.height == 44 and set(floors["exclusion_reason"]) == {"constant_floor"}
    assert set(floors["gpu_model"]) == {"H200-SXM-141GB", "MI300X-192GB"}
    # RunPod spot at or above its on-demand price: not a spot price
    rp = all_seg.filter((pl.col("provider") == "runpod") & (pl.col("pricing") == "spot"))
    assert rp.filter(pl.col("exclusion_reason") == "not_a_spot_price").height == 193
    # a provider's own feed wins over getdeploying's copy of it
    over = all_seg.filter(pl.col("feeds_overridden") == "getdeploying.com")
    assert over.height == 14 and not over["source_used"].is_in(["getdeploying.com"]).any()


def test_confidence_does_not_change_when_listings_are_fetched_twice(offers, marts):
    _, index = marts
    # every Vast.ai offer loaded a second time (a repeat fetch): same index, same confidence
    doubled = pl.concat([offers, offers.filter(pl.col("provider") == "vastai")])
    again = market_index.gpu_price_index(market_index.index_constituents(_observations(doubled)))
    assert again.equals(index)
