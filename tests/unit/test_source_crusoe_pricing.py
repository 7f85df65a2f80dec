"""Crusoe pricing page: the parser on the real capture (read in place from
../shared/data/pricing_pages/crusoe/undated_ewyluda_078a789_crusoe.html, ≈2026-10-04) and
on hand-written lists in the page's Webflow shape for the edge and failure cases."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import crusoe_pricing
from pipelines.lib.sources.base import ParseError
from tests.local_server import polite_client, serve

CAPTURE = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "data"
    / "pricing_pages"
    / "crusoe"
    / "undated_ewyluda_078a789_crusoe.html"
)
DAY = dt.date(2026, 10, 4)


def _capture() -> bytes:
    if not CAPTURE.is_file():
        pytest.skip(
            f"real Crusoe capture not found at {CAPTURE} (../shared/data beside the checkout)"
        )
    return CAPTURE.read_bytes()


def test_capture_on_demand_prices(caplog):
    with caplog.at_level(logging.INFO, logger="pipelines.lib.sources.crusoe_pricing"):
        records = crusoe_pricing.parse(CAPTURE.name, _capture())
    offers, quarantine = normalise_offers(records, source="crusoe_pricing", day=DAY)
    assert quarantine.height == 0 and offers.height == len(records) == 6
    got = {
        (r["instance_type"], r["gpu_model"], r["pricing"]): r["price_usd_per_gpu_hour"]
        for r in offers.iter_rows(named=True)
    }
    assert got == {
        ("NVIDIA H100 80GB HGX", "H100-SXM-80GB", "on_demand"): 3.90,
        ("NVIDIA H200 141GB HGX", "H200-SXM-141GB", "on_demand"): 4.29,
        ("NVIDIA A100 80GB SXM", "A100-SXM-80GB", "on_demand"): 2.30,
        ("NVIDIA A100 80GB PCIe", "A100-PCIE-80GB", "on_demand"): 2.00,
        ("NVIDIA L40S 48GB", "L40S-48GB", "on_demand"): 1.50,
        ("AMD MI300X 192GB", "MI300X-192GB", "on_demand"): 3.45,
    }
    assert not offers["gpu_variant_assumed"].any()  # form and memory come from the page's tags
    assert set(offers["provider_tier"]) == {"neocloud"}
    assert set(offers["price_basis"]) == {"per_gpu"} and set(offers["gpu_count"]) == {1}
    # every spot cell and GB200 / B200 / MI355X say "Contact sales": 12 cells, no offers
    assert "12 'Contact sales' cells" in caplog.text
    # the Self-Serve Deployments block (H100 $5.50, an inference endpoint rate) is not an instance price
    assert 5.50 not in offers["price_original"].to_list()
    assert "Self-Serve Deployments" in caplog.text


def _item(name: str, tags: list[str], prices: list[str]) -> str:
    tag_html = "".join(f'<div class="pricing-tag">{t}</div>' for t in tags)
    cells = "".join(f'<div class="pricing-rich"><p>{p}</p></div>' for p in prices)
    return (
        f'<div role="listitem"><div class="pricing_gpu-item"><a href="#"><div><h4>{name}</h4></div>'
        f'<div class="pricing_tags-wr">{tag_html}</div></a>{cells}</div></div>'
    )


def _page(header: list[str], items: list[str], heading: str = "GPU instances pricing") -> bytes:
    head = "".join(f'<div class="pricing-heading">{h}</div>' for h in header)
    return (
        f'<h3>{heading}</h3><div class="pricing-gap"><div class="pricing-table-heading">{head}</div>'
        f'<div class="w-dyn-list"><div role="list">{"".join(items)}</div></div></div>'
    ).encode()


HEADER = ["GPU model", "On-demand", "Current spot"]


def test_hand_written_spot_price_and_unreadable_cells():
    page = _page(
        HEADER,
        [
            _item("NVIDIA H100", ["80GB", "HGX"], ["$3.90/GPU-hr", "$1.60/GPU-hr"]),
            _item("NVIDIA H200", ["141GB", "HGX"], ["$30.00/hr", "Contact sales"]),
            _item("NVIDIA B200", ["180GB", "HGX"], ["Coming soon", "Contact sales"]),
        ],
    )
    records = crusoe_pricing.parse("pricing.html", page)
    offers, quarantine = normalise_offers(records, source="crusoe_pricing", day=DAY)
    assert [
        (r["gpu_model"], r["pricing"], r["price_usd_per_gpu_hour"])
        for r in offers.iter_rows(named=True)
    ] == [("H100-SXM-80GB", "on_demand", 3.90), ("H100-SXM-80GB", "spot", 1.60)]
    # per what? not guessed; text that is not one price is not read as one
    assert quarantine["reason"].to_list() == ["bad_price_basis", "missing_price"]


@pytest.mark.parametrize(
    "page, message",
    [
        (
            b"<html><body><h1>Crusoe Cloud pricing</h1><div id='app'></div></body></html>",
            "no Crusoe GPU price list",
        ),
        (
            _page(
                ["GPU type", "Price per hour"],
                [_item("NVIDIA H100", ["80GB"], ["$5.50"])],
                heading="Self-Serve Deployments pricing",
            ),
            "no Crusoe GPU price list",
        ),
        (_page(HEADER, []), "has no items"),
        (
            _page(
                HEADER,
                [_item("NVIDIA GB200", ["186GB", "NVL72"], ["Contact sales", "Contact sales"])],
            ),
            "no price could be read",
        ),
    ],
)
def test_unrecognised_pages_fail_loudly(page, message):
    with pytest.raises(ParseError, match=message):
        crusoe_pricing.parse("pricing.html", page)


def test_spec():
    spec = crusoe_pricing.SPEC
    assert (spec.id, spec.kind, spec.providers, spec.terms.checked) == (
        "crusoe_pricing",
        "gpu_offers",
        ("crusoe",),
        "2026-12-01",
    )
    assert spec.defaults == {"enabled": True, "base_url": "https://crusoe.ai/cloud/pricing"}


# --- fetch against a local server ------------------------------------------------------------


def test_fetch_archives_the_page_and_it_parses():
    from pipelines.lib.sources.base import FetchFailure, Payload

    content = _capture()
    httpd, url, paths = serve(200, content)
    try:
        out = crusoe_pricing.fetch(polite_client(), {"base_url": url}, DAY)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (
        [type(p) for p in out] == [Payload]
        and out[0].name == "pricing.html"
        and paths == ["/pricing"]
    )
    assert len(crusoe_pricing.parse(out[0].name, out[0].content)) == 6
    httpd, url, _ = serve(503, b"busy")
    try:
        failed = crusoe_pricing.fetch(polite_client(), {"base_url": url}, DAY)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [type(p) for p in failed] == [FetchFailure] and "503" in failed[0].error
