"""vultr: the real-shape plan lists in shared/data/provider_payloads/vultr (gpuhunt's tests,
MPL-2.0, read in place) -> per-GPU-hour prices, by location; fractional GPUs quarantined."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import vultr
from pipelines.lib.sources.base import ParseError

DAY = dt.date(2026, 12, 1)


@pytest.fixture
def payloads(shared_data):
    folder = shared_data / "provider_payloads" / "vultr"
    return {
        vultr.PLANS: (folder / "gpuhunt_test_vm_instances.json").read_bytes(),
        vultr.METAL: (folder / "gpuhunt_test_bare_metal.json").read_bytes(),
    }


def _normalised(name, content):
    return normalise_offers(vultr.parse(name, content), source="vultr", day=DAY)


def test_bare_metal_per_gpu_prices_from_the_plan_id(payloads):
    offers, quarantine = _normalised(vultr.METAL, payloads[vultr.METAL])
    assert quarantine.height == 0
    got = sorted(
        offers.select(
            "gpu_model",
            "gpu_count",
            "pricing",
            "price_original",
            "price_usd_per_gpu_hour",
            "region",
        ).rows()
    )
    assert got == [
        ("H100-SXM-80GB", 8, "on_demand", 23.92, 2.99, "sea"),
        ("H100-SXM-80GB", 8, "spot", 18.4, 2.3, "sea"),
        ("MI300X-192GB", 8, "on_demand", 17.52, 2.19, "ord"),
        ("MI300X-192GB", 8, "spot", 14.72, 1.84, "ord"),
    ]
    assert set(offers["stock_status"].to_list()) == {"available"}
    # the bare H100 id names no form: the SXM default is flagged as assumed
    h100 = offers.filter(offers["gpu_family"] == "H100")
    assert h100["gpu_variant_assumed"].to_list() == [True, True]


def test_vm_plans_whole_cards_priced_fractions_quarantined(payloads):
    offers, quarantine = _normalised(vultr.PLANS, payloads[vultr.PLANS])
    assert offers.select(
        "instance_type", "gpu_model", "gpu_count", "price_usd_per_gpu_hour", "region"
    ).rows() == [("vcg-a100-12c-120g-80vram", "A100-SXM-80GB", 1, 2.397, "ewr")]
    assert sorted(quarantine.select("reason").to_series().to_list()) == ["fractional_gpu"] * 2
    details = " | ".join(quarantine["detail"].to_list())
    assert "4 GB of a 80 GB NVIDIA_A100" in details and "40 GB of a 80 GB" in details


def test_empty_locations_is_unavailable_not_dropped(payloads):
    doc = json.loads(payloads[vultr.METAL])
    doc["plans_metal"][0]["locations"] = []
    recs = vultr.parse(vultr.METAL, json.dumps(doc).encode())
    mi300x = [r for r in recs if r["gpu_name"] == "mi300x"]
    assert [(r["region"], r["stock_status"]) for r in mi300x] == [(None, "unavailable")] * 2


def test_unknown_card_has_no_gpu_count(payloads):
    doc = json.loads(payloads[vultr.PLANS])
    doc["plans"][1]["gpu_type"] = "NVIDIA_B200"
    _, quarantine = _normalised(vultr.PLANS, json.dumps(doc).encode())
    assert "unknown_gpu_count" in quarantine["reason"].to_list()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"[]", "not an object"),
        (b'{"plans": {}}', "no 'plans'"),
        (b"<html/>", "not JSON"),
        (b'{"plans": [], "meta": {"total": 900}}', "truncated"),
    ],
)
def test_unrecognised_payload_fails_loudly(content, message):
    with pytest.raises(ParseError, match=message):
        vultr.parse(vultr.PLANS, content)
