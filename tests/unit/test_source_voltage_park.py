"""voltage_park: bare-metal locations -> per-GPU-hour offers per fabric with GPUs free.
Hand-written fixture in the shape established from public clients
(tests/fixtures/voltage_park/README.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import voltage_park
from pipelines.lib.sources.base import ParseError

FIXTURE = Path(__file__).parents[1] / "fixtures" / "voltage_park" / "bare_metal_locations.json"
DAY = dt.date(2026, 12, 1)


def test_offers_per_fabric_with_stock():
    recs = voltage_park.parse(FIXTURE.name, FIXTURE.read_bytes())
    offers, quarantine = normalise_offers(recs, source="voltage_park", day=DAY)
    assert sorted(
        offers.select(
            "region",
            "instance_type",
            "gpu_model",
            "gpu_count",
            "price_usd_per_gpu_hour",
            "available_gpus",
            "stock_status",
        ).rows()
    ) == [
        ("loc-ashburn-0001", "bare-metal-ethernet", "H100-SXM-80GB", 8, 1.99, 0, "sold_out"),
        ("loc-ashburn-0001", "bare-metal-infiniband", "H100-SXM-80GB", 8, 2.49, 16, "available"),
        ("loc-dallas-0002", "bare-metal-ethernet", "H100-SXM-80GB", 8, 2.1, 24, "available"),
    ]
    assert set(offers["provider_tier"].to_list()) == {"neocloud"}
    assert sorted(quarantine["reason"].to_list()) == ["missing_price", "unknown_price_field"]


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: d.update(has_next=True), "partial list"),
        (lambda d: d.update(total_result_count=5), "partial list"),
        (lambda d: d.pop("total_result_count"), "total_result_count"),
        (lambda d: d.pop("results"), "no 'results'"),
        (lambda d: d["results"][0].pop("specs_per_node"), "specs_per_node"),
    ],
)
def test_unrecognised_envelope_fails_loudly(change, message):
    doc = json.loads(FIXTURE.read_bytes())
    change(doc)
    with pytest.raises(ParseError, match=message):
        voltage_park.parse(FIXTURE.name, json.dumps(doc).encode())
