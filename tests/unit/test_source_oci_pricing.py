"""OCI price-list source: the parser on both real captures (read in place from
../shared/data/pricing_pages/oci), hand-written edge cases inline, and ``fetch`` against a
local HTTP server.

Captures (see that folder's README): ``undated_ewyluda_1e77fb7_oracle.json`` (26 GPU-related
items, ``lastUpdated`` 2026-10-01, trimmed by its repository to GPU items, distractors kept)
and ``2026-10-07_ewyluda_338a61b_oci_products.json`` (9 items, one of them not a GPU part)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
import requests

from pipelines.lib.http import PoliteClient
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import oci_pricing
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "pricing_pages" / "oci"
FULL = "undated_ewyluda_1e77fb7_oracle.json"
SMALL = "2026-10-07_ewyluda_338a61b_oci_products.json"
DAY = dt.date(2026, 10, 7)


def _load(name: str) -> tuple[list[dict], pl.DataFrame, pl.DataFrame]:
    path = SHARED / name
    if not path.is_file():
        pytest.skip(f"real OCI capture not found at {path} (../shared/data beside the checkout)")
    records = oci_pricing.parse(name, path.read_bytes())
    offers, quarantine = normalise_offers(records, source="oci_pricing", day=DAY)
    return records, offers, quarantine


def _by_part(offers: pl.DataFrame) -> dict[str, dict]:
    return {row["instance_type"]: row for row in offers.iter_rows(named=True)}


def test_full_capture_per_gpu_hour_parts():
    records, offers, quarantine = _load(FULL)
    assert len(records) == 26  # every item of this capture is GPU-related
    assert offers.height + quarantine.height == 26
    parts = _by_part(offers)
    expected = {
        "B98415": ("H100-SXM-80GB", 10.0),
        "B110519": ("H200-SXM-141GB", 10.0),
        "B110978": ("B200-180GB", 14.0),
        "B110979": ("GB200-186GB", 16.0),
        "B112140": ("GB300-288GB", 18.0),
        "B112237": ("B300-288GB", 15.0),
        "B95907": ("A100-SXM-80GB", 4.0),
        "B109485": ("MI300X-192GB", 6.0),
        "B111758": ("MI355X-288GB", 8.6),
        "B109479": ("L40S-48GB", 3.5),
        "B95909": ("A10-24GB", 2.0),
        "B112613": ("RTXPRO6000-96GB", 4.5),
    }
    assert {p: (r["gpu_model"], r["price_usd_per_gpu_hour"]) for p, r in parts.items()} == expected
    for row in parts.values():
        assert (row["provider"], row["provider_tier"], row["pricing"]) == (
            "oci",
            "hyperscaler",
            "on_demand",
        )
        assert (row["price_basis"], row["gpu_count"], row["currency"]) == ("per_gpu", 1, "USD")
    # the v2 A100 part is the 80 GB SXM one, not the bare-A100 default (40 GB)
    assert parts["B95907"]["gpu_variant_assumed"] is False
    assert parts["B98415"]["gpu_variant_assumed"] is True  # bare "H100": SXM by default


def test_full_capture_distractors_are_quarantined_with_reasons():
    _, offers, quarantine = _load(FULL)
    reasons = {
        json.loads(r["record"])["instance_type"]: r["reason"]
        for r in quarantine.iter_rows(named=True)
    }
    assert reasons["B109480"] == "unknown_gpu"  # "H100T", never guessed to be an H100
    assert reasons["B108806"] == "unknown_gpu_count"  # VMware BM.GPU.A10.64, Node Per Hour 16
    assert reasons["B109493"] == "unknown_gpu"  # Roving Edge RED.2, per day 100
    for part in ("B110965", "B111454", "B111455"):  # Cloud@Customer L40S 3.5 / 0.6 / 2.9
        assert reasons[part] == "not_public_cloud"
    for part in ("B88517", "B88518", "B89734", "B92740", "B93544"):  # X7, V2, E3, E4
        assert reasons[part] == "unknown_gpu"
    assert len(reasons) == 14
    # none of them reaches the offers, whatever its price
    assert not set(reasons) & set(offers["instance_type"].to_list())
    node = next(
        json.loads(r["record"])
        for r in quarantine.iter_rows(named=True)
        if json.loads(r["record"])["instance_type"] == "B108806"
    )
    assert (node["price"], node["price_basis"], node["pricing"], node["reserved_term"]) == (
        16.0,
        "per_instance",
        "reserved",
        "1 month",
    )
    per_day = next(
        json.loads(r["record"])
        for r in quarantine.iter_rows(named=True)
        if json.loads(r["record"])["instance_type"] == "B109493"
    )
    assert per_day["price_basis"] == "metric:Resource Possession Per Day"


def test_small_capture_skips_the_non_gpu_item():
    records, offers, quarantine = _load(SMALL)
    assert (
        len(records) == 8
    )  # 9 items; B107951 Exadata storage (0.0999 per GB-month) is not a GPU part
    assert "B107951" not in {r["instance_type"] for r in records}
    parts = _by_part(offers)
    assert parts["B98415"]["price_usd_per_gpu_hour"] == 10.0
    assert parts["B110978"]["price_usd_per_gpu_hour"] == 14.0
    assert offers.height == 7
    assert quarantine["reason"].to_list() == ["unknown_gpu"]  # H100T


def _item(part="B1", name="OCI - Compute - GPU - H200", metric="GPU Per Hour", locs=None) -> dict:
    return {
        "partNumber": part,
        "displayName": name,
        "metricName": metric,
        "serviceCategory": "Compute - GPU",
        "currencyCodeLocalizations": locs
        if locs is not None
        else [{"currencyCode": "USD", "prices": [{"model": "PAY_AS_YOU_GO", "value": 10}]}],
    }


def test_hand_written_edge_cases_are_quarantined_not_guessed():
    items = [
        _item(
            "E1", locs=[{"currencyCode": "EUR", "prices": [{"model": "PAY_AS_YOU_GO", "value": 9}]}]
        ),
        _item(
            "E2",
            locs=[
                {
                    "currencyCode": "USD",
                    "prices": [
                        {"model": "PAY_AS_YOU_GO", "value": 10},
                        {"model": "PAY_AS_YOU_GO", "value": 11},
                    ],
                }
            ],
        ),
        _item(
            "E3",
            locs=[{"currencyCode": "USD", "prices": [{"model": "MONTHLY_COMMIT", "value": 7}]}],
        ),
        _item("E4", name="Compute - GPU - B200 - 3 Year Commit"),
        {
            "partNumber": "S1",
            "displayName": "Object Storage",
            "metricName": "GB Per Month",
            "serviceCategory": "Storage",
            "currencyCodeLocalizations": [],
        },
    ]
    records = oci_pricing.parse("p.json", json.dumps({"items": items}).encode())
    assert [r["instance_type"] for r in records] == ["E1", "E2", "E3", "E4"]
    offers, quarantine = normalise_offers(records, source="oci_pricing", day=DAY)
    reasons = dict(
        zip(
            [json.loads(r)["instance_type"] for r in quarantine["record"]],
            quarantine["reason"],
            strict=True,
        )
    )
    assert reasons == {"E1": "non_usd_currency", "E2": "ambiguous_price", "E3": "missing_price"}
    reserved = offers.row(0, named=True)
    assert (reserved["pricing"], reserved["reserved_term"], reserved["price_usd_per_gpu_hour"]) == (
        "reserved",
        "3 year",
        10.0,
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (b"<html>maintenance</html>", "not JSON"),
        (b'{"products": []}', "no 'items' list"),
        (b'{"items": []}', "no product items"),
        (b'{"items": [{"sku": "x", "price": 1}]}', "no item has the keys"),
        (
            json.dumps(
                {
                    "items": [
                        {
                            "partNumber": "B1",
                            "displayName": "GPU - H100",
                            "metricName": "GPU Per Hour",
                        }
                    ]
                }
            ).encode(),
            "no item has the keys",
        ),
        (
            json.dumps(
                {
                    "items": [
                        _item(name="Block Volume", metric="GB Per Month")
                        | {"serviceCategory": "Storage"}
                    ]
                }
            ).encode(),
            "none of 1",
        ),
    ],
)
def test_unrecognised_answers_fail_loudly(content, message):
    with pytest.raises(ParseError, match=message):
        oci_pricing.parse("products.json", content)


def test_spec_declares_the_source():
    spec = oci_pricing.SPEC
    assert isinstance(spec, SourceSpec)
    assert (spec.id, spec.kind, spec.providers) == ("oci_pricing", "gpu_offers", ("oci",))
    assert spec.defaults["base_url"].startswith(
        "https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/"
    )
    assert spec.terms.checked == "2026-12-01"


# --- fetch against a local server -------------------------------------------------------------


class _Server:
    """127.0.0.1 HTTP server answering GETs from ``route(path) -> (status, bytes)``."""

    def __init__(self, route):
        seen = self.paths = []

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                seen.append(self.path)
                status, body = route(self.path)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
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


def test_fetch_one_answer_then_parse():
    body = json.dumps({"items": [_item()]}).encode()
    with _Server(lambda path: (200, body)) as srv:
        out = oci_pricing.fetch(
            _client(), {"base_url": srv.url + "/products/?currencyCode=USD"}, DAY
        )
    assert [type(p) for p in out] == [Payload]
    assert out[0].name == "products.json" and srv.paths == ["/products/?currencyCode=USD"]
    assert oci_pricing.parse(out[0].name, out[0].content)[0]["price"] == 10.0


def test_fetch_follows_ords_paging_and_stops_off_host():
    def route(path):
        if path.startswith("/p3"):
            return 200, json.dumps(
                {
                    "items": [_item("B3")],
                    "hasMore": True,
                    "links": [{"rel": "next", "href": "http://example.com/p4"}],
                }
            ).encode()
        if path.startswith("/p2"):  # a relative next link, as APEX may give
            return 200, json.dumps(
                {"items": [_item("B2")], "links": [{"rel": "next", "href": "/p3"}]}
            ).encode()
        return 200, json.dumps(
            {
                "items": [_item("B1")],
                "hasMore": True,
                "links": [
                    {"rel": "self", "href": f"{srv.url}/x"},
                    {"rel": "next", "href": f"{srv.url}/p2"},
                ],
            }
        ).encode()

    with _Server(route) as srv:
        out = oci_pricing.fetch(_client(), {"base_url": srv.url + "/products/"}, DAY)
    assert [p.name for p in out] == [
        "products.json",
        "products_page002.json",
        "products_page003.json",
        "products_page004.json",
    ]
    assert [type(p) for p in out] == [Payload, Payload, Payload, FetchFailure]
    assert srv.paths == ["/products/", "/p2", "/p3"]
    assert "leaves 127.0.0.1" in out[3].error
    with _Server(route) as srv:
        capped = oci_pricing.fetch(
            _client(), {"base_url": srv.url + "/products/", "max_pages": 1}, DAY
        )
    assert [type(p) for p in capped] == [Payload, FetchFailure] and "max_pages=1" in capped[1].error


def test_fetch_stops_when_has_more_is_false():
    body = json.dumps(
        {"items": [_item()], "hasMore": False, "links": [{"rel": "next", "href": "/p2"}]}
    ).encode()
    with _Server(lambda path: (200, body)) as srv:
        out = oci_pricing.fetch(_client(), {"base_url": srv.url + "/products/"}, DAY)
    assert [p.name for p in out] == ["products.json"]


def test_price_blocks_under_prices_are_read_too():
    item = {
        "partNumber": "P1",
        "displayName": "OCI - Compute - GPU - B200",
        "metricName": "GPU Per Hour",
        "serviceCategory": "Compute - GPU",
        "prices": [{"currencyCode": "USD", "prices": [{"model": "PAY_AS_YOU_GO", "value": 14}]}],
    }
    records = oci_pricing.parse("products.json", json.dumps({"items": [item]}).encode())
    assert (records[0]["price"], records[0]["currency"]) == (14.0, "USD")


def test_fetch_http_error_is_a_fetch_failure():
    with _Server(lambda path: (500, b"oops")) as srv:
        out = oci_pricing.fetch(_client(), {"base_url": srv.url + "/products/"}, DAY)
    assert [type(p) for p in out] == [FetchFailure]
    assert "500" in out[0].error
