"""ovhcloud: the public order catalog (prices in 1e-8 EUR) -> USD per GPU-hour with the ECB
rate of the date. Hand-written fixture in the catalog's shape (tests/fixtures/ovhcloud)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import ovhcloud
from pipelines.lib.sources.base import ParseError

CATALOG = Path(__file__).parents[1] / "fixtures" / "ovhcloud" / "catalog_FR.json"
DAY = dt.date(2026, 12, 1)


def test_gpu_flavours_in_catalog_currency_units():
    recs = {r["instance_type"]: r for r in ovhcloud.parse(CATALOG.name, CATALOG.read_bytes())}
    # CPU flavour, monthly plan and Windows flavour are not offers
    assert sorted(recs) == ["a10-45", "h100-1520", "h100-380", "l4-90", "l40s-90"]
    assert (recs["h100-380"]["price"], recs["h100-380"]["currency"]) == (2.8, "EUR")
    assert (recs["h100-1520"]["price"], recs["h100-1520"]["gpu_count"]) == (11.2, 4)


def test_normalised_with_the_eur_rate():
    recs = ovhcloud.parse(CATALOG.name, CATALOG.read_bytes())
    offers, quarantine = normalise_offers(
        recs, source="ovhcloud", day=DAY, fx_rates={"EUR": 1.05, "USD": 1.0}
    )
    assert sorted(
        offers.select(
            "instance_type", "gpu_model", "gpu_count", "price_usd_per_gpu_hour", "price_original"
        ).rows()
    ) == [
        ("h100-1520", "H100-SXM-80GB", 4, 2.94, 11.2),
        ("h100-380", "H100-SXM-80GB", 1, 2.94, 2.8),
        ("l40s-90", "L40S-48GB", 1, 1.47, 1.4),
    ]
    assert set(offers["provider"].to_list()) == {"ovh"}
    assert dict(quarantine.select("gpu_name_raw", "reason").rows()) == {
        "A10": "bad_price_unit",
        "L4": "missing_price",
    }


def test_payload_name_from_subsidiary():
    assert ovhcloud.payload_name(ovhcloud.DEFAULT_BASE_URL) == "catalog_FR.json"
    assert (
        ovhcloud.payload_name(
            "https://api.us.ovhcloud.com/1.0/order/catalog/public/cloud?ovhSubsidiary=US"
        )
        == "catalog_US.json"
    )


def test_usd_catalog_needs_no_rate():
    doc = json.loads(CATALOG.read_bytes())
    doc["locale"]["currencyCode"] = "USD"
    offers, _ = normalise_offers(
        ovhcloud.parse("catalog_US.json", json.dumps(doc).encode()), source="ovhcloud", day=DAY
    )
    assert sorted(offers["price_usd_per_gpu_hour"].to_list()) == [1.4, 2.8, 2.8]


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"plans": []}', "currencyCode"),
        (b'{"locale": {"currencyCode": "EUR"}}', "no 'plans'"),
        (b'{"locale": {"currencyCode": "EUR"}, "addons": []}', "no GPU instance flavour"),
        (b"[]", "not a catalog"),
        (b"<html>", "not JSON"),
    ],
)
def test_unrecognised_catalog_fails_loudly(content, message):
    with pytest.raises(ParseError, match=message):
        ovhcloud.parse("catalog_FR.json", content)
