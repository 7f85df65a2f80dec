"""``normalise_offers`` (vectorised) must agree exactly with the scalar definition.

``offers._offer_from_record`` is the one-record definition of what becomes an offer and what
is quarantined (and why). ``normalise_offers`` runs the same checks as polars expressions
over whole columns. These tests run both over every real payload in ``../shared/data`` that
a GPU source or importer reads, and over hand-written hostile records, and require
identical offers (row for row, value for value) and identical quarantine rows.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.lib import offers as offers_mod
from pipelines.lib.importers import read_gpuhunt_json, read_obs_log
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA, normalise_offers
from pipelines.lib.sources import runpod, skypilot_catalog

DAY = dt.date(2026, 6, 15)


@pytest.fixture(autouse=True)
def vectorised_path_always(monkeypatch):
    """Small batches normally take the one-by-one path; here every batch is vectorised, so
    the comparisons below test the vectorised code, not the definition against itself."""
    monkeypatch.setattr(offers_mod, "SMALL_BATCH", 0)


FETCHED = dt.datetime(2026, 6, 15, 6, 0, tzinfo=dt.UTC)


def reference(records, *, source, day, fetched_at=None):
    """The scalar loop ``normalise_offers`` was before it was vectorised."""
    good, bad = [], []
    for rec in records:
        try:
            good.append(offers_mod._offer_from_record(rec, source, day, fetched_at))
        except offers_mod._Quarantined as q:
            bad.append(
                {
                    "date": day,
                    "source": source,
                    "payload_name": rec.get("payload_name"),
                    "provider": str(rec.get("provider") or ""),
                    "gpu_name_raw": str(rec.get("gpu_name") or ""),
                    "reason": q.reason,
                    "detail": q.detail,
                    "record": json.dumps(dict(rec), default=str, sort_keys=True),
                }
            )
    return (pl.DataFrame(good, schema=OFFER_SCHEMA), pl.DataFrame(bad, schema=QUARANTINE_SCHEMA))


def assert_same(records, source="test", day=DAY, fetched_at=FETCHED):
    exp_offers, exp_quarantine = reference(records, source=source, day=day, fetched_at=fetched_at)
    got_offers, got_quarantine = normalise_offers(
        records, source=source, day=day, fetched_at=fetched_at
    )
    assert_frame_equal(got_offers, exp_offers, check_exact=True)
    assert_frame_equal(got_quarantine, exp_quarantine, check_exact=True)
    assert got_offers.height + got_quarantine.height == len(records)
    return got_offers, got_quarantine


def _skypilot_files(shared_data):
    return sorted((shared_data / "skypilot_catalog").glob("*/*.csv"))


def test_every_real_skypilot_catalog_normalises_identically(shared_data):
    files = _skypilot_files(shared_data)
    assert len(files) >= 8
    total_offers = 0
    for path in files:
        name = f"{path.parent.name}.csv"
        # the parser hands over columns; as dicts they take the record-by-record path
        records = [
            {k: v for k, v in r.items() if v is not None}
            for r in skypilot_catalog.parse(name, path.read_bytes()).to_dicts()
        ]
        got_offers, _ = assert_same(records, source="skypilot_catalog")
        total_offers += got_offers.height
    assert total_offers > 300  # the comparison covered real volume, not a handful of rows


def test_real_runpod_capture_normalises_identically(shared_data):
    path = (
        shared_data
        / "provider_payloads"
        / "runpod"
        / "gpuport_runpod_sample_2025-11-14_0cb9709.json"
    )
    records = runpod.parse(path.name, path.read_bytes())
    got_offers, _ = assert_same(records, source="runpod")
    assert got_offers.height > 10


def test_real_price_histories_normalise_identically(shared_data):
    history = shared_data / "price_history"
    obs = next((history / "cherielilili_gpu_pricing_tracker").glob("observations_*.csv"))
    batch = read_obs_log(obs)
    days = sorted(batch.records_by_date)
    for day in days[:: max(1, len(days) // 12)]:  # a dozen days spread over the log
        assert_same(batch.records_by_date[day], source="obs_log", day=day)
    for raw in sorted((history / "becloudready_gpuhunt_daily" / "raw").glob("*.json")):
        gh = read_gpuhunt_json(raw)
        for day, records in gh.records_by_date.items():
            # gpuhunt snapshots give instance prices with no GPU count: all quarantined, by design
            _, got_quarantine = assert_same(records, source="gpuhunt", day=day)
            assert set(got_quarantine["reason"]) == {"unknown_gpu_count"}


BASE = {
    "provider": "RunPod",
    "segment": None,
    "gpu_name": "H100 SXM",
    "gpu_hint": "",
    "gpu_count": 1,
    "instance_type": "1x H100",
    "region": "US",
    "pricing": "on_demand",
    "price": 2.69,
    "price_basis": "per_gpu",
    "currency": "USD",
    "payload_name": "p.json",
}

HOSTILE = [
    {},
    {"provider": ""},
    {"provider": None, "price": 1},
    {"gpu_name": "Quantum Flux 9000"},
    {"gpu_name": ""},
    {"gpu_name": None},
    {"gpu_name": "  H100 SXM  "},
    {"gpu_name": "A100", "gpu_memory_gb": 40.0},
    {"gpu_name": "A100", "gpu_memory_gb": "80"},
    {"gpu_name": "A100", "gpu_memory_gb": 13.0},
    {"gpu_name": "A100", "gpu_memory_gb": float("nan")},
    {"pricing": "On-Demand"},
    {"pricing": " SPOT "},
    {"pricing": "hourly"},
    {"pricing": None},
    {"price_basis": "per_node"},
    {"price_basis": None},
    {"currency": "eur"},
    {"currency": "usd"},
    {"currency": ""},
    {"currency": None},
    {"price": "$2,690.00", "price_basis": "per_instance", "gpu_count": 1000},
    {"price": "$2.49"},
    {"price": " 2.49 "},
    {"price": "2.49/hr"},
    {"price": "1_0"},
    {"price": "2,49"},
    {"price": "1.234,56"},
    {"price": "1 0"},
    {"price": "$1,234.56", "price_basis": "per_instance", "gpu_count": 1000},
    {"price": "12,345", "price_basis": "per_instance", "gpu_count": 10000},
    {"price": "1,2345"},
    {"price": "-$2.49"},
    {"price": "1e999"},
    {"price": 10**400},
    {"price": "N/A"},
    {"price_min": "2,49"},
    {"gpu_count": "1_0"},
    {"gpu_name": "A100", "gpu_memory_gb": "8,0"},
    {"gpu_name": "Quantum Flux 9000", "gpu_memory_gb": "8,0"},
    {"available_gpus": "1,5"},
    {"n_offers": "4,5"},
    {"price": True},
    {"price": None},
    {"price": ""},
    {"price": "nan"},
    {"price": float("nan")},
    {"price": float("inf")},
    {"price": 0},
    {"price": -1.5},
    {"price": 1e-9},
    {"price": 5000.0},
    {"price": 2.675, "price_min": 2.0, "price_max": 99999.0},
    {"price": 2.0, "price_min": "1.5", "price_max": None},
    {
        "price": 16.0,
        "price_basis": "per_instance",
        "gpu_count": 8,
        "price_min": 8.0,
        "price_max": 24.0,
    },
    {"price_basis": "per_instance", "gpu_count": None},
    {"price_basis": "per_gpu", "gpu_count": None},
    {"gpu_count": 0},
    {"gpu_count": -2},
    {"gpu_count": 0.5},
    {"gpu_count": "8"},
    {"gpu_count": "eight"},
    {"gpu_count": 2**40},
    {"n_offers": 0},
    {"n_offers": 12.7},
    {"n_offers": "3"},
    {"n_offers": float("inf")},
    {"n_offers": 2**40},
    {"n_offers": 2_000_000_000},
    {"n_offers": 100_000},
    {"n_offers": 100_001},
    {"n_offers": -3},
    {"n_offers": 10**400},
    {"available_gpus": float("inf")},
    {"available_gpus": 2**40},
    {"gpu_count": float("inf")},
    {"available_gpus": "4"},
    {"available_gpus": -1},
    {"date": "2026-06-14T23:59:00Z"},
    {"date": dt.date(2026, 6, 13)},
    {"date": ""},
    {"stock_status": "available", "upstream_source": "skypilot:aws", "reserved_term": "1y"},
    {"instance_type": None, "region": None},
    {"extra_key": object()},
]


# ids must be the same in every process (pytest-xdist compares them): no object reprs (addresses)
@pytest.mark.parametrize(
    "change",
    HOSTILE,
    ids=[
        f"{i}-" + json.dumps(c, default=lambda o: type(o).__name__)[:40]
        for i, c in enumerate(HOSTILE)
    ],
)
def test_hostile_record_alone_matches_the_scalar_definition(change):
    assert_same([{**BASE, **change}])


def test_hostile_records_mixed_in_one_batch_keep_order_and_agree():
    records = [
        {**BASE, **change, "instance_type": f"row {i}"} for i, change in enumerate(HOSTILE * 3)
    ]
    got_offers, got_quarantine = assert_same(records)
    reasons = set(got_quarantine["reason"])
    assert {
        "unknown_gpu",
        "non_usd_currency",
        "bad_gpu_count",
        "missing_price",
        "non_positive_price",
        "price_out_of_bounds",
        "bad_pricing_type",
        "bad_price_basis",
        "missing_provider",
        "unknown_gpu_count",
        "ambiguous_number",
        "bad_n_offers",
    } <= reasons
    # "1_0" is a number to Python's float() but not to a price reader: quarantined, not 10.0
    assert 10.0 not in got_offers["price_original"].to_list()
    assert 1234.56 in got_offers["price_original"].to_list()  # "$1,234.56": thousands separator


def test_instance_price_is_divided_and_rounded():
    offers, quarantine = normalise_offers(
        [{**BASE, "price": 2.9583, "price_basis": "per_instance", "gpu_count": 8}],
        source="t",
        day=DAY,
    )
    assert quarantine.height == 0
    # 2.9583 / 8 is 0.36978749999... in binary: Python's round, and ours, give ...787
    assert offers["price_usd_per_gpu_hour"].to_list() == [round(2.9583 / 8, 6)] == [0.369787]


def test_no_records_gives_empty_frames_with_the_schemas():
    offers, quarantine = normalise_offers([], source="t", day=DAY)
    assert offers.schema == pl.Schema(OFFER_SCHEMA) and offers.height == 0
    assert quarantine.schema == pl.Schema(QUARANTINE_SCHEMA) and quarantine.height == 0


def _as_frame(records):
    """Records as a columnar parser would hand them over (mixed columns become text)."""
    keys = sorted({k for r in records for k in r})
    return pl.DataFrame([pl.Series(k, [r.get(k) for r in records], strict=False) for k in keys])


def test_columnar_input_agrees_with_the_scalar_definition_on_real_payloads(shared_data):
    for path in _skypilot_files(shared_data):
        name = f"{path.parent.name}.csv"
        records = skypilot_catalog.parse(name, path.read_bytes()).to_dicts()
        frame = _as_frame(records)
        rows = [
            {k: v for k, v in frame.row(i, named=True).items() if v is not None}
            for i in range(frame.height)
        ]
        exp_offers, exp_quarantine = reference(rows, source="s", day=DAY, fetched_at=FETCHED)
        got_offers, got_quarantine = normalise_offers(
            frame, source="s", day=DAY, fetched_at=FETCHED
        )
        assert_frame_equal(got_offers, exp_offers, check_exact=True)
        assert_frame_equal(got_quarantine, exp_quarantine, check_exact=True)
        # and the same offers as the dict form of the same records
        assert_frame_equal(
            got_offers, normalise_offers(records, source="s", day=DAY, fetched_at=FETCHED)[0]
        )


def test_columnar_input_with_hostile_values_keeps_every_record():
    records = [
        {**BASE, **change, "instance_type": f"row {i}"}
        for i, change in enumerate(HOSTILE)
        if "extra_key" not in change
    ]
    got_offers, got_quarantine = normalise_offers(_as_frame(records), source="t", day=DAY)
    assert got_offers.height + got_quarantine.height == len(records)
    assert got_quarantine.height > 20


def test_small_batches_take_the_one_by_one_path_with_the_same_result(shared_data, monkeypatch):
    obs = next(
        (shared_data / "price_history" / "cherielilili_gpu_pricing_tracker").glob(
            "observations_*.csv"
        )
    )
    batch = read_obs_log(obs)
    day = max(batch.records_by_date)
    records = batch.records_by_date[day]
    assert 0 < len(records) < 2000
    vectorised = normalise_offers(records, source="obs_log", day=day)
    monkeypatch.setattr(offers_mod, "SMALL_BATCH", 2000)
    calls = []
    monkeypatch.setattr(offers_mod, "_candidate_frame", lambda *a: calls.append(a))  # must not run
    one_by_one = normalise_offers(records, source="obs_log", day=day)
    assert calls == []
    assert_frame_equal(one_by_one[0], vectorised[0], check_exact=True)
    assert_frame_equal(one_by_one[1], vectorised[1], check_exact=True)
    frame_small = normalise_offers(_as_frame(records), source="obs_log", day=day)
    assert_frame_equal(frame_small[0], vectorised[0], check_exact=True)
