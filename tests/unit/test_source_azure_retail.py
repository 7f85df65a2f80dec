"""Azure Retail Prices source: SKU table, parser and paginated fetch.

The pages used here (tests/fixtures/azure_retail/eastus_page00{1,2}.json) are HAND-WRITTEN,
not a real capture: they follow the documented page shape, with plausible but invented
prices (see tests/fixtures/azure_retail/README.md). Assertions check the SKU table, the
skip rules and the per-GPU arithmetic."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import polars as pl
import pytest
import requests

from pipelines.lib.gpus import resolve_gpu
from pipelines.lib.http import PoliteClient
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import azure_retail as az
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

DAY = dt.date(2026, 5, 24)
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "azure_retail"
AZURE_HOST = "https://prices.azure.com:443"


def _parse(name: str):
    records = az.parse(name, (FIXTURES / name).read_bytes())
    offers, quarantine = normalise_offers(records, source="azure_retail", day=DAY)
    return records, offers, quarantine


def _price(offers: pl.DataFrame, sku: str, pricing: str = "on_demand") -> dict:
    rows = offers.filter((pl.col("instance_type") == sku) & (pl.col("pricing") == pricing))
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- the SKU table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "sku, gpu, count, model",
    [
        ("Standard_ND96isr_H100_v5", "H100 SXM 80GB", 8, "H100-SXM-80GB"),
        ("Standard_ND96isr_H200_v5", "H200 SXM 141GB", 8, "H200-SXM-141GB"),
        ("Standard_NC40ads_H100_v5", "H100 NVL", 1, "H100-NVL-94GB"),
        ("Standard_NC80adis_H100_v5", "H100 NVL", 2, "H100-NVL-94GB"),
        ("Standard_NCC40ads_H100_v5", "H100 NVL", 1, "H100-NVL-94GB"),
        ("Standard_ND96asr_v4", "A100 SXM 40GB", 8, "A100-SXM-40GB"),
        ("Standard_ND96amsr_A100_v4", "A100 SXM 80GB", 8, "A100-SXM-80GB"),
        ("Standard_NC24ads_A100_v4", "A100 PCIe 80GB", 1, "A100-PCIE-80GB"),
        ("Standard_NC96ads_A100_v4", "A100 PCIe 80GB", 4, "A100-PCIE-80GB"),
        ("Standard_ND96isr_MI300X_v5", "MI300X", 8, "MI300X-192GB"),
        ("Standard_ND128isr_NDR_GB200_v6", "GB200", 4, "GB200-186GB"),
        ("Standard_NC64as_T4_v3", "T4", 4, "T4-16GB"),
        ("Standard_NC24rs_v3", "V100 16GB", 4, "V100-16GB"),
        ("Standard_ND40rs_v2", "V100 32GB", 8, "V100-32GB"),
        ("Standard_NV36ads_A10_v5", "A10", 1, "A10-24GB"),
        ("Standard_NV36adms_A10_v5", "A10", 1, "A10-24GB"),
        ("Standard_NV72ads_A10_v5", "A10", 2, "A10-24GB"),
        ("Standard_NC6s_v2", "Tesla P100", 1, "P100-16GB"),
    ],
)
def test_sku_table_whole_gpus(sku, gpu, count, model):
    assert az.gpu_for_sku(sku) == (gpu, count)
    assert resolve_gpu(gpu).gpu_model == model


@pytest.mark.parametrize(
    "sku, count",
    [
        ("Standard_NV6ads_A10_v5", 0.1667),
        ("Standard_NV12ads_A10_v5", 0.3333),
        ("Standard_NV18ads_A10_v5", 0.5),
        ("Standard_NV4as_v4", 0.125),
        ("Standard_NG8ads_V620_v1", 0.25),
    ],
)
def test_sku_table_partial_gpus_keep_their_fraction(sku, count):
    assert az.gpu_for_sku(sku)[1] == count


def test_sku_table_non_gpu_and_unlisted():
    assert az.gpu_for_sku("Standard_D4s_v3") is None
    assert az.gpu_for_sku("Standard_E96ias_v5") is None
    assert az.gpu_for_sku("Standard_NP10s") is None  # FPGA
    # an N-series SKU the table does not know surfaces with no GPU count
    assert az.gpu_for_sku("Standard_NC8ads_A10_v4") == ("Standard_NC8ads_A10_v4", None)
    # a known series at a size the table does not list: GPU known, count unknown
    assert az.gpu_for_sku("Standard_NC12ads_A100_v4") == ("A100 PCIe 80GB", None)


# --- parsing the hand-written pages -----------------------------------------------------


def test_page1_rules_and_per_gpu_prices():
    records, offers, quarantine = _parse("eastus_page001.json")
    assert quarantine.height == 0
    # 10 items: CPU VM, Low Priority, Windows and one exact duplicate are not offers
    assert len(records) == offers.height == 6
    h100 = _price(offers, "Standard_ND96isr_H100_v5")
    assert (
        h100["gpu_model"],
        h100["gpu_count"],
        h100["price_original"],
        h100["price_usd_per_gpu_hour"],
    ) == ("H100-SXM-80GB", 8, 98.32, 12.29)
    assert _price(offers, "Standard_ND96isr_H100_v5", "spot")["price_usd_per_gpu_hour"] == 4.916
    nvl = _price(offers, "Standard_NC40ads_H100_v5")
    assert (nvl["gpu_model"], nvl["price_usd_per_gpu_hour"]) == ("H100-NVL-94GB", 6.98)
    a40 = _price(offers, "Standard_ND96asr_v4")
    assert (a40["gpu_model"], a40["price_usd_per_gpu_hour"]) == (
        "A100-SXM-40GB",
        pytest.approx(27.197 / 8),
    )
    a80 = _price(offers, "Standard_ND96amsr_A100_v4")
    assert (a80["gpu_model"], a80["price_usd_per_gpu_hour"]) == (
        "A100-SXM-80GB",
        pytest.approx(32.77 / 8),
    )
    pcie = _price(offers, "Standard_NC24ads_A100_v4")
    assert (pcie["gpu_model"], pcie["price_usd_per_gpu_hour"]) == ("A100-PCIE-80GB", 3.673)
    assert set(offers["provider"]) == {"azure"} and set(offers["provider_tier"]) == {"hyperscaler"}
    assert set(offers["region"]) == {"eastus"} and set(offers["price_basis"]) == {"per_instance"}
    # Windows (102.736) and Low Priority (19.664) prices never appear
    assert not set(offers["price_original"]) & {102.736, 19.664}


def test_page2_partial_gpu_and_unknown_gpu_are_quarantined():
    records, offers, quarantine = _parse("eastus_page002.json")
    assert len(records) == 6  # NP10s (FPGA) is not an offer
    assert sorted(zip(quarantine["gpu_name_raw"], quarantine["reason"])) == [
        ("A10", "bad_gpu_count"),
        ("Tesla M60", "unknown_gpu"),
    ]
    assert (
        json.loads(quarantine.filter(pl.col("reason") == "bad_gpu_count")["record"][0])["gpu_count"]
        == 0.1667
    )
    assert _price(offers, "Standard_NV36ads_A10_v5")["gpu_model"] == "A10-24GB"
    assert _price(offers, "Standard_NC4as_T4_v3")["price_usd_per_gpu_hour"] == 0.526
    mi = _price(offers, "Standard_ND96isr_MI300X_v5")
    assert (mi["gpu_model"], mi["gpu_count"], mi["price_usd_per_gpu_hour"]) == (
        "MI300X-192GB",
        8,
        6.0,
    )
    assert _price(offers, "Standard_NC24ads_A100_v4", "spot")["price_usd_per_gpu_hour"] == 1.4692


def _page(items, next_link=None) -> bytes:
    return json.dumps(
        {
            "BillingCurrency": "USD",
            "CustomerEntityId": "Default",
            "CustomerEntityType": "Retail",
            "Items": items,
            "NextPageLink": next_link,
            "Count": len(items),
        }
    ).encode()


def test_currency_and_unit_rules():
    base = json.loads((FIXTURES / "eastus_page001.json").read_text())["Items"][1]
    eur = {**base, "currencyCode": "EUR", "retailPrice": 90.1}
    reservation = {
        **base,
        "type": "Reservation",
        "retailPrice": 500000.0,
        "reservationTerm": "1 Year",
    }
    records = az.parse("westeurope_page001.json", _page([eur, reservation]))
    assert [(r["currency"], r["price"]) for r in records] == [("EUR", 90.1)]
    _, quarantine = normalise_offers(records, source="azure_retail", day=DAY)
    assert quarantine["reason"].to_list() == ["non_usd_currency"]


def test_wrong_shapes_are_parse_errors():
    with pytest.raises(ParseError, match="no 'Items'"):
        az.parse(
            "eastus_page001.json", b'{"error": {"code": "BadRequest", "message": "Invalid filter"}}'
        )
    with pytest.raises(ParseError, match="not JSON"):
        az.parse("eastus_page001.json", b"<html><body>Service Unavailable</body></html>")
    with pytest.raises(ParseError, match="not a list"):
        az.parse("eastus_page001.json", b'{"Items": {}}')
    with pytest.raises(ParseError, match="item 0 lacks"):
        az.parse("eastus_page001.json", _page([{"skuName": "x", "retailPrice": 1.0}]))
    assert az.parse("eastus_page009.json", _page([])) == []


# --- fetch against a local server -------------------------------------------------------


class _AzureServer:
    """Serves the fixture chain for eastus (page 2 via NextPageLink, rewritten to this
    server) and an empty page for any other region; ``fail`` maps $skip values to a status."""

    def __init__(self, fail: dict[str, int] | None = None, next_host: str | None = None):
        seen = self.requests = []
        fail = fail or {}
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                query = parse_qs(urlsplit(self.path).query)
                seen.append({"path": self.path, "query": query})
                skip = query.get("$skip", ["0"])[0]
                flt = query.get("$filter", [""])[0]
                if skip in fail:
                    body, status = b'{"error": "boom"}', fail[skip]
                elif "'eastus'" in flt and skip == "0":
                    text = (FIXTURES / "eastus_page001.json").read_text()
                    body, status = text.replace(AZURE_HOST, next_host or server.base).encode(), 200
                elif "'eastus'" in flt and skip == "100":
                    body, status = (FIXTURES / "eastus_page002.json").read_bytes(), 200
                else:
                    body, status = _page([]), 200
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.url = f"{self.base}/api/retail/prices"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _client() -> PoliteClient:
    session = requests.Session()
    session.trust_env = False
    return PoliteClient(
        user_agent="test",
        session=session,
        max_retries=0,
        min_interval_seconds=0,
        sleep=lambda s: None,
    )


def test_fetch_follows_next_page_link_per_region():
    with _AzureServer() as srv:
        out = az.fetch(
            _client(),
            {"base_url": srv.url, "regions": ["eastus", "westeurope"], "max_pages": 200},
            DAY,
        )
    assert [p.name for p in out] == [
        "eastus_page001.json",
        "eastus_page002.json",
        "westeurope_page001.json",
    ]
    assert all(isinstance(p, Payload) and p.status == 200 for p in out)
    assert out[1].content == (FIXTURES / "eastus_page002.json").read_bytes()
    filters = [r["query"].get("$filter", [""])[0] for r in srv.requests]
    assert filters[0] == (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        "and armRegionName eq 'eastus'"
    )
    assert filters[2].endswith("armRegionName eq 'westeurope'")
    assert srv.requests[1]["query"]["$skip"] == ["100"]  # page 2 is the NextPageLink
    assert "%24filter=" in out[0].url  # the archived URL carries the filter
    # the archived pages parse to the same offers as the fixtures
    assert sum(len(az.parse(p.name, p.content)) for p in out) == 12


def test_fetch_stops_at_max_pages_and_says_so():
    with _AzureServer() as srv:
        out = az.fetch(_client(), {"base_url": srv.url, "regions": ["eastus"], "max_pages": 1}, DAY)
    assert [type(p) for p in out] == [Payload, FetchFailure]
    assert out[1].name == "eastus_page002.json" and "max_pages=1" in out[1].error
    assert len(srv.requests) == 1


def test_fetch_page_failure_and_foreign_next_link():
    with _AzureServer(fail={"100": 404}) as srv:
        out = az.fetch(_client(), {"base_url": srv.url, "regions": ["eastus", "westeurope"]}, DAY)
    assert [(type(p).__name__, p.name) for p in out] == [
        ("Payload", "eastus_page001.json"),
        ("FetchFailure", "eastus_page002.json"),
        ("Payload", "westeurope_page001.json"),
    ]
    assert "HTTP 404" in out[1].error
    with _AzureServer(next_host="https://evil.example.com") as srv:
        out = az.fetch(_client(), {"base_url": srv.url, "regions": ["eastus"]}, DAY)
    assert [type(p) for p in out] == [Payload, FetchFailure]
    assert "not followed" in out[1].error and len(srv.requests) == 1
    with _AzureServer() as srv:
        out = az.fetch(_client(), {"base_url": srv.url, "regions": ["east us'; drop"]}, DAY)
    assert isinstance(out[0], FetchFailure) and not srv.requests
