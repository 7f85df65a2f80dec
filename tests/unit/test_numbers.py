"""Numbers are read, never guessed (issue #10, items 6 and 7).

``2,49`` (a decimal comma) used to become 249 -- $31.13/GPU-hour on an 8-GPU instance,
accepted -- and ``1_0`` became 10.0 (Python's float() takes underscores). A price text with a
separator the reader does not positively understand is now quarantined as
``ambiguous_number``; an observation-log row claiming 2,000,000,000 offers is quarantined as
``bad_n_offers`` instead of reaching the weighted median. The payloads are real (the SkyPilot
Lambda catalog, the 125-day observation log, a RunPod capture; read in place), with the one
bad value written into a copy under tmp_path.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import polars as pl
import pytest

from pipelines.lib.importers import read_obs_log
from pipelines.lib.offers import (
    MAX_N_OFFERS,
    AmbiguousNumber,
    normalise_offers,
    parse_price_text,
    read_number,
)
from pipelines.lib.sources import runpod, skypilot_catalog
from tests.offers_oracle import reference

LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"
OBS_DIR = "price_history/cherielilili_gpu_pricing_tracker"
RUNPOD = "provider_payloads/runpod/gpuport_runpod_sample_2025-11-14_0cb9709.json"
DAY = dt.date(2026, 5, 24)
UNCLEAR = "is not a number in a form read without guessing (plain decimal, optional $, thousands separators 1,234.56)"


def _oracle(records, **kwargs):
    """The one-record definition over the same records (a frame's rows as dicts)."""
    if isinstance(records, pl.DataFrame):
        records = [{k: v for k, v in r.items() if v is not None} for r in records.to_dicts()]
    return reference(records, **kwargs)


NORMALISERS = pytest.mark.parametrize(
    "normalise", [normalise_offers, _oracle], ids=["normaliser", "oracle"]
)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2.49", 2.49),
        ("$2.49", 2.49),
        (" $ 2.49 ", 2.49),
        ("-$2.49", -2.49),
        ("+3", 3.0),
        (".5", 0.5),
        ("5.", 5.0),
        ("1e-05", 1e-05),
        ("1,234.56", 1234.56),
        ("12,345", 12345.0),
        ("1,234,567", 1234567.0),
        ("2,490", 2490.0),
    ],
)
def test_accepted_forms(text, value):
    assert parse_price_text(text) == value


@pytest.mark.parametrize(
    "text",
    [
        "2,49",
        "1_0",
        "1.234,56",
        "1 0",
        "2.49/hr",
        "1,2345",
        "12,34,567",
        "$$2",
        "--2",
        "2.4.9",
        "0x10",
        "1,234.5,6",
        "€2,49",
    ],
)
def test_ambiguous_forms_are_refused(text):
    with pytest.raises(AmbiguousNumber):
        parse_price_text(text)


@pytest.mark.parametrize("text", ["", "  ", "N/A", "nan", "inf", "-", "contact sales"])
def test_text_without_a_number_is_no_number_not_ambiguous(text):
    with pytest.raises(ValueError) as raised:
        parse_price_text(text)
    assert not isinstance(raised.value, AmbiguousNumber)
    assert read_number(text) is None


def test_huge_integers_are_infinite_not_an_exception():
    assert read_number(10**400) == float("inf") and read_number(-(10**400)) == float("-inf")


def _lambda_with_prices(shared_data, prices: dict[int, str]) -> bytes:
    """The real Lambda catalog with the Price cell of some rows replaced (a real CSV writer:
    the GpuInfo cells hold commas)."""
    rows = list(csv.reader(io.StringIO((shared_data / LAMBDA).read_text())))
    col = rows[0].index("Price")
    for i, text in prices.items():
        rows[i + 1][col] = text
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue().encode()


@NORMALISERS
def test_decimal_comma_in_a_real_catalog_is_quarantined(shared_data, normalise):
    """Row 2 of the Lambda catalog (8x V100, $6.32) priced "2,49" and row 3 priced "1_0": both
    quarantined as ambiguous_number by the normaliser and by the oracle (the one-record
    definition, tests/offers_oracle.py); every other offer is as in the real file."""
    real = skypilot_catalog.parse("lambda.csv", (shared_data / LAMBDA).read_bytes())
    real_offers, _ = normalise(real, source="skypilot_catalog", day=DAY)
    mangled = skypilot_catalog.parse(
        "lambda.csv", _lambda_with_prices(shared_data, {0: "2,49", 1: "1_0"})
    )
    offers, quarantine = normalise(mangled, source="skypilot_catalog", day=DAY)
    ambiguous = quarantine.filter(quarantine["reason"] == "ambiguous_number")
    assert ambiguous["detail"].to_list() == [f"price: '2,49' {UNCLEAR}", f"price: '1_0' {UNCLEAR}"]
    assert [json.loads(r)["instance_type"] for r in ambiguous["record"]] == [
        "gpu_8x_v100_n",
        "gpu_8x_v100",
    ]
    # before: 249 / 8 = $31.125 per GPU-hour was an accepted V100 offer
    assert 31.125 not in offers["price_usd_per_gpu_hour"].to_list()
    assert offers.height == real_offers.height - 2
    expected = real_offers.filter(
        ~real_offers["instance_type"].is_in(["gpu_8x_v100_n", "gpu_8x_v100"])
        | (real_offers["pricing"] != "on_demand")
    )
    assert offers.drop("fetched_at").equals(expected.drop("fetched_at"))


def test_a_thousands_separator_is_read(shared_data):
    """ "$1,234.56" for the 8x V100 instance reads as 1234.56 (then refused as out of bounds:
    $154 per V100-hour), i.e. the number was understood, not guessed."""
    mangled = skypilot_catalog.parse(
        "lambda.csv", _lambda_with_prices(shared_data, {0: "$1,234.56"})
    )
    _, quarantine = normalise_offers(mangled, source="skypilot_catalog", day=DAY)
    [detail] = quarantine.filter(quarantine["reason"] == "price_out_of_bounds")["detail"].to_list()
    assert detail.startswith("price 154.32 USD/GPU-h for V100-16GB outside [0.01, 60.0]")


def _obs_log_with(tmp_path, shared_data, n_offers: str) -> tuple[dt.date, int, str]:
    """A copy of the real observation log whose first row claims ``n_offers`` offers."""
    src = next((shared_data / OBS_DIR).glob("observations_*.csv"))
    rows = list(csv.reader(io.StringIO(src.read_text())))
    col = rows[0].index("n_offers")
    original = rows[1][col]
    rows[1][col] = n_offers
    out = tmp_path / src.name
    with out.open("w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return dt.date.fromisoformat(rows[1][rows[0].index("date")][:10]), int(original), out


@NORMALISERS
def test_an_absurd_offer_count_is_quarantined(tmp_path, shared_data, normalise):
    day, original, path = _obs_log_with(tmp_path, shared_data, "2000000000")
    records = read_obs_log(path).records_by_date[day]
    offers, quarantine = normalise(records, source="obs_log", day=day)
    bad = quarantine.filter(quarantine["reason"] == "bad_n_offers")
    assert bad["detail"].to_list() == [
        "n_offers '2000000000' is not a count of offers in 1..100000"
    ]
    assert offers["n_offers"].max() <= MAX_N_OFFERS
    # the same day of the unmodified log: one more offer, nothing quarantined as bad_n_offers
    src = next((shared_data / OBS_DIR).glob("observations_*.csv"))
    real_offers, real_quarantine = normalise(
        read_obs_log(src).records_by_date[day], source="obs_log", day=day
    )
    assert offers.height == real_offers.height - 1
    assert "bad_n_offers" not in real_quarantine["reason"].to_list()
    assert 1 <= original <= 45  # what the real row said


def test_the_real_log_keeps_every_offer_count(shared_data):
    """The bound is no filter on real data: every count in the 125-day log (1..45) loads."""
    src = next((shared_data / OBS_DIR).glob("observations_*.csv"))
    batch = read_obs_log(src)
    counts = []
    for day, records in batch.records_by_date.items():
        offers, quarantine = normalise_offers(records, source="obs_log", day=day)
        assert "bad_n_offers" not in set(quarantine["reason"])
        counts.extend(offers["n_offers"].to_list())
    assert min(counts) == 1 and max(counts) == 45


def test_runpod_reads_text_prices_strictly(shared_data):
    """RunPod's own string->float: a text price "1_0" in the real capture is not 10.0 but is
    passed on and quarantined as ambiguous_number by normalise_offers."""
    doc = json.loads((shared_data / RUNPOD).read_text())
    items = doc if isinstance(doc, list) else next(v for v in doc.values() if isinstance(v, list))
    priced = next(
        i
        for i, row in enumerate(items)
        if isinstance(
            row.get("raw_data", {}).get("pricing", {}).get("uninterruptablePrice"), (int, float)
        )
        and row["raw_data"]["pricing"]["uninterruptablePrice"] > 0
    )
    items[priced]["raw_data"]["pricing"]["uninterruptablePrice"] = "1_0"
    records = runpod.parse((shared_data / RUNPOD).name, json.dumps(doc).encode())
    assert (
        runpod._num("1_0") is None and runpod._num("2,49") is None and runpod._num("$2.49") == 2.49
    )
    offers, quarantine = normalise_offers(records, source="runpod", day=DAY)
    assert 10.0 not in offers["price_original"].to_list()
    assert quarantine.filter(quarantine["reason"] == "ambiguous_number")["detail"].to_list() == [
        f"price: '1_0' {UNCLEAR}"
    ]


def test_market_sources_do_not_read_underscores_as_digits():
    """Epoch, Hugging Face and SEC parse numbers with float(), which reads "1_0" as 10."""
    from pipelines.lib.sources import epoch_models, huggingface, sec_edgar

    assert epoch_models._number("1_000") == (None, False) and epoch_models._number("1.5e+24") == (
        1.5e24,
        True,
    )
    assert huggingface._count("1_0") == (None, False) and huggingface._count("10") == (10.0, True)
    assert sec_edgar._number("1_0") == (None, "unparseable_number") and sec_edgar._number(10) == (
        10.0,
        None,
    )
    assert sec_edgar._int("2_024") is None and sec_edgar._int(2024) == 2024
