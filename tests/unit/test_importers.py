"""Importers on the real third-party histories in ../shared/data/price_history."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.lib.importers import ImportFormatError, read_gpuhunt_json, read_obs_log
from pipelines.lib.offers import normalise_offers

OBS = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"


@pytest.fixture(scope="module")
def obs_batch(shared_data):
    return read_obs_log(shared_data / OBS)


def _offers(batch, day):
    offers, quarantine = normalise_offers(batch.records_by_date[day], source="obs_log", day=day)
    return offers, quarantine


def test_obs_log_reads_every_row_and_date(obs_batch):
    assert obs_batch.n_records == 26_282
    assert len(obs_batch.records_by_date) == 125
    assert min(obs_batch.records_by_date) == dt.date(2026, 2, 11)
    assert max(obs_batch.records_by_date) == dt.date(2026, 6, 15)


def test_getdeploying_instance_prices_are_divided(obs_batch):
    # 2026-02-11: Lambda 8x H100 SXM listed at 23.92 for the instance -> 2.99 per GPU-hour
    offers, _ = _offers(obs_batch, dt.date(2026, 2, 11))
    lam = offers.filter((pl.col("provider") == "lambda") & (pl.col("gpu_model") == "H100-SXM-80GB"))
    by_count = dict(zip(lam["gpu_count"], lam["price_usd_per_gpu_hour"]))
    assert by_count == {1: 3.29, 2: 3.19, 4: 3.09, 8: 2.99}
    assert set(lam["price_basis"]) == {"per_instance"}
    assert obs_batch.corrections["getdeploying_instance_prices"] > 1000


def test_after_the_switch_prices_are_per_gpu(obs_batch):
    offers, _ = _offers(obs_batch, dt.date(2026, 3, 1))
    lam = offers.filter((pl.col("provider") == "lambda") & (pl.col("gpu_model") == "H100-SXM-80GB"))
    assert dict(zip(lam["gpu_count"], lam["price_usd_per_gpu_hour"])) == {1: 3.78, 2: 3.67, 4: 3.55, 8: 3.44}
    assert set(lam["price_basis"]) == {"per_gpu"}


def test_nebius_preemptible_relabelled_spot(obs_batch):
    offers, _ = _offers(obs_batch, dt.date(2026, 5, 8))
    neb = offers.filter((pl.col("provider") == "nebius") & (pl.col("upstream_source") == "nebius.com")
                        & (pl.col("gpu_model") == "H100-SXM-80GB"))
    assert neb.select("pricing", "price_usd_per_gpu_hour").rows() == [("spot", 1.25)]
    later, _ = _offers(obs_batch, dt.date(2026, 6, 1))
    neb = later.filter((pl.col("provider") == "nebius") & (pl.col("upstream_source") == "nebius.com")
                       & (pl.col("gpu_model") == "H100-SXM-80GB"))
    assert neb.select("pricing", "price_usd_per_gpu_hour").rows() == [("on_demand", 2.15)]


def test_runpod_segments_and_vast_aggregates(obs_batch):
    offers, _quarantine = _offers(obs_batch, dt.date(2026, 6, 1))
    vast = offers.filter((pl.col("provider") == "vastai") & (pl.col("gpu_model") == "H100-SXM-80GB")
                         & (pl.col("pricing") == "on_demand"))
    assert vast["price_min_usd_per_gpu_hour"].min() == 2.0011
    assert vast["n_offers"].sum() == 14
    rp = offers.filter((pl.col("provider") == "runpod") & (pl.col("gpu_model") == "H100-SXM-80GB"))
    tiers = dict(zip(rp["region"], rp["provider_tier"]))
    assert tiers["secure"] == "neocloud" and tiers["community"] == "marketplace"


def test_every_obs_log_row_is_an_offer_or_quarantined(obs_batch):
    total_offers = total_q = 0
    reasons: dict[str, int] = {}
    for day, records in obs_batch.records_by_date.items():
        offers, quarantine = normalise_offers(records, source="obs_log", day=day)
        total_offers += offers.height
        total_q += quarantine.height
        for r in quarantine["reason"]:
            reasons[r] = reasons.get(r, 0) + 1
    assert total_offers + total_q == 26_282
    # Only implausible prices are held back, each kept with its reason: vast.ai RTX 5090
    # listings at 33-53 USD/GPU-h, and 2026-02-18 getdeploying rows in which the log itself
    # merged a per-instance (09:00) and a per-GPU (21:00) fetch into one aggregate.
    assert reasons == {"price_out_of_bounds": 108}


def test_gpuhunt_snapshot_has_no_gpu_count(shared_data):
    path = shared_data / "price_history/becloudready_gpuhunt_daily/raw/2025-02-05_aa43a46_gpu_prices.json"
    batch = read_gpuhunt_json(path)
    (day, records), = batch.records_by_date.items()
    assert day == dt.date(2025, 2, 5)
    lambda_h100 = [r for r in records if r["provider"] == "lambdalabs" and r["price"] == "$23.92"]
    assert lambda_h100 and lambda_h100[0]["n_offers"] == 14  # 14 identical rows collapsed
    offers, quarantine = normalise_offers(records, source="gpuhunt", day=day)
    # instance prices with an unknown GPU count cannot become per-GPU prices: all kept in
    # quarantine with that reason, none silently dropped, none loaded as if per-GPU
    assert offers.height == 0
    assert set(quarantine["reason"]) == {"unknown_gpu_count"}
    assert quarantine.height == len(records)


def test_bad_files_raise(tmp_path):
    bad = tmp_path / "x.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(ImportFormatError, match="missing columns"):
        read_obs_log(bad)
    js = tmp_path / "2025-01-01_x.json"
    js.write_text("{not json")
    with pytest.raises(ImportFormatError, match="malformed JSON"):
        read_gpuhunt_json(js)
    nodate = tmp_path / "snapshot.json"
    nodate.write_text("[]")
    with pytest.raises(ImportFormatError, match="no date"):
        read_gpuhunt_json(nodate)
