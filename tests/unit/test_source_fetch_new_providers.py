"""fetch() of vultr, lium, voltage_park, scaleway, ovhcloud and ecb_fx against a local server
on 127.0.0.1: URLs come from the config section, payloads get their archive names, what is
served parses, paging and keys behave, and an HTTP error is one FetchFailure (the other
payloads still come back)."""

from __future__ import annotations

import datetime as dt
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources import ecb_fx, lium, ovhcloud, scaleway, voltage_park, vultr
from pipelines.lib.sources.base import FetchFailure, Payload

FIXTURES = Path(__file__).parents[1] / "fixtures"
DAY = dt.date(2026, 12, 1)


@pytest.fixture
def server():
    """A 127.0.0.1 server answering GET <path> from ``routes`` {path without query: (status,
    body, headers)}; 404 otherwise. Yields (base url, routes, seen [(path, headers)])."""
    routes: dict[str, tuple[int, bytes, dict[str, str]]] = {}
    seen: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append((self.path, dict(self.headers)))
            status, body, headers = routes.get(
                self.path, routes.get(self.path.split("?")[0], (404, b"no", {}))
            )
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", routes, seen
    finally:
        httpd.shutdown()
        httpd.server_close()


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


def _ok(path: Path) -> tuple[int, bytes, dict[str, str]]:
    return 200, path.read_bytes(), {}


def test_vultr_fetches_both_lists_and_one_failure_leaves_the_other(server, shared_data):
    base, routes, _ = server
    folder = shared_data / "provider_payloads" / "vultr"
    routes["/v2/plans"] = _ok(folder / "gpuhunt_test_vm_instances.json")
    routes["/v2/plans-metal"] = (503, b"down", {})
    cfg = {
        "base_url": f"{base}/v2/plans?type=all&per_page=500",
        "metal_url": f"{base}/v2/plans-metal?per_page=500",
    }
    out = vultr.fetch(_client(), cfg, DAY)
    assert [type(p) for p in out] == [Payload, FetchFailure]
    assert (
        out[0].name == "plans.json" and out[1].name == "plans_metal.json" and "503" in out[1].error
    )
    assert len(vultr.parse(out[0].name, out[0].content)) == 3


def test_lium_public_feed_and_keyed_executors(server, monkeypatch):
    base, routes, seen = server
    routes["/api/public/v1/nodes"] = _ok(FIXTURES / "lium" / "nodes.json")
    routes["/api/executors"] = _ok(FIXTURES / "lium" / "executors.json")
    monkeypatch.delenv("LIUM_API_KEY", raising=False)
    (feed,) = lium.fetch(_client(), {"base_url": f"{base}/api/public/v1/nodes"}, DAY)
    assert feed.name == "nodes.json" and len(lium.parse(feed.name, feed.content)) == 6
    assert "X-API-KEY" not in {k.upper(): v for k, v in seen[-1][1].items()}
    monkeypatch.setenv("LIUM_API_KEY", "sk-test-key")
    (ex,) = lium.fetch(_client(), {"base_url": f"{base}/api/executors"}, DAY)
    assert ex.name == "executors.json" and len(lium.parse(ex.name, ex.content)) == 2
    assert {k.upper(): v for k, v in seen[-1][1].items()}["X-API-KEY"] == "sk-test-key"


def test_voltage_park_and_its_http_error(server):
    base, routes, _ = server
    routes["/api/v1/bare-metal/locations"] = _ok(
        FIXTURES / "voltage_park" / "bare_metal_locations.json"
    )
    (p,) = voltage_park.fetch(_client(), {"base_url": f"{base}/api/v1/bare-metal/locations"}, DAY)
    assert p.name == "bare_metal_locations.json" and len(voltage_park.parse(p.name, p.content)) == 5
    (failed,) = voltage_park.fetch(_client(), {"base_url": f"{base}/elsewhere"}, DAY)
    assert isinstance(failed, FetchFailure) and "404" in failed.error


def test_scaleway_pages_by_total_count_and_a_failing_zone(server, monkeypatch):
    base, routes, seen = server
    monkeypatch.delenv("SCW_SECRET_KEY", raising=False)
    body = (FIXTURES / "scaleway" / "fr-par-2_servers.json").read_bytes()
    routes["/zones/fr-par-2/products/servers?per_page=100&page=1"] = (
        200,
        body,
        {"X-Total-Count": "150"},
    )
    routes["/zones/fr-par-2/products/servers?per_page=100&page=2"] = (
        200,
        b'{"servers": {}}',
        {"X-Total-Count": "150"},
    )
    routes["/zones/nl-ams-1/products/servers"] = (500, b"oops", {})
    out = scaleway.fetch(
        _client(), {"base_url": f"{base}/zones", "zones": ["fr-par-2", "nl-ams-1"]}, DAY
    )
    assert [(type(p).__name__, p.name) for p in out] == [
        ("Payload", "fr-par-2_servers.json"),
        ("Payload", "fr-par-2_servers_p2.json"),
        ("FetchFailure", "nl-ams-1_servers.json"),
    ]
    assert {r["region"] for r in scaleway.parse(out[0].name, out[0].content)} == {"fr-par-2"}
    # more types than max_pages can hold: the cut is a FetchFailure, not a silent truncation
    cut = scaleway.fetch(
        _client(), {"base_url": f"{base}/zones", "zones": ["fr-par-2"], "max_pages": 1}, DAY
    )
    assert [type(p) for p in cut] == [Payload, FetchFailure] and "max_pages" in cut[1].error
    assert len(seen) == 4


def test_ovhcloud_names_the_payload_by_subsidiary(server):
    base, routes, _ = server
    routes["/v1/order/catalog/public/cloud"] = _ok(FIXTURES / "ovhcloud" / "catalog_FR.json")
    (p,) = ovhcloud.fetch(
        _client(), {"base_url": f"{base}/v1/order/catalog/public/cloud?ovhSubsidiary=FR"}, DAY
    )
    assert p.name == "catalog_FR.json" and len(ovhcloud.parse(p.name, p.content)) == 5


def test_ecb_fx_fetch_and_failure(server):
    base, routes, _ = server
    routes["/stats/eurofxref/eurofxref-daily.xml"] = _ok(
        FIXTURES / "ecb_fx" / "eurofxref-daily.xml"
    )
    (p,) = ecb_fx.fetch(_client(), {"base_url": f"{base}/stats/eurofxref/eurofxref-daily.xml"}, DAY)
    assert p.name == "eurofxref-daily.xml"
    assert ecb_fx.parse(p.name, p.content)[ecb_fx.TABLE].height == 5
    (failed,) = ecb_fx.fetch(_client(), {"base_url": f"{base}/missing.xml"}, DAY)
    assert isinstance(failed, FetchFailure)
