"""``lambda_pricing`` on the real Lambda page captures and on a hand-written 2026 page.

Real captures (read in place from ../shared/data/pricing_pages/lambda/, see its README):
the 2026-01-09 lambda.ai 8x tab, the 2024-11-03 and 2023-09-09 lambdalabs.com pages.
The hand-written fixture (tests/fixtures/lambda_pricing/, README there) carries what the
real captures lack: the 4x/2x/1x tab panels, the 1-Click Clusters block, script copies."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.offers import RAW_OFFER_KEYS, normalise_offers
from pipelines.lib.sources import lambda_pricing
from pipelines.lib.sources.base import ParseError, SourceSpec

DAY = dt.date(2026, 5, 24)
PAGE = (
    Path(__file__).resolve().parents[1] / "fixtures" / "lambda_pricing" / "pricing_handwritten.html"
)
MOVED_PAGE = b"<html><body><p>We moved our pricing!</p></body></html>"


def _real(shared_data: Path, prefix: str) -> bytes:
    files = sorted((shared_data / "pricing_pages" / "lambda").glob(f"{prefix}*"))
    assert len(files) == 1, files
    return files[0].read_bytes()


def _normalised(html: bytes | str):
    content = html.encode() if isinstance(html, str) else html
    records = lambda_pricing.parse("pricing.html", content)
    offers, quarantine = normalise_offers(records, source=lambda_pricing.SOURCE_ID, day=DAY)
    assert offers.height + quarantine.height == len(records)
    return records, offers, quarantine


def _rows(offers: pl.DataFrame, *cols: str) -> list[tuple]:
    return offers.sort(list(cols)).select(cols).rows()


def _one(offers: pl.DataFrame, **where) -> dict:
    rows = offers.filter(pl.all_horizontal(*[pl.col(k) == v for k, v in where.items()]))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- real captures --------------------------------------------------------------------------


def test_real_2026_01_page_8x_tab(shared_data):
    records, offers, quarantine = _normalised(_real(shared_data, "2026-01-09"))
    assert quarantine.height == 0 and len(records) == 5
    assert all(set(r) == set(RAW_OFFER_KEYS) for r in records)
    # the GPU count comes only from the tab the table sits in ("8x"), the price is per GPU
    assert set(offers["gpu_count"]) == {8} and set(offers["price_basis"]) == {"per_gpu"}
    assert set(offers["pricing"]) == {"on_demand"} and set(offers["provider"]) == {"lambda"}
    assert _rows(offers, "gpu_model", "price_usd_per_gpu_hour") == [
        ("A100-SXM-40GB", 1.29),
        ("A100-SXM-80GB", 1.79),
        ("B200-180GB", 4.99),
        ("H100-SXM-80GB", 2.99),
        ("V100-16GB", 0.55),
    ]
    h100 = _one(offers, gpu_model="H100-SXM-80GB")
    assert (h100["gpu_name_raw"], h100["instance_type"]) == (
        "NVIDIA H100 SXM",
        "8x NVIDIA H100 SXM",
    )
    # the capture was cut after the 8x table: the other tabs' panels are missing, and say so
    assert records.notes["tabs_without_panel"] == ["4x", "2x", "1x"]


def test_real_2024_page_rows_outside_a_table(shared_data):
    records, offers, quarantine = _normalised(_real(shared_data, "2024-11-03"))
    assert quarantine.height == 0 and offers.height == 17
    assert set(offers["pricing"]) == {"on_demand"} and set(offers["price_basis"]) == {"per_gpu"}
    h100 = offers.filter(pl.col("gpu_model") == "H100-SXM-80GB")
    assert _rows(h100, "gpu_count", "price_usd_per_gpu_hour") == [
        (1, 3.29),
        (2, 3.19),
        (4, 3.09),
        (8, 2.99),
    ]
    assert _one(offers, gpu_model="H100-PCIE-80GB")["price_usd_per_gpu_hour"] == 2.49
    # the two 8x A100 SXM rows are told apart by their VRAM cell
    assert _one(offers, gpu_model="A100-SXM-80GB")["price_usd_per_gpu_hour"] == 1.79
    assert _one(offers, gpu_model="A100-SXM-40GB", gpu_count=8)["price_usd_per_gpu_hour"] == 1.29
    assert _one(offers, gpu_model="QRTX6000-24GB")["price_usd_per_gpu_hour"] == 0.50
    # "Reserved 8x NVIDIA H100 SXM ... CONTACT SALES": not an offer, not an error, noted
    assert records.notes["not_priced"] == ["reserved Reserved 8x NVIDIA H100 SXM: CONTACT SALES"]
    assert not any(r["pricing"] == "reserved" for r in records)


def test_real_2023_page_instance_prices_and_reserved_clusters(shared_data):
    _, offers, quarantine = _normalised(_real(shared_data, "2023-09-09"))
    assert quarantine.height == 0 and offers.height == 15
    on_demand = offers.filter(pl.col("pricing") == "on_demand")
    # header "Price", cells "$20.72 / hr": the price of the 8x instance -> 20.72 / 8
    assert set(on_demand["price_basis"]) == {"per_instance"}
    h100 = _one(on_demand, gpu_model="H100-SXM-80GB")
    assert (h100["gpu_count"], h100["price_original"], h100["price_usd_per_gpu_hour"]) == (
        8,
        20.72,
        2.59,
    )
    assert _one(on_demand, gpu_model="H100-PCIE-80GB")["price_usd_per_gpu_hour"] == 1.99
    a100 = on_demand.filter(pl.col("gpu_model") == "A100-SXM-40GB")
    assert _rows(a100, "gpu_count", "price_original", "price_usd_per_gpu_hour") == [
        (1, 1.1, 1.1),
        (2, 2.2, 1.1),
        (4, 4.4, 1.1),
        (8, 8.8, 1.1),
    ]
    assert _one(on_demand, gpu_model="A100-SXM-80GB")["price_usd_per_gpu_hour"] == 1.5  # 12.00 / 8
    assert _one(on_demand, gpu_model="V100-16GB")["price_usd_per_gpu_hour"] == 0.55  # 4.40 / 8
    reserved = offers.filter(pl.col("pricing") == "reserved")
    assert _rows(
        reserved, "reserved_term", "gpu_model", "gpu_count", "price_basis", "price_usd_per_gpu_hour"
    ) == [
        ("3-months", "H100-SXM-80GB", 248, "cluster_per_gpu", 4.85),
        ("3-years", "H100-SXM-80GB", 64, "cluster_per_gpu", 1.89),
    ]
    assert (
        _one(reserved, reserved_term="3-years")["instance_type"]
        == "Reserved 8x NVIDIA H100 (64 - 60,000 GPUs)"
    )


# --- the hand-written 2026 page -------------------------------------------------------------


@pytest.fixture(scope="module")
def parsed():
    return _normalised(PAGE.read_bytes())


def test_every_tab_gives_its_gpu_count(parsed):
    records, offers, quarantine = parsed
    assert quarantine.height == 0, quarantine
    assert all(set(r) == set(RAW_OFFER_KEYS) for r in records)
    on_demand = offers.filter(pl.col("pricing") == "on_demand")
    # 8x by aria-labelledby, 4x by the tab's aria-controls, 2x labelled, 1x by position
    assert on_demand.group_by("gpu_count").len().sort("gpu_count").rows() == [
        (1, 7),
        (2, 3),
        (4, 3),
        (8, 5),
    ]
    assert set(on_demand["price_basis"]) == {"per_gpu"}
    h100 = on_demand.filter(pl.col("gpu_model") == "H100-SXM-80GB")
    assert _rows(h100, "gpu_count", "price_usd_per_gpu_hour") == [
        (1, 3.29),
        (2, 3.19),
        (4, 3.09),
        (8, 2.99),
    ]
    # a "Plan" header hidden in a span is the name column like an empty one
    assert (
        _one(on_demand, gpu_model="RTXA6000-48GB", gpu_count=4)["instance_type"]
        == "4x NVIDIA A6000"
    )


def test_cluster_block_is_reserved_never_on_demand(parsed):
    _, offers, _ = parsed
    reserved = offers.filter(pl.col("pricing") == "reserved")
    assert _rows(reserved, "gpu_model", "gpu_count", "price_usd_per_gpu_hour") == [
        ("B200-180GB", 16, 4.49),
        ("H100-SXM-80GB", 16, 2.69),
        ("H100-SXM-80GB", 64, 2.49),
    ]
    assert set(reserved["reserved_term"]) == {"2 weeks – 1 year"}
    assert set(reserved["price_basis"]) == {"cluster_per_gpu"}
    # the cluster rates never reach on-demand: the 16-GPU H100 rate 2.69 is not an 8x/1x price
    on_demand = offers.filter(pl.col("pricing") == "on_demand")
    assert 2.69 not in on_demand["price_usd_per_gpu_hour"].to_list()
    assert on_demand["gpu_count"].max() == 8


def test_script_copies_are_ignored_and_unpriced_rows_noted(parsed):
    records, offers, _ = parsed
    assert records.notes["script_copies_ignored"] == 2
    # one offer per row: the 8x table is also in both scripts, escaped, and is not counted again
    assert (
        offers.filter((pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("gpu_count") == 8)).height
        == 1
    )
    assert records.notes["not_priced"] == [
        "on_demand 1x NVIDIA GH200: Sold out",
        "reserved NVIDIA B200 SXM6 (256+ GPUs): Contact sales",
        "reserved NVIDIA H100 SXM (256+ GPUs): Contact sales",
    ]
    assert len(records) == 21


def test_unreadable_price_is_quarantined_not_dropped():
    html = PAGE.read_text().replace(
        '<td data-label="PRICE/GPU/HR*">$0.75</td>',
        '<td data-label="PRICE/GPU/HR*">from $0.75</td>',
    )
    records, offers, quarantine = _normalised(html)
    assert len(records) == 21 and offers.height == 20
    row = quarantine.row(0, named=True)
    # offers.py names a price text holding a number "ambiguous_number" (older: missing_price)
    assert row["gpu_name_raw"] == "NVIDIA A10" and row["reason"] in (
        "ambiguous_number",
        "missing_price",
    )
    assert "from $0.75" in row["detail"]


def test_price_in_another_currency_is_quarantined():
    html = PAGE.read_text().replace(">$0.50<", ">€0.50<")
    _, _, quarantine = _normalised(html)
    assert quarantine.select("gpu_name_raw", "reason").rows() == [
        ("NVIDIA Quadro RTX 6000", "non_usd_currency")
    ]


def test_cell_count_that_contradicts_the_tab_is_quarantined():
    html = PAGE.read_text().replace(
        'data-label="Plan">NVIDIA A10<', 'data-label="Plan">2x NVIDIA A10<'
    )
    _, offers, quarantine = _normalised(html)
    assert quarantine.select("gpu_name_raw", "reason").rows() == [("NVIDIA A10", "bad_gpu_count")]
    assert offers.height == 20


def test_page_without_tables_is_a_parse_error():
    html = re.sub(r"<table.*?</table>", "", PAGE.read_text(), flags=re.DOTALL)
    assert "$2.99" in html  # the headline card and the script copies are still there
    with pytest.raises(
        ParseError, match=r"no Lambda on-demand pricing table found: expected .*PRICE/GPU/HR"
    ):
        lambda_pricing.parse("pricing.html", html.encode())
    with pytest.raises(ParseError, match="found 0 table"):
        lambda_pricing.parse("pricing.html", MOVED_PAGE)


def test_only_a_cluster_block_is_a_parse_error():
    page = PAGE.read_text()
    start, end = (
        page.index('<section class="section"><div class="grid-x">'),
        page.index("</section>") + 10,
    )
    with pytest.raises(
        ParseError, match=r"no Lambda on-demand pricing table found.*3 reserved cluster row"
    ):
        lambda_pricing.parse("pricing.html", (page[:start] + page[end:]).encode())


def test_changed_headers_are_parse_errors():
    page = PAGE.read_text()
    renamed_price = page.replace("<th>PRICE/GPU/HR*</th>", "<th>RATE</th>")
    with pytest.raises(ParseError, match=r"expected .*found \d table\(s\) with headers .*'RATE'"):
        lambda_pricing.parse("pricing.html", renamed_price.encode())
    # a named first column that is not a GPU column: nothing to read the GPU from
    renamed_gpu = page.replace(
        '<th style="width:31%"></th>', '<th style="width:31%">Hardware</th>'
    ).replace('<span class="visually-hidden">Plan</span>', "Hardware")
    with pytest.raises(ParseError, match="no Lambda on-demand pricing table found"):
        lambda_pricing.parse("pricing.html", renamed_gpu.encode())


def test_price_without_unit_is_checked_against_the_gpu_count():
    # "PRICE" alone: read as instance prices, but the H100 costs about the same at 1x and 8x,
    # so these are per-GPU prices with the unit dropped -> an error, not an 8x-too-cheap guess
    no_basis = PAGE.read_text().replace("<th>PRICE/GPU/HR*</th>", "<th>PRICE</th>")
    with pytest.raises(
        ParseError, match=r"per GPU or per instance.*NVIDIA H100 SXM.*grow with the GPU count"
    ):
        lambda_pricing.parse("pricing.html", no_basis.encode())
    # a unit-less price with no GPU count at all cannot be read either
    table = (
        "<h2>On-demand</h2><table><tr><th>GPU</th><th>Price</th></tr>"
        "<tr><td>NVIDIA H100 SXM</td><td>$3.99</td></tr></table>"
    )
    with pytest.raises(ParseError, match="names no GPU count"):
        lambda_pricing.parse("pricing.html", table.encode())


def test_table_with_no_readable_price_is_a_parse_error():
    page = PAGE.read_text()
    start, end = page.index('id="tabpanel-1"'), page.index('id="tabpanel-2"')
    broken = page[:start] + re.sub(r"\$\d+\.\d+", "TBD", page[start:end]) + page[end:]
    with pytest.raises(ParseError, match="no price could be read in 3 rows"):
        lambda_pricing.parse("pricing.html", broken.encode())


def test_empty_table_shell_is_a_parse_error():
    html = (
        "<html><body><h2>Instances pricing</h2><table><thead><tr><th></th>"
        "<th>VRAM/GPU</th><th>PRICE/GPU/HR*</th></tr></thead><tbody></tbody></table></body></html>"
    )
    with pytest.raises(ParseError, match="has no data rows"):
        lambda_pricing.parse("pricing.html", html.encode())


def test_table_rendered_twice_is_read_once():
    page = PAGE.read_text()
    start = page.index('<div class="table-wrapper">')
    end = page.index("</div>", page.index("</table>", start)) + len("</div>")
    doubled = page[:end] + page[start:end] + page[end:]
    records = lambda_pricing.parse("pricing.html", doubled.encode())
    assert len(records) == 21 and records.notes["repeated_rows"] == 5


def test_count_from_a_heading_when_there_is_no_tab():
    rows = "<tr><td>NVIDIA H100 SXM</td><td>80 GB</td><td>$3.99</td></tr>"
    table = (
        f"<table><tr><th>GPU</th><th>VRAM / GPU</th><th>Price / GPU / hr</th></tr>{rows}</table>"
    )
    with_heading = lambda_pricing.parse("pricing.html", f"<h3>8x NVIDIA GPUs</h3>{table}".encode())
    assert with_heading[0]["gpu_count"] == 8
    _, offers, quarantine = _normalised(f"<h3>On-demand</h3>{table}")
    assert offers.height == 0 and quarantine["reason"].to_list() == ["bad_gpu_count"]


def test_spec_declares_the_source():
    spec = lambda_pricing.SPEC
    assert isinstance(spec, SourceSpec) and spec.id == "lambda_pricing" == lambda_pricing.SOURCE_ID
    assert (spec.kind, spec.providers) == ("gpu_offers", ("lambda",))
    assert spec.defaults == {"enabled": True, "base_url": "https://lambda.ai/pricing"}
    assert (spec.terms.verdict, spec.terms.checked) == ("unknown", "2026-12-01")


def test_variants_of_the_2026_markup():
    """Tab panels that are plain divs named by the buttons' aria-controls; a badge in the name;
    a cluster table with no heading of its own: its cluster sizes make it reserved."""
    head = "<tr><th></th><th>VRAM/GPU</th><th>PRICE/GPU/HR*</th></tr>"
    page = (
        '<h2>Instances pricing</h2><div><button aria-controls="p8">8x</button>'
        '<button aria-controls="p1">1x GPU</button></div>'
        f'<div id="p8"><table>{head}<tr><th>NVIDIA H100 SXM <span>New</span></th><td>80 GB</td>'
        "<td>$2.99</td></tr></table></div>"
        f'<div id="p1" hidden><table>{head}<tr><th>NVIDIA H100 SXM</th><td>80 GB</td><td>$3.29</td></tr>'
        "</table></div>"
        "<p>Clusters for 2 weeks - 1 year</p><table><tr><th>Plan</th><th>GPUs</th><th>PRICE/GPU/HR*</th></tr>"
        "<tr><th>NVIDIA H100 SXM</th><td>16-512</td><td>$2.69</td></tr></table>"
    )
    _, offers, quarantine = _normalised(page)
    assert quarantine.height == 0
    assert _rows(
        offers, "pricing", "gpu_count", "instance_type", "price_basis", "price_usd_per_gpu_hour"
    ) == [
        ("on_demand", 1, "1x GPU NVIDIA H100 SXM", "per_gpu", 3.29),
        ("on_demand", 8, "8x NVIDIA H100 SXM", "per_gpu", 2.99),
        ("reserved", 16, "NVIDIA H100 SXM (16-512 GPUs)", "cluster_per_gpu", 2.69),
    ]
    assert _one(offers, pricing="reserved")["reserved_term"] == "2 weeks - 1 year"


def test_reserved_rate_without_a_unit_is_quarantined_not_divided():
    page = PAGE.read_text().replace(
        "<th>GPUs</th><th>PRICE/GPU/HR*</th>", "<th>GPUs</th><th>PRICE</th>"
    )
    _, offers, quarantine = _normalised(page)
    assert quarantine.select("gpu_name_raw", "reason").rows() == [
        ("NVIDIA B200 SXM6", "bad_price_basis"),
        ("NVIDIA H100 SXM", "bad_price_basis"),
        ("NVIDIA H100 SXM", "bad_price_basis"),
    ]
    assert set(offers["pricing"]) == {"on_demand"} and offers.height == 18


def test_cluster_table_laid_out_by_cluster_size():
    on_demand = (
        "<h2>Instances pricing</h2><table><tr><th></th><th>VRAM/GPU</th><th>PRICE/GPU/HR*</th></tr>"
        "<tr><th>8x NVIDIA B200 SXM6</th><td>180 GB</td><td>$4.99</td></tr></table>"
    )
    clusters = (
        "<h2>1-Click Clusters</h2><p>Reserve for 2 weeks – 1 year.</p>"
        "<table><caption>PRICE/GPU/HR</caption><tr><th></th><th>16 GPUs</th><th>64 GPUs</th>"
        "<th>256+ GPUs</th></tr><tr><th>NVIDIA B200 SXM6</th><td>$4.49</td><td>$4.29</td>"
        "<td>Contact sales</td></tr></table>"
    )
    records, offers, quarantine = _normalised(on_demand + clusters)
    assert quarantine.height == 0
    assert _rows(
        offers, "pricing", "gpu_count", "instance_type", "price_basis", "price_usd_per_gpu_hour"
    ) == [
        ("on_demand", 8, "8x NVIDIA B200 SXM6", "per_gpu", 4.99),
        ("reserved", 16, "NVIDIA B200 SXM6 (16 GPUs)", "cluster_per_gpu", 4.49),
        ("reserved", 64, "NVIDIA B200 SXM6 (64 GPUs)", "cluster_per_gpu", 4.29),
    ]
    assert set(offers.filter(pl.col("pricing") == "reserved")["reserved_term"]) == {
        "2 weeks – 1 year"
    }
    assert records.notes["not_priced"] == ["reserved NVIDIA B200 SXM6 (256+ GPUs): Contact sales"]


def test_several_price_columns():
    # the per-GPU column of a per-GPU + per-instance pair is read; an ambiguous cluster table is
    # skipped without losing the on-demand table; an ambiguous on-demand table is an error
    on_demand = (
        "<h2>Instances pricing</h2><table><tr><th></th><th>PRICE/GPU/HR</th><th>PRICE/HR</th></tr>"
        "<tr><th>8x NVIDIA H100 SXM</th><td>$2.99</td><td>$23.92</td></tr></table>"
    )
    clusters = (
        "<h2>1-Click Clusters</h2><table><tr><th></th><th>GPUs</th><th>Price</th><th>Total price</th></tr>"
        "<tr><th>NVIDIA H100 SXM</th><td>16</td><td>$2.69</td><td>$43.04</td></tr></table>"
    )
    _, offers, _ = _normalised(on_demand + clusters)
    assert _rows(offers, "pricing", "gpu_count", "price_usd_per_gpu_hour") == [
        ("on_demand", 8, 2.99)
    ]
    ambiguous = on_demand.replace("PRICE/GPU/HR", "PRICE (US)").replace("PRICE/HR", "PRICE (EU)")
    with pytest.raises(ParseError, match="several price columns"):
        lambda_pricing.parse("pricing.html", ambiguous.encode())
