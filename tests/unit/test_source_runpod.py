"""RunPod source: parser on the real recorded capture (read in place from ../shared/data),
GraphQL answers written inline in the API's shape, and ``fetch`` against a local HTTP server.

The capture is gpuport/collectors @ 0cb9709 : fixtures/runpod_sample.json, fetched from
api.runpod.io/graphql on 2025-11-14 (see shared/data/provider_payloads/README.md)."""

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
from pipelines.lib.sources import runpod
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

DAY = dt.date(2025, 11, 14)
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
CAPTURE = "provider_payloads/runpod/gpuport_runpod_sample_2025-11-14_0cb9709.json"


@pytest.fixture(scope="module")
def capture() -> tuple[list[dict], pl.DataFrame, pl.DataFrame]:
    path = SHARED_DATA / CAPTURE
    if not path.is_file():
        pytest.fail(
            f"real RunPod capture not found at {path}: the tests read it in place from "
            "../shared/data beside the repository checkout (CI provides it)"
        )
    records = runpod.parse(path.name, path.read_bytes())
    offers, quarantine = normalise_offers(records, source="runpod", day=DAY)
    return records, offers, quarantine


def _one(offers: pl.DataFrame, gpu_model: str, region: str, pricing: str = "on_demand") -> dict:
    rows = offers.filter(
        (pl.col("gpu_model") == gpu_model)
        & (pl.col("region") == region)
        & (pl.col("pricing") == pricing)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- the real capture -------------------------------------------------------------------


def test_capture_every_row_becomes_an_offer(capture):
    records, offers, quarantine = capture
    # 79 GPU/datacenter rows -> 79 on-demand offers + 44 spot offers (44 rows have a bid price)
    assert len(records) == 123
    assert quarantine.height == 0, quarantine  # every GPU maps, every price is sane
    assert offers.height == 123
    assert offers.filter(pl.col("pricing") == "on_demand").height == 79
    assert offers.filter(pl.col("pricing") == "spot").height == 44
    assert offers["region"].n_unique() == 28
    assert offers["instance_type"].n_unique() == 25
    assert set(offers["provider"]) == {"runpod"}
    assert set(offers["price_basis"]) == {"per_gpu"}
    assert set(offers["gpu_count"]) == {1}


def test_capture_gpu_names_all_map_to_canonical_ids(capture):
    _, offers, quarantine = capture
    assert quarantine.filter(pl.col("reason") == "unknown_gpu").height == 0
    assert set(offers["gpu_model"]) == {
        "A100-PCIE-80GB",
        "A100-SXM-80GB",
        "A40-48GB",
        "B200-180GB",
        "H100-NVL-94GB",
        "H100-PCIE-80GB",
        "H100-SXM-80GB",
        "H200-NVL-141GB",
        "H200-SXM-141GB",
        "L4-24GB",
        "L40-48GB",
        "L40S-48GB",
        "MI300X-192GB",
        "RTX2000ADA-16GB",
        "RTX3090-24GB",
        "RTX4000ADA-20GB",
        "RTX4090-24GB",
        "RTX5090-32GB",
        "RTX6000ADA-48GB",
        "RTXA4000-16GB",
        "RTXA4500-20GB",
        "RTXA5000-24GB",
        "RTXA6000-48GB",
        "RTXPRO6000-96GB",
    }
    # displayName "A100 SXM" + memoryInGb 80 is the 80 GB part, not the 40 GB default
    assert not offers.filter(pl.col("gpu_model") == "A100-SXM-80GB")["gpu_variant_assumed"].any()
    # "NVIDIA H200 NVL" with memoryInGb 143 snaps to the 141 GB NVL part
    assert _one(offers, "H200-NVL-141GB", "US-MD-1")["price_usd_per_gpu_hour"] == 0.5


def test_capture_h100_sxm_price_and_stock(capture):
    _, offers, _ = capture
    fr = _one(offers, "H100-SXM-80GB", "EU-FR-1")
    assert (fr["price_usd_per_gpu_hour"], fr["stock_status"], fr["available_gpus"]) == (
        2.69,
        "Low",
        7,
    )
    assert fr["gpu_name_raw"] == "H100 SXM"
    assert fr["instance_type"] == "NVIDIA H100 80GB HBM3"
    assert _one(offers, "H100-SXM-80GB", "EU-FR-1", "spot")["price_usd_per_gpu_hour"] == 1.5
    assert _one(offers, "H100-SXM-80GB", "EUR-IS-3")["stock_status"] == "Medium"
    assert sorted(
        offers.filter(
            (pl.col("gpu_model") == "H100-SXM-80GB") & (pl.col("pricing") == "on_demand")
        )["region"]
    ) == ["AP-JP-1", "CA-MTL-1", "EU-FR-1", "EU-NL-1", "EUR-IS-3"]


def test_capture_mi300x_in_eu_ro_1(capture):
    _, offers, _ = capture
    mi = _one(offers, "MI300X-192GB", "EU-RO-1")
    assert (mi["price_usd_per_gpu_hour"], mi["stock_status"]) == (0.5, "Low")
    # availableGpuCounts [1..8] -> 8 GPUs; the collector's own `quantity` (36 = 1+2+...+8) is not used
    assert mi["available_gpus"] == 8
    # minimumBidPrice null -> no spot offer (the collector's spot_price 0.0 is not a price)
    assert (
        offers.filter(
            (pl.col("gpu_model") == "MI300X-192GB") & (pl.col("pricing") == "spot")
        ).height
        == 0
    )


def test_capture_other_values(capture):
    _, offers, _ = capture
    assert _one(offers, "A100-SXM-80GB", "US-CA-2", "spot")["price_usd_per_gpu_hour"] == 0.79
    assert _one(offers, "RTX4090-24GB", "EU-RO-1")["stock_status"] == "High"
    assert _one(offers, "A40-48GB", "CA-MTL-1")["available_gpus"] == 10
    # Server and Workstation RTX PRO 6000 are one chip, priced 1.70 and 1.69 in EUR-IS-1
    pro = offers.filter(
        (pl.col("gpu_model") == "RTXPRO6000-96GB") & (pl.col("region") == "EUR-IS-1")
    )
    assert sorted(pro["price_usd_per_gpu_hour"]) == [1.69, 1.7]
    assert (
        offers.filter(pl.col("stock_status") == "High").height == 5 + 4
    )  # 5 rows, 4 of them with a bid


def test_capture_segment_is_community_marketplace(capture):
    records, offers, _ = capture
    assert {r["segment"] for r in records} == {runpod.CAPTURE_SEGMENT} == {"community"}
    assert set(offers["provider_tier"]) == {"marketplace"}
    assert offers["upstream_source"][0].startswith("gpuport/collectors capture")


# --- GraphQL answers --------------------------------------------------------------------


def _gpu(id_, name, mem, pricing, secure=True, community=True):
    return {
        "id": id_,
        "displayName": name,
        "memoryInGb": mem,
        "secureCloud": secure,
        "communityCloud": community,
        "lowestPrice": pricing,
    }


GRAPHQL = {
    "data": {
        "gpuTypes": [
            _gpu(
                "NVIDIA H100 80GB HBM3",
                "H100 SXM",
                80,
                {
                    "uninterruptablePrice": 2.99,
                    "minimumBidPrice": 1.75,
                    "stockStatus": "High",
                    "availableGpuCounts": [1, 2, 4, 8],
                },
            ),
            # out of stock but still priced: kept, marked out_of_stock
            _gpu(
                "NVIDIA H200",
                "H200 SXM",
                141,
                {
                    "uninterruptablePrice": 3.99,
                    "minimumBidPrice": None,
                    "stockStatus": None,
                    "availableGpuCounts": [],
                },
            ),
            # out of stock, no price: nothing offered
            _gpu(
                "NVIDIA A40",
                "A40",
                48,
                {
                    "uninterruptablePrice": None,
                    "minimumBidPrice": None,
                    "stockStatus": None,
                    "availableGpuCounts": None,
                },
            ),
            _gpu("NVIDIA B200", "B200", 180, None),
            # in stock with a null price: kept -> quarantined missing_price
            _gpu(
                "NVIDIA L40S",
                "L40S",
                48,
                {
                    "uninterruptablePrice": None,
                    "minimumBidPrice": 0.5,
                    "stockStatus": "Low",
                    "availableGpuCounts": [1],
                },
            ),
            # not sold in secure cloud: not an offer
            _gpu(
                "NVIDIA GeForce RTX 4090",
                "RTX 4090",
                24,
                {
                    "uninterruptablePrice": 0.34,
                    "minimumBidPrice": 0.2,
                    "stockStatus": "High",
                    "availableGpuCounts": [1],
                },
                secure=False,
            ),
            _gpu(
                "unknown",
                "Mystery 9000",
                0,
                {
                    "uninterruptablePrice": 1.0,
                    "minimumBidPrice": 0,
                    "stockStatus": "Low",
                    "availableGpuCounts": [1],
                },
            ),
        ]
    }
}


def test_graphql_secure_answer():
    records = runpod.parse("gpu_types_secure.json", json.dumps(GRAPHQL).encode())
    offers, quarantine = normalise_offers(records, source="runpod", day=DAY)
    assert len(records) == offers.height + quarantine.height == 6
    h100 = offers.filter(pl.col("gpu_model") == "H100-SXM-80GB").sort("pricing")
    assert h100.select(
        "pricing", "price_usd_per_gpu_hour", "stock_status", "available_gpus"
    ).rows() == [("on_demand", 2.99, "High", 8), ("spot", 1.75, "High", 8)]
    assert set(offers["provider_tier"]) == {"neocloud"}  # secure cloud
    assert set(offers["region"]) == {"global"}
    h200 = offers.filter(pl.col("gpu_model") == "H200-SXM-141GB").row(0, named=True)
    assert (
        h200["pricing"],
        h200["price_usd_per_gpu_hour"],
        h200["stock_status"],
        h200["available_gpus"],
    ) == ("on_demand", 3.99, "out_of_stock", 0)
    assert "A40-48GB" not in set(offers["gpu_model"]) and "B200-180GB" not in set(
        offers["gpu_model"]
    )
    assert "RTX4090-24GB" not in set(offers["gpu_model"])
    assert offers.filter(pl.col("gpu_model") == "L40S-48GB")["pricing"].to_list() == ["spot"]
    assert sorted(quarantine["reason"]) == ["missing_price", "unknown_gpu"]


def test_graphql_community_answer_is_marketplace():
    records = runpod.parse("gpu_types_community.json", json.dumps(GRAPHQL).encode())
    offers, _ = normalise_offers(records, source="runpod", day=DAY)
    assert set(offers["provider_tier"]) == {"marketplace"}
    assert offers.filter(pl.col("gpu_model") == "RTX4090-24GB").height == 2  # communityCloud true


def test_graphql_pod_size_from_payload_name():
    records = runpod.parse("gpu_types_secure_8gpu.json", json.dumps(GRAPHQL).encode())
    assert {r["gpu_count"] for r in records} == {8}
    assert {r["price_basis"] for r in records} == {"per_gpu"}


def test_wrong_shapes_are_parse_errors():
    with pytest.raises(ParseError, match="GraphQL errors and no data"):
        runpod.parse(
            "gpu_types_secure.json",
            json.dumps(
                {
                    "errors": [
                        {
                            "message": "Something went wrong",
                            "extensions": {"code": "INTERNAL_SERVER_ERROR"},
                        }
                    ]
                }
            ).encode(),
        )
    with pytest.raises(ParseError, match="GraphQL errors and no data"):
        runpod.parse("gpu_types_secure.json", b'{"errors": [{"message": "x"}], "data": null}')
    with pytest.raises(ParseError, match="not JSON"):
        runpod.parse("gpu_types_secure.json", b"<html><body>502 Bad Gateway</body></html>")
    with pytest.raises(ParseError, match="not a list"):
        runpod.parse("gpu_types_secure.json", b'{"data": {"gpuTypes": {"id": "x"}}}')
    with pytest.raises(ParseError, match="secure/community"):
        runpod.parse("prices.json", json.dumps(GRAPHQL).encode())
    with pytest.raises(ParseError, match="raw_data"):
        runpod.parse("capture.json", b'[{"raw_data": {"gpu_type": {}}}]')
    with pytest.raises(ParseError):
        runpod.parse("capture.json", b"[1, 2]")


def test_errors_beside_data_still_parse():
    doc = {
        **GRAPHQL,
        "errors": [{"message": "partial failure", "path": ["gpuTypes", 3, "lowestPrice"]}],
    }
    assert len(runpod.parse("gpu_types_secure.json", json.dumps(doc).encode())) == 6


# --- fetch against a local server -------------------------------------------------------


class _Server:
    """A local HTTP server on 127.0.0.1 that records requests and answers from ``route``."""

    def __init__(self, route):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                status, payload = route(self.path, body)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/graphql"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


def _client() -> PoliteClient:
    session = requests.Session()
    session.trust_env = False  # no proxy from the environment for 127.0.0.1
    return PoliteClient(
        user_agent="test",
        session=session,
        max_retries=0,
        min_interval_seconds=0,
        sleep=lambda s: None,
    )


def test_fetch_posts_secure_and_community_queries(monkeypatch):
    monkeypatch.delenv("RUNPOD_API_KEY", raising=False)

    def route(path, body):
        query = json.loads(body)["query"]
        secure = "secureCloud: true" in query
        return 200, json.dumps(
            {"data": {"gpuTypes": [], "_cloud": "secure" if secure else "community"}}
        ).encode()

    with _Server(route) as srv:
        out = runpod.fetch(_client(), {"base_url": srv.url, "gpu_counts": [1]}, DAY)
    assert [p.name for p in out] == ["gpu_types_secure.json", "gpu_types_community.json"]
    assert all(isinstance(p, Payload) and p.status == 200 for p in out)
    assert [json.loads(p.content)["data"]["_cloud"] for p in out] == ["secure", "community"]
    queries = [json.loads(r["body"])["query"] for r in srv.requests]
    assert "lowestPrice(input: {gpuCount: 1, secureCloud: true})" in queries[0]
    assert "lowestPrice(input: {gpuCount: 1, secureCloud: false})" in queries[1]
    for field in (
        "uninterruptablePrice",
        "minimumBidPrice",
        "stockStatus",
        "availableGpuCounts",
        "memoryInGb",
        "displayName",
        "secureCloud",
        "communityCloud",
    ):
        assert field in queries[0]
    assert all("Authorization" not in r["headers"] for r in srv.requests)
    assert srv.requests[0]["headers"]["User-Agent"] == "test"


def test_fetch_failure_of_one_cloud_keeps_the_other(monkeypatch):
    monkeypatch.setenv("RUNPOD_API_KEY", "rk_test")

    def route(path, body):
        if "secureCloud: false" in json.loads(body)["query"]:
            return 400, b'{"errors": [{"message": "bad request"}]}'
        return 200, json.dumps(GRAPHQL).encode()

    with _Server(route) as srv:
        out = runpod.fetch(_client(), {"base_url": srv.url, "gpu_counts": [1, 2]}, DAY)
    assert [p.name for p in out] == [
        "gpu_types_secure.json",
        "gpu_types_community.json",
        "gpu_types_secure_2gpu.json",
        "gpu_types_community_2gpu.json",
    ]
    assert [type(p) for p in out] == [Payload, FetchFailure, Payload, FetchFailure]
    assert "HTTP 400" in out[1].error
    assert "gpuCount: 2" in json.loads(srv.requests[2]["body"])["query"]
    assert srv.requests[0]["headers"]["Authorization"] == "Bearer rk_test"
    # the fetched bytes parse like any other payload
    assert len(runpod.parse(out[0].name, out[0].content)) == 6
