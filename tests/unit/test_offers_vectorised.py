"""``normalise_offers`` (the rules as polars expressions) must agree exactly with the oracle.

``tests/offers_oracle.py`` is the one-record, plain-Python version of what becomes an offer
and what is quarantined (and why); ``pipelines.lib.offers.rules.RULES`` says the same as an
ordered list of (reason, polars expression) pairs. These tests run both over every real
payload in ``../shared/data`` that a GPU source or importer reads, over hand-written hostile
records that reach every rule, and require identical offers (row for row, value for value)
and identical quarantine rows.
"""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.lib.importers import read_gpuhunt_json, read_obs_log
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA, RULES, normalise_offers
from pipelines.lib.offers.candidates import candidate_frame
from pipelines.lib.offers.rules import PARSER_FLAG, derive, first_rule
from pipelines.lib.sources import runpod, skypilot_catalog
from tests.offers_oracle import reference

DAY = dt.date(2026, 6, 15)
FETCHED = dt.datetime(2026, 6, 15, 6, 0, tzinfo=dt.UTC)


def assert_same(records, source="test", day=DAY, fetched_at=FETCHED, fx_rates=None):
    exp_offers, exp_quarantine = reference(
        records, source=source, day=day, fetched_at=fetched_at, fx_rates=fx_rates
    )
    got_offers, got_quarantine = normalise_offers(
        records, source=source, day=day, fetched_at=fetched_at, fx_rates=fx_rates
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
        # the parser hands over columns; here as dicts (the columnar form is tested below)
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
    {"quarantine_reason": "placeholder_price", "quarantine_detail": "price 0.01 is a placeholder"},
    {"quarantine_reason": "placeholder_price"},
    {"quarantine_reason": ""},
    {"quarantine_reason": "placeholder_price", "gpu_name": "Quantum Flux 9000"},
    {"price_max": "1_0"},
    {"price_min": 0.001},
    {"price": 1e-9, "price_min": "2,49"},
    {"pricing": "hourly", "price_basis": "per_node", "price": -1},
    {"price_basis": "per_instance", "gpu_count": 8, "price": 11.7655},
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


def test_a_small_real_batch_agrees_as_dicts_and_as_columns(shared_data):
    """One real day of the log (~200 records, the size most payloads have): the same offers
    and quarantine as the oracle, handed over as dicts or as a frame."""
    obs = next(
        (shared_data / "price_history" / "cherielilili_gpu_pricing_tracker").glob(
            "observations_*.csv"
        )
    )
    batch = read_obs_log(obs)
    day = max(batch.records_by_date)
    records = batch.records_by_date[day]
    assert 0 < len(records) < 2000
    got = assert_same(records, source="obs_log", day=day, fetched_at=None)
    frame = normalise_offers(_as_frame(records), source="obs_log", day=day)
    assert_frame_equal(frame[0], got[0], check_exact=True)
    assert_frame_equal(frame[1], got[1], check_exact=True)


def _first_rule(record, fx_rates=None):
    """The index in RULES of the rule that quarantines ``record`` (None: it is an offer)."""
    f = derive(candidate_frame([record], DAY), fx_rates, DAY)
    return f.select(first_rule()).item()


FX = {"EUR": 1.1, "GBP": float("nan"), "JPY": 0, "CHF": "1.1"}
FX_RECORDS = [
    {**BASE, "currency": "EUR", "price": 2.5},
    {**BASE, "currency": "eur", "price": 2.5, "price_min": 2.0, "price_basis": "per_instance"},
    {**BASE, "currency": "EUR", "price": 99.0},  # 108.9 USD: out of the H100's bounds
    {**BASE, "currency": "GBP"},  # the day's rate is not a rate
    {**BASE, "currency": "JPY"},
    {**BASE, "currency": "CHF"},  # a rate written as text is not a rate either
    {**BASE, "currency": "SEK"},  # no rate at all
    {**BASE, "currency": "USD", "price": 2.5},
]


def test_non_usd_prices_convert_with_the_days_rates_as_the_oracle_does():
    got_offers, got_quarantine = assert_same(FX_RECORDS, fx_rates=FX)
    assert got_offers["currency"].to_list() == ["EUR", "EUR", "USD"]
    assert got_offers["price_usd_per_gpu_hour"].to_list()[0] == round(2.5 * 1.1, 6)
    assert got_quarantine["reason"].to_list() == ["price_out_of_bounds"] + ["no_fx_rate"] * 4
    _, none_loaded = assert_same(FX_RECORDS, fx_rates=None)
    assert set(none_loaded["reason"]) == {"non_usd_currency"}
    assert_same(FX_RECORDS, fx_rates={})


def test_every_rule_is_reached_and_agrees_with_the_oracle():
    """Each rule of RULES, in its place in the order, quarantines at least one hand-written
    record first, and on each of them the normaliser and the oracle agree."""
    cases = [({**BASE, **change}, None) for change in HOSTILE] + [(r, FX) for r in FX_RECORDS]
    cases += [({**BASE, "currency": "EUR"}, None)]
    reached: dict[int, list] = {}
    for record, fx in cases:
        index = _first_rule(record, fx)
        if index is not None:
            reached.setdefault(index, []).append((record, fx))
    assert sorted(reached) == list(range(len(RULES))), [
        (i, r.reason) for i, r in enumerate(RULES) if i not in reached
    ]
    for index, matched in reached.items():
        for record, fx in matched:
            _, quarantine = assert_same([record], fx_rates=fx)
            reason = RULES[index].reason
            expected = record["quarantine_reason"] if reason == PARSER_FLAG else reason
            assert quarantine["reason"].to_list() == [expected], (index, record)


def test_a_record_date_that_is_no_date_raises_unless_the_record_is_quarantined():
    bad_date = {**BASE, "date": "not a date"}
    with pytest.raises(ValueError, match="Invalid isoformat string"):
        reference([bad_date], source="t", day=DAY)
    with pytest.raises(ValueError, match="Invalid isoformat string"):
        normalise_offers([bad_date], source="t", day=DAY)
    _, quarantine = assert_same([{**bad_date, "price": 0}])
    assert quarantine["reason"].to_list() == ["non_positive_price"]
