"""lium: the public node feed and the keyed executors list -> per-GPU-hour offers with free
GPUs. Hand-written fixtures in the shapes established from gpuhunt and SkyPilot
(tests/fixtures/lium/README.md)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import lium
from pipelines.lib.sources.base import ParseError

FIXTURES = Path(__file__).parents[1] / "fixtures" / "lium"
DAY = dt.date(2026, 12, 1)


def _normalised(name):
    return normalise_offers(
        lium.parse(name, (FIXTURES / name).read_bytes()), source="lium", day=DAY
    )


def test_feed_offers_prices_tiers_and_free_gpus():
    offers, quarantine = _normalised(lium.FEED_NAME)
    assert sorted(
        offers.select(
            "instance_type",
            "gpu_model",
            "gpu_count",
            "pricing",
            "price_usd_per_gpu_hour",
            "available_gpus",
            "stock_status",
            "region",
        ).rows()
    ) == [
        ("node-5090-mn", "RTX5090-32GB", 1, "spot", 0.5, 1, "available", "US-MN"),
        ("node-b200-fi", "B200-180GB", 8, "on_demand", 5.6, 8, "available", "FI"),
        ("node-h100-va", "H100-SXM-80GB", 8, "on_demand", 1.39, 0, "rented", "US-VA"),
    ]
    assert set(offers["provider_tier"].to_list()) == {"neocloud"}
    assert dict(quarantine.select("gpu_name_raw", "reason").rows()) == {
        "H200": "inconsistent_price",
        "Quadro X9": "unknown_gpu",
        "RTX 4090": "bad_pricing_type",
    }
    detail = quarantine.filter(quarantine["reason"] == "inconsistent_price")["detail"][0]
    assert "31.0 != price_per_gpu_hour 3.99 x 8 GPUs" in detail


def test_executors_shape():
    offers, quarantine = _normalised(lium.EXECUTORS_NAME)
    assert quarantine.height == 0
    assert sorted(
        offers.select(
            "instance_type",
            "gpu_model",
            "gpu_count",
            "pricing",
            "price_usd_per_gpu_hour",
            "stock_status",
        ).rows()
    ) == [
        ("ex-4090", "RTX4090-24GB", 2, "spot", 0.29, "partially_rented"),
        ("ex-a100", "A100-SXM-80GB", 4, "on_demand", 1.1, "available"),
    ]


def test_payload_name_follows_the_endpoint():
    assert lium._payload_name("https://lium.io/api/public/v1/nodes") == "nodes.json"
    assert lium._payload_name("https://lium.io/api/executors?size=1000") == "executors.json"


@pytest.mark.parametrize(
    "content, message",
    [
        (b'{"nodes": {}}', "no 'nodes' list"),
        (b'[{"id": 1}]', "not executors"),
        (b'{"nodes": ["x"]}', "not an object"),
        (b"<html>", "not JSON"),
        (b"3", "top level"),
    ],
)
def test_unrecognised_payload_fails_loudly(content, message):
    with pytest.raises(ParseError, match=message):
        lium.parse(lium.FEED_NAME, content)
