"""scaleway: EUR per server-hour -> USD per GPU-hour with the ECB rate of the same date.

Hand-written fixtures in the real shapes (tests/fixtures/scaleway/README.md,
tests/fixtures/ecb_fx/README.md)."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import pytest

from pipelines.lib.config import load_config
from pipelines.lib.ingest import ingest
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import scaleway
from pipelines.lib.sources.base import ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures"
SERVERS = FIXTURES / "scaleway" / "fr-par-2_servers.json"
ECB = FIXTURES / "ecb_fx" / "eurofxref-daily.xml"
DAY = dt.date(2026, 11, 28)


def _records():
    return scaleway.parse(SERVERS.name, SERVERS.read_bytes())


def test_parse_keeps_eur_server_prices_and_skips_cpu_types():
    recs = {r["instance_type"]: r for r in _records()}
    assert sorted(recs) == ["GPU-3070-S", "H100-1-80G", "H100-SXM-8-80G", "L4-1-24G", "L40S-1-48G"]
    h100 = recs["H100-SXM-8-80G"]
    assert (h100["price"], h100["currency"], h100["gpu_count"], h100["price_basis"]) == (
        24.0,
        "EUR",
        8,
        "per_instance",
    )
    assert h100["gpu_memory_gb"] == 80.0 and h100["region"] == "fr-par-2"


def test_converted_with_the_rate_of_the_date_and_original_kept():
    offers, quarantine = normalise_offers(
        _records(), source="scaleway", day=DAY, fx_rates={"EUR": 1.05, "USD": 1.0}
    )
    got = {r["instance_type"]: r for r in offers.iter_rows(named=True)}
    assert got["H100-1-80G"]["price_usd_per_gpu_hour"] == 2.8665  # 2.73 EUR x 1.05
    assert got["H100-SXM-8-80G"]["price_usd_per_gpu_hour"] == 3.15  # 24 EUR x 1.05 / 8
    assert got["H100-SXM-8-80G"]["gpu_model"] == "H100-SXM-80GB"
    assert got["L4-1-24G"]["price_usd_per_gpu_hour"] == 0.7875
    assert {(r["price_original"], r["currency"]) for r in got.values()} == {
        (2.73, "EUR"),
        (24.0, "EUR"),
        (0.75, "EUR"),
    }
    assert dict(quarantine.select("gpu_name_raw", "reason").rows()) == {
        "L40S": "missing_price",
        "QX-9000": "unknown_gpu",
    }


def test_no_rate_for_the_date_is_quarantined_never_guessed():
    offers, quarantine = normalise_offers(_records(), source="scaleway", day=DAY)
    assert offers.height == 0
    assert quarantine.filter(quarantine["gpu_name_raw"] == "H100")["reason"].to_list() == [
        "non_usd_currency",
        "non_usd_currency",
    ]
    offers, quarantine = normalise_offers(
        _records(), source="scaleway", day=DAY, fx_rates={"GBP": 1.25}
    )
    assert offers.height == 0 and "no_fx_rate" in quarantine["reason"].to_list()


def _archive(root: Path, with_rates: bool) -> Path:
    (root / "scaleway" / DAY.isoformat()).mkdir(parents=True)
    shutil.copy(SERVERS, root / "scaleway" / DAY.isoformat() / SERVERS.name)
    if with_rates:
        (root / "ecb_fx" / DAY.isoformat()).mkdir(parents=True)
        shutil.copy(ECB, root / "ecb_fx" / DAY.isoformat() / "eurofxref-daily.xml")
    return root


def test_ingest_converts_with_the_archived_ecb_file(tmp_path):
    result = ingest("scaleway", DAY, load_config(), from_archive=_archive(tmp_path, True))
    prices = dict(result.offers.select("instance_type", "price_usd_per_gpu_hour").rows())
    assert prices == {"H100-1-80G": 2.8665, "H100-SXM-8-80G": 3.15, "L4-1-24G": 0.7875}
    assert set(result.offers["currency"].to_list()) == {"EUR"}


def test_ingest_without_ecb_file_quarantines_every_eur_offer(tmp_path):
    from pipelines.lib.ingest import SourceFailed

    with pytest.raises(SourceFailed) as err:
        ingest("scaleway", DAY, load_config(), from_archive=_archive(tmp_path, False))
    reasons = err.value.result.quarantine["reason"].to_list()
    assert reasons.count("non_usd_currency") == 4 and reasons.count("unknown_gpu") == 1


@pytest.mark.parametrize(
    "content", [b"[]", b'{"servers": []}', b"<html/>", b'{"servers": {"H100-1-80G": 3}}']
)
def test_unrecognised_payload_fails_loudly(content):
    with pytest.raises(ParseError):
        scaleway.parse("fr-par-2_servers.json", content)
