"""HTML pricing-page sources: ``lambda_pricing`` and ``coreweave_pricing``.

The pages used here, tests/fixtures/{lambda_pricing,coreweave_pricing}/pricing_handwritten.html,
are HAND-WRITTEN, not real captures: no stored copy of either pricing page was available
(shared/data/provider_payloads/README.md). They mimic the table structure the parsers
assume (see each fixture's README.md); their prices come from recorded data in
shared/data (the SkyPilot Lambda catalog, CoreWeave rows of the cherielilili log), so the
assertions check the parsers' structure handling and arithmetic, not today's market."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import polars as pl
import pytest

from pipelines.lib.config import load_config
from pipelines.lib.http import FetchedPayload, FetchError
from pipelines.lib.ingest import SourceFailed, ingest
from pipelines.lib.offers import RAW_OFFER_KEYS, normalise_offers
from pipelines.lib.sources import coreweave_pricing, lambda_pricing
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

DAY = dt.date(2026, 5, 24)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
LAMBDA_PAGE = FIXTURES / "lambda_pricing" / "pricing_handwritten.html"
COREWEAVE_PAGE = FIXTURES / "coreweave_pricing" / "pricing_handwritten.html"
MODULES = {"lambda_pricing": (lambda_pricing, LAMBDA_PAGE), "coreweave_pricing": (coreweave_pricing, COREWEAVE_PAGE)}
MOVED_PAGE = b"<html><body><p>We moved our pricing!</p></body></html>"


def _normalised(module, html: bytes | str) -> tuple[list[dict], pl.DataFrame, pl.DataFrame]:
    content = html.encode() if isinstance(html, str) else html
    records = module.parse("pricing.html", content)
    offers, quarantine = normalise_offers(records, source=module.SOURCE_ID, day=DAY)
    assert offers.height + quarantine.height == len(records)
    return records, offers, quarantine


def _one(offers: pl.DataFrame, **where) -> dict:
    rows = offers.filter(pl.all_horizontal(*[pl.col(k) == v for k, v in where.items()]))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def _without_tables(html: str) -> str:
    return re.sub(r"<table.*?</table>", "", html, flags=re.DOTALL)


# --- Lambda -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def lambda_parsed():
    return _normalised(lambda_pricing, LAMBDA_PAGE.read_bytes())


def test_lambda_every_row_is_a_record_with_the_offer_keys(lambda_parsed):
    records, offers, quarantine = lambda_parsed
    # 5 (8x) + 3 (4x) + 4 (2x) + 8 (1x) instance rows; group labels and the cluster table are not offers
    assert len(records) == 20
    assert all(set(r) == set(RAW_OFFER_KEYS) for r in records)
    assert quarantine.height == 0, quarantine  # every GPU name resolves, every price is read
    assert offers.height == 20
    assert set(offers["provider"]) == {"lambda"} and set(offers["provider_tier"]) == {"neocloud"}
    assert set(offers["pricing"]) == {"on_demand"}
    assert set(offers["price_basis"]) == {"per_gpu"} and set(offers["currency"]) == {"USD"}
    assert set(offers["payload_name"]) == {"pricing.html"}
    assert not any(offers["gpu_variant_assumed"])
    assert offers.group_by("gpu_count").len().sort("gpu_count").rows() == [(1, 8), (2, 4), (4, 3), (8, 5)]
    assert all(r["region"] is None and r["stock_status"] is None for r in records)


def test_lambda_h100_sxm_per_gpu_prices_by_instance_size(lambda_parsed):
    _, offers, _ = lambda_parsed
    h100_8x = _one(offers, gpu_model="H100-SXM-80GB", gpu_count=8)
    assert h100_8x["price_original"] == 3.99 and h100_8x["price_usd_per_gpu_hour"] == 3.99
    assert (h100_8x["gpu_name_raw"], h100_8x["instance_type"]) == ("NVIDIA H100 SXM", "8x NVIDIA H100 SXM")
    # the per-GPU price falls with the instance size (DOMAIN.md): 1x 4.29 ... 8x 3.99
    sizes = offers.filter(pl.col("gpu_model") == "H100-SXM-80GB").sort("gpu_count")
    assert sizes.select("gpu_count", "price_usd_per_gpu_hour").rows() == [(1, 4.29), (2, 4.19), (4, 4.09), (8, 3.99)]
    # "4x ... $4.09 / GPU / hr" (unit words in the cell) reads the same as "$4.09"
    assert _one(offers, gpu_model="H100-SXM-80GB", gpu_count=4)["price_original"] == 4.09


def test_lambda_variants_are_told_apart(lambda_parsed):
    _, offers, _ = lambda_parsed
    assert _one(offers, gpu_model="H100-PCIE-80GB")["price_usd_per_gpu_hour"] == 3.29
    # the VRAM / GPU column tells the 80 GB A100 from the 40 GB one
    assert _one(offers, gpu_model="A100-SXM-80GB", gpu_count=8)["price_usd_per_gpu_hour"] == 2.79
    assert _one(offers, gpu_model="A100-SXM-40GB", gpu_count=8)["price_usd_per_gpu_hour"] == 1.99
    assert set(offers["gpu_model"]) == {
        "B200-180GB", "H100-SXM-80GB", "H100-PCIE-80GB", "A100-SXM-80GB", "A100-SXM-40GB", "V100-16GB",
        "RTXA6000-48GB", "GH200-96GB", "A10-24GB", "QRTX6000-24GB",
    }


def test_lambda_cluster_table_and_headline_cards_are_not_offers(lambda_parsed):
    records, _, _ = lambda_parsed
    assert not any(r["price"] == "Contact sales" for r in records)  # 1-Click Clusters table skipped
    assert all(r["gpu_count"] is not None for r in records)  # cluster rows carry no "Nx"
    assert not any("Blackwell" in r["gpu_name"] for r in records)  # group label rows


def test_lambda_unreadable_price_is_quarantined_not_dropped():
    html = LAMBDA_PAGE.read_text().replace("<td>$1.29</td>", "<td>Contact sales</td>")
    records, offers, quarantine = _normalised(lambda_pricing, html)
    assert len(records) == 20 and offers.height == 19
    row = quarantine.row(0, named=True)
    assert (row["gpu_name_raw"], row["reason"]) == ("NVIDIA A10", "missing_price")
    assert "Contact sales" in row["detail"]


def test_lambda_price_in_another_currency_is_quarantined():
    html = LAMBDA_PAGE.read_text().replace("<td>$0.69</td>", "<td>€0.69</td>")
    _, _, quarantine = _normalised(lambda_pricing, html)
    assert quarantine.select("gpu_name_raw", "reason").rows() == [("NVIDIA Quadro RTX 6000", "non_usd_currency")]


def test_lambda_page_without_tables_is_a_parse_error():
    html = _without_tables(LAMBDA_PAGE.read_text())
    assert "$3.99" in html  # the headline cards are still there: they are not a price table
    with pytest.raises(ParseError, match=r"no Lambda on-demand pricing table found: expected .*GPUs.*Price / GPU / hr"):
        lambda_pricing.parse("pricing.html", html.encode())
    with pytest.raises(ParseError, match="found 0 table"):
        lambda_pricing.parse("pricing.html", MOVED_PAGE)


def test_lambda_changed_headers_are_parse_errors():
    page = LAMBDA_PAGE.read_text()
    renamed_price = re.sub(r"Price / GPU / hr", "Rate", page)
    with pytest.raises(ParseError, match=r"expected .*found \d table\(s\) with headers .*'Rate'"):
        lambda_pricing.parse("pricing.html", renamed_price.encode())
    renamed_gpu = page.replace("<th>GPUs</th>", "<th>Hardware</th>")
    with pytest.raises(ParseError, match="no Lambda on-demand pricing table found"):
        lambda_pricing.parse("pricing.html", renamed_gpu.encode())
    # a price column that no longer says per GPU (or per instance) must not be guessed
    no_basis = page.replace("Price / GPU / hr", "Price")
    with pytest.raises(ParseError, match="per GPU or per instance"):
        lambda_pricing.parse("pricing.html", no_basis.encode())


def test_lambda_table_with_no_readable_price_is_a_parse_error():
    page = LAMBDA_PAGE.read_text()
    start, end = page.index('data-w-tab="4x"'), page.index('data-w-tab="2x"')
    broken = page[:start] + re.sub(r"\$\d+\.\d+[^<]*", "TBD", page[start:end]) + page[end:]
    with pytest.raises(ParseError, match="no price could be read in 3 rows"):
        lambda_pricing.parse("pricing.html", broken.encode())


def test_lambda_empty_table_shell_is_a_parse_error():
    html = ("<html><body><h2>On-demand cloud pricing</h2><table><thead><tr><th>GPUs</th>"
            "<th>VRAM / GPU</th><th>Price / GPU / hr</th></tr></thead><tbody></tbody></table></body></html>")
    with pytest.raises(ParseError, match="has no data rows"):
        lambda_pricing.parse("pricing.html", html.encode())


def test_lambda_table_rendered_twice_is_read_once():
    page = LAMBDA_PAGE.read_text()
    start = page.index('<table class="pricing_table-x8')
    end = page.index("</table>", start) + len("</table>")
    doubled = page[:end] + page[start:end] + page[end:]
    assert len(lambda_pricing.parse("pricing.html", doubled.encode())) == 20


def test_lambda_without_count_prefix_takes_the_heading_count_or_quarantines():
    rows = "<tr><td>NVIDIA H100 SXM</td><td>80 GB</td><td>$3.99</td></tr>"
    table = f"<table><tr><th>GPU</th><th>VRAM / GPU</th><th>Price / GPU / hr</th></tr>{rows}</table>"
    with_heading = lambda_pricing.parse("pricing.html", f"<h3>8x NVIDIA GPUs</h3>{table}".encode())
    assert with_heading[0]["gpu_count"] == 8
    _, offers, quarantine = _normalised(lambda_pricing, f"<h3>On-demand</h3>{table}")
    assert offers.height == 0 and quarantine["reason"].to_list() == ["bad_gpu_count"]


# --- CoreWeave ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def coreweave_parsed():
    return _normalised(coreweave_pricing, COREWEAVE_PAGE.read_bytes())


def test_coreweave_instance_prices_become_per_gpu_prices(coreweave_parsed):
    records, offers, quarantine = coreweave_parsed
    assert len(records) == 5 and all(set(r) == set(RAW_OFFER_KEYS) for r in records)
    assert quarantine.height == 0, quarantine  # every GPU name resolves
    assert set(offers["provider"]) == {"coreweave"} and set(offers["provider_tier"]) == {"neocloud"}
    assert set(offers["price_basis"]) == {"per_instance"} and set(offers["gpu_count"]) == {8}
    assert set(offers["pricing"]) == {"on_demand"} and set(offers["currency"]) == {"USD"}
    h100 = _one(offers, gpu_model="H100-SXM-80GB")
    assert (h100["gpu_name_raw"], h100["price_original"]) == ("NVIDIA HGX H100", 49.24)
    assert h100["price_usd_per_gpu_hour"] == pytest.approx(49.24 / 8)
    assert h100["gpu_variant_assumed"] is False  # HGX -> SXM, not the family default
    assert offers.sort("gpu_model").select("gpu_model", "price_usd_per_gpu_hour").rows() == [
        ("A100-SXM-80GB", 2.7), ("B200-180GB", 8.6), ("H100-SXM-80GB", 6.155),
        ("H200-SXM-141GB", 6.305), ("L40S-48GB", 2.25),
    ]
    assert all(r["instance_type"] is None for r in records)  # the page names no instance ids


def test_coreweave_unreadable_price_and_count_are_quarantined_not_dropped():
    page = COREWEAVE_PAGE.read_text()
    html = page.replace("$49.24", "Contact us").replace(
        "<td>NVIDIA L40S</td>\n            <td>8</td>", "<td>NVIDIA L40S</td>\n            <td>8 or 16</td>")
    records, offers, quarantine = _normalised(coreweave_pricing, html)
    assert len(records) == 5 and offers.height == 3
    assert sorted(quarantine.select("gpu_name_raw", "reason").rows()) == [
        ("NVIDIA HGX H100", "missing_price"), ("NVIDIA L40S", "unknown_gpu_count")]


def test_coreweave_page_without_tables_or_with_changed_headers_is_a_parse_error():
    page = COREWEAVE_PAGE.read_text()
    with pytest.raises(ParseError, match=r"no CoreWeave GPU instance pricing table found: expected .*GPU Model"):
        coreweave_pricing.parse("pricing.html", _without_tables(page).encode())
    renamed = page.replace("GPU Model", "Platform")
    with pytest.raises(ParseError, match=r"found 2 table\(s\) with headers .*'Platform'"):
        coreweave_pricing.parse("pricing.html", renamed.encode())
    no_basis = page.replace('Instance Price<span class="unit"> (per hour)</span>', "Price")
    with pytest.raises(ParseError, match="per instance or per GPU"):
        coreweave_pricing.parse("pricing.html", no_basis.encode())


def test_coreweave_cpu_and_reserved_tables_are_not_on_demand_gpu_offers():
    cpu = ("<h2>CPU Instance Pricing</h2><table><tr><th>CPU Model</th><th>vCPUs</th>"
           "<th>Instance Price</th></tr><tr><td>AMD EPYC Genoa</td><td>192</td><td>$7.00</td></tr></table>")
    reserved = ("<h2>Reserved capacity</h2><table><tr><th>GPU Model</th><th>GPU Count</th>"
                "<th>Instance Price</th></tr><tr><td>NVIDIA HGX H100</td><td>8</td><td>$30.00</td></tr></table>")
    with pytest.raises(ParseError, match="skipped as reserved/spot"):
        coreweave_pricing.parse("pricing.html", f"<html><body>{cpu}{reserved}</body></html>".encode())
    page = COREWEAVE_PAGE.read_text().replace("</main>", cpu + reserved + "</main>")
    assert len(coreweave_pricing.parse("pricing.html", page.encode())) == 5


def test_coreweave_aria_grid_and_per_gpu_wording():
    grid = (
        '<h2>GPU pricing</h2><div role="table">'
        '<div role="row"><span role="columnheader">GPU</span><span role="columnheader">GPUs</span>'
        '<span role="columnheader">VRAM (GB)</span><span role="columnheader">Price per GPU/hr</span></div>'
        '<div role="row"><span role="cell">NVIDIA HGX H100</span><span role="cell">8</span>'
        '<span role="cell">80</span><span role="cell">$6.16</span></div></div>'
    )
    _, offers, quarantine = _normalised(coreweave_pricing, grid)
    assert quarantine.height == 0
    row = offers.row(0, named=True)
    assert (row["gpu_model"], row["gpu_count"], row["price_basis"], row["price_usd_per_gpu_hour"]) == (
        "H100-SXM-80GB", 8, "per_gpu", 6.16)


# --- shared cell helpers --------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("$3.99", (3.99, "USD")),
    ("  $ 3.99 / GPU / hr ", (3.99, "USD")),
    ("$49.24/hr", (49.24, "USD")),
    ("$3.99 per GPU-hour*", (3.99, "USD")),
    ("US$1,234.50", (1234.5, "USD")),
    ("2.99 USD", (2.99, "USD")),
    ("€2.10", (2.1, "EUR")),
    ("Contact sales", (None, "USD")),
    ("from $2.99", (None, "USD")),
    ("$2.99 – $3.49", (None, "USD")),
    ("$3.29 $2.99", (None, "USD")),
    ("", (None, "USD")),
    ("__import__('os').system('x')", (None, "USD")),
])
def test_parse_price(text, expected):
    assert lambda_pricing.parse_price(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("Price / GPU / hr*", "per_gpu"), ("$3.99 per GPU", "per_gpu"), ("GPU-hour", "per_gpu"),
    ("Instance Price (per hour)", "per_instance"), ("Price per node / hr", "per_instance"),
    ("Price", None), ("$/hr", None),
])
def test_price_basis(text, expected):
    assert lambda_pricing.price_basis(text) == expected


# --- fetch (fake client, no network) -------------------------------------------------------

class _FakeClient:
    def __init__(self, content: bytes = b"", error: FetchError | None = None):
        self.content, self.error, self.calls = content, error, []

    def get(self, url, **kwargs):
        self.calls.append((url, kwargs))
        if self.error is not None:
            raise self.error
        return FetchedPayload(url=url, status=200, content=self.content,
                              content_type="text/html; charset=utf-8", fetched_at=1779600000.0)


@pytest.mark.parametrize("source", sorted(MODULES))
def test_fetch_gets_the_page_once(source):
    module, page = MODULES[source]
    url = f"https://pricing.example.test/{source}"
    client = _FakeClient(page.read_bytes())
    out = module.fetch(client, {"base_url": url, "enabled": True}, DAY)
    assert len(client.calls) == 1 and client.calls[0][0] == url
    assert "text/html" in client.calls[0][1]["headers"]["Accept"]
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert (out[0].name, out[0].url, out[0].status) == ("pricing.html", url, 200)
    assert out[0].content == page.read_bytes() and out[0].content_type.startswith("text/html")
    assert out[0].fetched_at == 1779600000.0


@pytest.mark.parametrize("source", sorted(MODULES))
def test_fetch_failure_is_reported_not_raised(source):
    module, _ = MODULES[source]
    url = f"https://pricing.example.test/{source}"
    client = _FakeClient(error=FetchError(url, "HTTP 403", 403))
    out = module.fetch(client, {"base_url": url}, DAY)
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert (out[0].name, out[0].url) == ("pricing.html", url) and "HTTP 403" in out[0].error


# --- through ingest (replay from an archive folder) ----------------------------------------

@pytest.mark.parametrize(("source", "n_offers", "provider"), [
    ("lambda_pricing", 20, "lambda"), ("coreweave_pricing", 5, "coreweave")])
def test_ingest_replays_the_archived_page(tracker_env, tmp_path, source, n_offers, provider):
    _, page = MODULES[source]
    folder = tmp_path / "archive" / source / DAY.isoformat()
    folder.mkdir(parents=True)
    shutil.copy(page, folder / "pricing.html")
    result = ingest(source, DAY, load_config(), from_archive=tmp_path / "archive")
    assert (result.mode, result.status, result.payloads, result.errors) == ("archive", "ok", ["pricing.html"], [])
    assert result.offers.height == n_offers and result.quarantine.height == 0
    assert set(result.offers["source"]) == {source} and set(result.offers["provider"]) == {provider}
    assert set(result.offers["date"]) == {DAY}


def test_ingest_quarantines_a_moved_page_as_unparseable(tracker_env, tmp_path):
    folder = tmp_path / "archive" / "lambda_pricing" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "pricing.html").write_bytes(MOVED_PAGE)
    with pytest.raises(SourceFailed, match="no Lambda on-demand pricing table found") as exc:
        ingest("lambda_pricing", DAY, load_config(), from_archive=tmp_path / "archive")
    quarantine = exc.value.result.quarantine
    assert quarantine.select("payload_name", "reason").rows() == [("pricing.html", "unparseable_payload")]
