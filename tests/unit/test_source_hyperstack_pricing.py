"""Hyperstack pricing page: the parser on the real capture (read in place from
../shared/data/pricing_pages/hyperstack/undated_ewyluda_eb72cc6_hyperstack.html, ≈2026-10-04)
and on hand-written cards in the page's HubSpot shape for the edge and failure cases."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import hyperstack_pricing
from pipelines.lib.sources.base import ParseError
from tests.local_server import polite_client, serve

CAPTURE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "pricing_pages"
    / "hyperstack"
    / "undated_ewyluda_eb72cc6_hyperstack.html"
)
DAY = dt.date(2026, 10, 4)


@pytest.fixture(scope="module")
def offers() -> pl.DataFrame:
    if not CAPTURE.is_file():
        pytest.skip(
            f"real Hyperstack capture not found at {CAPTURE} (../shared/data beside the checkout)"
        )
    records = hyperstack_pricing.parse(CAPTURE.name, CAPTURE.read_bytes())
    offers, quarantine = normalise_offers(records, source="hyperstack_pricing", day=DAY)
    assert quarantine.height == 0
    assert len(records) == offers.height == 30  # 13 on-demand + 12 reservation + 5 spot rows
    return offers


def _price(offers: pl.DataFrame, page_name: str, pricing: str) -> tuple[str, float]:
    row = offers.filter(
        (pl.col("instance_type").str.split(" | ").list.first() == page_name)
        & (pl.col("pricing") == pricing)
    )
    assert row.height == 1, (page_name, pricing, row)
    return row["gpu_model"][0], row["price_usd_per_gpu_hour"][0]


def test_on_demand_card(offers):
    assert _price(offers, "NVIDIA H100 SXM", "on_demand") == ("H100-SXM-80GB", 3.20)
    assert _price(offers, "NVIDIA H200 SXM", "on_demand") == ("H200-SXM-141GB", 3.99)
    assert _price(offers, "NVIDIA B200", "on_demand") == ("B200-180GB", 6.00)
    assert _price(offers, "NVIDIA B300", "on_demand") == ("B300-288GB", 7.40)
    assert _price(offers, "NVIDIA RTX Pro 6000 SE", "on_demand") == ("RTXPRO6000-96GB", 1.85)
    assert _price(offers, "NVIDIA A4000", "on_demand") == ("RTXA4000-16GB", 0.15)
    # "&nbsp;$1.40" and friends: the entity is stripped, the price read
    assert _price(offers, "NVIDIA A100 NVLink", "on_demand") == ("A100-PCIE-80GB", 1.40)
    assert _price(offers, "NVIDIA L40", "on_demand") == ("L40-48GB", 1.00)
    assert offers.filter(pl.col("pricing") == "on_demand").height == 13


def test_h100_and_a100_forms(offers):
    # bare "NVIDIA H100" is the PCIe card (its reserve link says pcie); "NVLink" is a bridged
    # PCIe card with 80 GB, not the 94 GB H100 NVL; only "SXM" rows are SXM
    assert _price(offers, "NVIDIA H100", "on_demand") == ("H100-PCIE-80GB", 2.50)
    assert _price(offers, "NVIDIA H100 NVLink", "on_demand") == ("H100-PCIE-80GB", 2.60)
    assert _price(offers, "NVIDIA A100", "on_demand") == ("A100-PCIE-80GB", 1.35)
    assert _price(offers, "NVIDIA A100 SXM", "on_demand") == ("A100-SXM-80GB", 1.60)
    assert not offers.filter(pl.col("gpu_model").str.starts_with("H100-NVL")).height
    assert not offers["gpu_variant_assumed"].any()


def test_reservation_card_is_reserved_with_a_lower_bound(offers):
    model, price = _price(offers, "NVIDIA H100 SXM", "reserved")
    assert (model, price) == (
        "H100-SXM-80GB",
        2.72,
    )  # "&nbsp;$2.72": a reservation price, not on-demand
    assert _price(offers, "NVIDIA B200", "reserved") == ("B200-180GB", 5.10)
    # the reservation card has no VRAM column: the on-demand card's 80 GB keeps A100s at 80 GB
    assert _price(offers, "NVIDIA A100", "reserved") == ("A100-PCIE-80GB", 0.95)
    reserved = offers.filter(pl.col("pricing") == "reserved")
    assert reserved.height == 12
    assert set(reserved["reserved_term"]) == {"unspecified"}
    assert reserved["instance_type"].str.contains("starting from").all()
    assert (reserved["price_min_usd_per_gpu_hour"] == reserved["price_usd_per_gpu_hour"]).all()


def test_spot_card(offers):
    assert _price(offers, "NVIDIA H100 PCIe", "spot") == ("H100-PCIE-80GB", 2.00)
    assert _price(offers, "NVIDIA RTX Pro 6000 SE", "spot") == ("RTXPRO6000-96GB", 1.48)
    assert _price(offers, "NVIDIA A100", "spot") == ("A100-PCIE-80GB", 1.08)
    assert _price(offers, "NVIDIA L40", "spot") == ("L40-48GB", 0.80)  # " $0.80": leading space
    assert offers.filter(pl.col("pricing") == "spot").height == 5
    assert set(offers["provider_tier"]) == {"neocloud"}
    assert set(offers["price_basis"]) == {"per_gpu"} and set(offers["gpu_count"]) == {1}


def _card(heading: str, header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f'<div class="head_item"><span>{h}</span></div>' for h in header)
    body = "".join(
        '<div class="row_item">'
        + "".join(f'<div class="col"><span>{c}</span></div>' for c in r)
        + "</div>"
        for r in rows
    )
    return (
        f'<div class="card"><div class="top"><h3>{heading}</h3></div><div class="main">'
        f'<div class="head">{head}</div><div class="rows">{body}</div></div></div>'
    )


def test_hand_written_cards():
    page = _card(
        "On-Demand GPU Pricing",
        ["GPU Model", "VRAM (GB)", "Pricing Per Hour"],
        [["NVIDIA H100 SXM", "80", "&amp;nbsp;$3.10"], ["NVIDIA H200 SXM", "141", "Sold out"]],
    ) + _card("Flex Pricing", ["GPU Model", "Pricing Per Hour"], [["NVIDIA H100 SXM", "$9.99"]])
    records = hyperstack_pricing.parse("pricing.html", page.encode())
    offers, quarantine = normalise_offers(records, source="hyperstack_pricing", day=DAY)
    # a double-escaped &nbsp; (literal text) is stripped too; an unknown card is skipped
    assert offers["price_usd_per_gpu_hour"].to_list() == [3.10]
    assert quarantine["reason"].to_list() == ["missing_price"]  # "Sold out": kept, not dropped


@pytest.mark.parametrize(
    "page, message",
    [
        (
            "<html><body><h2>AI Cloud Pricing</h2><div id='root'></div></body></html>",
            "no Hyperstack GPU price card",
        ),
        (
            _card("On-Demand GPU Pricing", ["GPU Model", "VRAM (GB)", "Pricing Per Hour"], []),
            "has no rows",
        ),
        (
            _card("Spot VM Pricing", ["GPU Model", "Spot VM"], [["NVIDIA A100", "Coming soon"]]),
            "no price could be read",
        ),
        (
            _card("Spot VM Pricing", ["GPU Model", "VRAM (GB)"], [["NVIDIA A100", "80"]]),
            "no price column",
        ),
    ],
)
def test_unrecognised_pages_fail_loudly(page, message):
    with pytest.raises(ParseError, match=message):
        hyperstack_pricing.parse("pricing.html", page.encode())


def test_spec():
    spec = hyperstack_pricing.SPEC
    assert (spec.id, spec.kind, spec.providers, spec.terms.checked) == (
        "hyperstack_pricing",
        "gpu_offers",
        ("hyperstack",),
        "2026-12-01",
    )
    assert spec.defaults["base_url"] == "https://www.hyperstack.cloud/gpu-pricing"


# --- fetch against a local server ------------------------------------------------------------


def test_fetch_archives_the_page_and_it_parses(offers):
    from pipelines.lib.sources.base import FetchFailure, Payload

    content = CAPTURE.read_bytes()
    httpd, url, paths = serve(200, content)
    try:
        out = hyperstack_pricing.fetch(polite_client(), {"base_url": url}, DAY)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (
        [type(p) for p in out] == [Payload]
        and out[0].name == "pricing.html"
        and paths == ["/pricing"]
    )
    assert len(hyperstack_pricing.parse(out[0].name, out[0].content)) == offers.height == 30
    httpd, url, _ = serve(404, b"moved")
    try:
        failed = hyperstack_pricing.fetch(polite_client(), {"base_url": url}, DAY)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [type(p) for p in failed] == [FetchFailure] and "404" in failed[0].error
