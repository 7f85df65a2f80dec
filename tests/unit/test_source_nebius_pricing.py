"""Nebius pricing page: the parser on both real captures (read in place from
../shared/data/pricing_pages/nebius), the dated column chosen by the payload's date, the
ingest path passing that date, and hand-written grids for the failure cases.

Captures (that folder's README): ``2026-10-08_ewyluda_75b04a0_nebius_prices.html`` (tag
attributes stripped) and ``undated_ewyluda_eb72cc6_nebius.html`` (≈2026-10-04, gravity-ui
class names). Both have the same price tables."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.ingest import _parse_one
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import nebius_pricing
from pipelines.lib.sources.base import ParseError
from tests.local_server import polite_client, serve

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pricing_pages" / "nebius"
CAPTURES = ["2026-10-08_ewyluda_75b04a0_nebius_prices.html", "undated_ewyluda_eb72cc6_nebius.html"]
BEFORE = dt.date(2026, 9, 15)  # the undated on-demand column applies
AFTER = dt.date(2026, 10, 4)  # "GPU-hour (Effective October 1, 2026)" applies


def _content(name: str) -> bytes:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"real Nebius capture not found at {path} (../shared/data beside the checkout)")
    return path.read_bytes()


def _prices(name: str, day: dt.date) -> tuple[dict[tuple[str, str, str], float], pl.DataFrame]:
    records = nebius_pricing.parse(name, _content(name), day)
    offers, quarantine = normalise_offers(records, source="nebius_pricing", day=day)
    assert quarantine.height == 0
    assert offers.height == len(records) == 14  # 7 priced on-demand rows + 7 preemptible rows
    return {
        (r["gpu_name_raw"], r["gpu_model"], r["pricing"]): r["price_usd_per_gpu_hour"]
        for r in offers.iter_rows(named=True)
    }, offers


@pytest.mark.parametrize("name", CAPTURES)
def test_on_demand_column_follows_the_date(name):
    before, _ = _prices(name, BEFORE)
    after, _ = _prices(name, AFTER)
    h100 = ("NVIDIA HGX H100", "H100-SXM-80GB", "on_demand")
    h200 = ("NVIDIA HGX H200", "H200-SXM-141GB", "on_demand")
    b200 = ("NVIDIA HGX B200", "B200-180GB", "on_demand")
    b300 = ("NVIDIA HGX B300", "B300-288GB", "on_demand")
    assert [before[k] for k in (h100, h200, b200, b300)] == [3.85, 4.50, 7.15, 7.85]
    assert [after[k] for k in (h100, h200, b200, b300)] == [4.50, 5.40, 8.50, 9.50]
    # unchanged rows, and the first day of the new column
    assert before[("NVIDIA RTX PRO 6000", "RTXPRO6000-96GB", "on_demand")] == 1.80
    assert after[("NVIDIA L40S with Intel CPU", "L40S-48GB", "on_demand")] == 1.55
    on_the_day, _ = _prices(name, dt.date(2026, 10, 1))
    day_before, _ = _prices(name, dt.date(2026, 9, 30))
    assert (day_before[h100], on_the_day[h100]) == (3.85, 4.50)


@pytest.mark.parametrize("name", CAPTURES)
def test_preemptible_is_spot_and_from_is_a_lower_bound(name):
    prices, offers = _prices(name, AFTER)
    assert prices[("NVIDIA HGX H100", "H100-SXM-80GB", "spot")] == 0.79
    assert prices[("NVIDIA HGX H200", "H200-SXM-141GB", "spot")] == 0.79
    assert prices[("NVIDIA HGX B300", "B300-288GB", "spot")] == 0.99
    assert prices[("NVIDIA HGX B200", "B200-180GB", "spot")] == 0.99
    assert prices[("NVIDIA L40S with Intel CPU", "L40S-48GB", "spot")] == 0.74
    h100_spot = offers.filter(
        (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "spot")
    ).row(0, named=True)
    assert "lower bound ('from $0.79')" in h100_spot["instance_type"]
    assert h100_spot["price_min_usd_per_gpu_hour"] == 0.79
    assert "all-in GPU-hour: 16 vCPU, 200 GB RAM per GPU" in h100_spot["instance_type"]
    assert (h100_spot["price_basis"], h100_spot["gpu_count"], h100_spot["provider_tier"]) == (
        "per_gpu",
        1,
        "neocloud",
    )
    assert h100_spot["gpu_variant_assumed"] is False  # HGX = SXM baseboard


@pytest.mark.parametrize("name", CAPTURES)
def test_contact_us_rows_are_not_offers(name):
    _, offers = _prices(name, AFTER)
    assert not offers.filter(pl.col("gpu_family").is_in(["GB200", "GB300"])).height
    h100 = offers.filter(
        (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand")
    )
    assert h100["instance_type"].to_list() == [
        "NVIDIA HGX H100 | all-in GPU-hour: 16 vCPU, 200 GB RAM per GPU | price effective 2026-10-01"
    ]


@pytest.mark.parametrize("name", CAPTURES)
def test_without_a_date_the_dated_page_is_ambiguous(name):
    with pytest.raises(ParseError, match="depends on the payload's date"):
        nebius_pricing.parse(name, _content(name))


def test_ingest_passes_the_archive_date():
    name = CAPTURES[0]
    offers, quarantine = _parse_one(
        nebius_pricing, "nebius_pricing", AFTER, name, _content(name), None
    )
    assert quarantine.height == 0
    h100 = offers.filter(
        (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand")
    )
    assert h100["price_usd_per_gpu_hour"].to_list() == [4.50]
    assert h100["date"].to_list() == [AFTER]


def _grid(heading: str, header: list[str], rows: list[list[str]]) -> str:
    def row(cells):
        return "<div>" + "".join(f"<div><div><p>{c}</p></div></div>" for c in cells) + "</div>"

    return (
        f"<h2><span>{heading}</span></h2><div><div><div>{row(header)}</div>"
        f"<div>{''.join(row(r) for r in rows)}</div></div></div>"
    )


def test_hand_written_grids():
    # an undated-only page needs no date; an unreadable price is kept and quarantined
    page = _grid(
        "NVIDIA GPU Instances",
        ["Item", "vCPUs", "RAM, GB", "On-demand, GPU-hour"],
        [["NVIDIA HGX H100", "16", "200", "$2.95"], ["NVIDIA HGX H200", "16", "200", "On request"]],
    )
    records = nebius_pricing.parse("prices.html", page.encode())
    offers, quarantine = normalise_offers(records, source="nebius_pricing", day=BEFORE)
    assert offers["price_usd_per_gpu_hour"].to_list() == [2.95]
    assert quarantine["reason"].to_list() == ["missing_price"]
    # a column that only takes effect later, with no undated column, applies on no earlier day
    later = _grid(
        "NVIDIA GPU Instances",
        ["Item", "vCPUs", "RAM, GB", "GPU-hour (Effective March 1, 2027)"],
        [["NVIDIA HGX H100", "16", "200", "$2.95"]],
    )
    with pytest.raises(ParseError, match="applies on 2026-09-15"):
        nebius_pricing.parse("prices.html", later.encode(), BEFORE)
    assert (
        nebius_pricing.parse("prices.html", later.encode(), dt.date(2027, 3, 1))[0]["price"] == 2.95
    )


@pytest.mark.parametrize(
    "page, message",
    [
        (
            b"<html><body><h1>Pricing</h1><p>Please enable JavaScript</p></body></html>",
            "no Nebius GPU price grid",
        ),
        (
            _grid(
                "CPU-only instances",
                ["Item", "vCPUs", "Price per hour"],
                [["AMD EPYC", "4", "$0.10"]],
            ).encode(),
            "no Nebius GPU price grid",
        ),
        (
            _grid(
                "NVIDIA GPU Instances",
                ["Item", "On-demand, GPU-hour", "Reserved, GPU-hour"],
                [["NVIDIA HGX H100", "$2.95", "$2.00"]],
            ).encode(),
            "several undated",
        ),
        (
            _grid(
                "NVIDIA GPU Instances",
                ["Item", "vCPUs", "On-demand, GPU-hour"],
                [["NVIDIA GB200 NVL72", "112", "Contact us"]],
            ).encode(),
            "no priced row",
        ),
    ],
)
def test_unrecognised_pages_fail_loudly(page, message):
    with pytest.raises(ParseError, match=message):
        nebius_pricing.parse("prices.html", page, AFTER)


# --- fetch against a local server ------------------------------------------------------------


def test_fetch_archives_the_page_and_it_parses():
    from pipelines.lib.sources.base import FetchFailure, Payload

    content = _content(CAPTURES[0])
    httpd, url, paths = serve(200, content)
    try:
        out = nebius_pricing.fetch(polite_client(), {"base_url": url}, AFTER)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert (
        [type(p) for p in out] == [Payload]
        and out[0].name == "prices.html"
        and paths == ["/pricing"]
    )
    assert out[0].content == content
    assert len(nebius_pricing.parse(out[0].name, out[0].content, AFTER)) == 14
    httpd, url, _ = serve(500, b"oops")
    try:
        failed = nebius_pricing.fetch(polite_client(), {"base_url": url}, AFTER)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [type(p) for p in failed] == [FetchFailure] and "500" in failed[0].error
