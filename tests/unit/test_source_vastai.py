"""Vast.ai source: parser and fetch.

The payload used here, tests/fixtures/vastai/bundles_handwritten.json, is HAND-WRITTEN, not
a real capture: no real Vast response body was available. It follows the response shape
public clients read from /api/v0/bundles/ (see tests/fixtures/vastai/README.md); its prices
are invented, so the assertions check the parser's arithmetic and rules, not market facts."""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import polars as pl
import pytest
import requests
from polars.testing import assert_frame_equal

from pipelines.lib.http import PoliteClient
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import vastai
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

DAY = dt.date(2026, 5, 24)
FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "vastai" / "bundles_handwritten.json"


@pytest.fixture(scope="module")
def parsed():
    records = vastai.parse("bundles.json", FIXTURE.read_bytes())
    offers, quarantine = normalise_offers(records, source="vastai", day=DAY)
    return records, offers, quarantine


def _offer(offers: pl.DataFrame, offer_id: int, pricing: str = "on_demand") -> dict:
    rows = offers.filter(
        pl.col("instance_type").str.contains(f"offer {offer_id},", literal=True)
        & (pl.col("pricing") == pricing)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_every_offer_is_a_record_and_nothing_is_dropped(parsed):
    records, offers, quarantine = parsed
    # 8 offers -> 8 on-demand records + 6 spot records (min_bid > 0)
    assert len(records) == 14
    assert (records["pricing"] == "spot").sum() == 6
    assert offers.height + quarantine.height == 14
    assert offers.height == 11
    assert set(offers["n_offers"]) == {1}
    assert set(offers["provider"]) == {"vastai"} and set(offers["provider_tier"]) == {"marketplace"}
    assert set(offers["price_basis"]) == {"per_instance"}


def test_multi_gpu_bundle_price_is_divided_by_num_gpus(parsed):
    _, offers, _ = parsed
    h100 = _offer(offers, 13374002)
    assert (h100["gpu_model"], h100["gpu_count"], h100["price_original"]) == (
        "H100-SXM-80GB",
        8,
        16.0833,
    )
    assert h100["price_usd_per_gpu_hour"] == pytest.approx(16.0833 / 8, abs=1e-6)
    assert h100["available_gpus"] == 8 and h100["stock_status"] == "available"
    assert h100["region"] == "Texas, US"
    spot = _offer(offers, 13374002, "spot")
    assert (spot["price_original"], spot["price_usd_per_gpu_hour"]) == (10.4, 1.3)
    a100 = _offer(offers, 13374003)
    assert (a100["gpu_model"], a100["price_usd_per_gpu_hour"]) == ("A100-SXM-80GB", 1.12085)
    assert _offer(offers, 13374003, "spot")["price_usd_per_gpu_hour"] == 0.6


def test_single_gpu_offers_and_memory_variants(parsed):
    _, offers, _ = parsed
    rtx = _offer(offers, 13374001)
    assert (rtx["gpu_model"], rtx["price_usd_per_gpu_hour"], rtx["region"]) == (
        "RTX4090-24GB",
        0.3139,
        "Sweden, SE",
    )
    assert _offer(offers, 13374001, "spot")["price_usd_per_gpu_hour"] == 0.18
    # gpu_ram 40960 MiB tells the 40 GB A100 from the 80 GB one
    assert _offer(offers, 13374004)["gpu_model"] == "A100-PCIE-40GB"
    nvl = _offer(offers, 13374005)
    assert (nvl["gpu_model"], nvl["price_usd_per_gpu_hour"]) == ("H100-NVL-94GB", 2.0139)
    # min_bid null -> no interruptible offer
    assert (
        offers.filter(pl.col("instance_type").str.contains("offer 13374005,", literal=True)).height
        == 1
    )


def test_rented_offer_has_no_available_gpus(parsed):
    _, offers, _ = parsed
    busy = _offer(offers, 13374008)
    assert (busy["gpu_count"], busy["available_gpus"], busy["stock_status"]) == (
        4,
        0,
        "unavailable",
    )
    assert busy["price_usd_per_gpu_hour"] == pytest.approx(1.4556 / 4, abs=1e-6)


def test_unknown_gpu_and_zero_price_are_quarantined(parsed):
    _, _, quarantine = parsed
    reasons = sorted(zip(quarantine["gpu_name_raw"], quarantine["reason"]))
    assert reasons == [
        ("RTX 3090", "non_positive_price"),
        ("Titan Xp", "unknown_gpu"),
        ("Titan Xp", "unknown_gpu"),
    ]


def test_wrong_shapes_are_parse_errors():
    with pytest.raises(ParseError, match="not JSON"):
        vastai.parse("bundles.json", b"<!DOCTYPE html><html><body>Cloudflare</body></html>")
    with pytest.raises(ParseError, match="no 'offers'.*invalid api key"):
        vastai.parse(
            "bundles.json", b'{"success": false, "error": "auth_error", "msg": "invalid api key"}'
        )
    with pytest.raises(ParseError, match="not a list"):
        vastai.parse("bundles.json", b'{"offers": "none"}')
    with pytest.raises(ParseError, match="offer 0 lacks"):
        vastai.parse("bundles.json", b'{"offers": [{"id": 1, "dph_total": 0.3}]}')
    # an empty search result is understood (ingest flags the empty payload itself)
    assert vastai.parse("bundles.json", b'{"offers": []}').height == 0


def test_records_come_out_as_columns_in_offer_order():
    records = vastai.parse("bundles.json", FIXTURE.read_bytes())
    assert isinstance(records, pl.DataFrame)
    first = (
        records.head(3)
        .select("instance_type", "pricing", "price", "gpu_memory_gb", "region")
        .rows()
    )
    assert first == [
        ("1x RTX 4090 (offer 13374001, machine 21001)", "on_demand", 0.3139, 24.0, "Sweden, SE"),
        ("1x RTX 4090 (offer 13374001, machine 21001)", "spot", 0.18, 24.0, "Sweden, SE"),
        (
            "8x H100 SXM (offer 13374002, machine 21002)",
            "on_demand",
            16.0833,
            79.6,
            "Texas, US",
        ),  # 81559 MiB
    ]


def test_text_and_missing_fields_are_kept_for_quarantine_not_dropped():
    # hand-written: prices sent as text, one unreadable, one offer without geolocation/flags
    payload = json.dumps(
        {
            "offers": [
                {
                    "id": 1,
                    "machine_id": 9,
                    "gpu_name": "RTX 4090",
                    "num_gpus": 2,
                    "gpu_ram": 24564,
                    "dph_total": "0.80",
                    "min_bid": 0.5,
                    "geolocation": "Texas, US",
                    "rentable": True,
                    "rented": False,
                },
                {
                    "id": 2,
                    "machine_id": 9,
                    "gpu_name": "RTX 4090",
                    "num_gpus": 1,
                    "gpu_ram": 24564,
                    "dph_total": "call us",
                    "min_bid": None,
                },
                {
                    "id": 3,
                    "machine_id": 9,
                    "gpu_name": "RTX 4090",
                    "num_gpus": "1",
                    "gpu_ram": None,
                    "dph_total": 0.41,
                    "rented": True,
                },
            ]
        }
    ).encode()
    records = vastai.parse("bundles.json", payload)
    assert records.height == 4  # 3 on-demand + 1 spot
    offers, quarantine = normalise_offers(records, source="vastai", day=DAY)
    assert offers.height + quarantine.height == 4
    assert sorted(offers["price_usd_per_gpu_hour"].to_list()) == [0.25, 0.4, 0.41]
    assert quarantine.select("reason", "detail").rows() == [("missing_price", "price 'call us'")]
    third = offers.filter(pl.col("instance_type").str.contains("offer 3,", literal=True)).row(
        0, named=True
    )
    assert (
        third["gpu_count"],
        third["available_gpus"],
        third["stock_status"],
        third["region"],
    ) == (1, 0, "unavailable", None)


# --- fetch against a local server -------------------------------------------------------


class _Server:
    def __init__(self, status: int, payload: bytes):
        seen = self.requests = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                seen.append({"path": self.path, "body": body, "headers": dict(self.headers)})
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/api/v0/bundles/"
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


def test_fetch_posts_the_search_body(monkeypatch):
    monkeypatch.delenv("VAST_API_KEY", raising=False)
    with _Server(200, FIXTURE.read_bytes()) as srv:
        out = vastai.fetch(_client(), {"base_url": srv.url, "max_offers": 5000}, DAY)
    assert len(out) == 1 and isinstance(out[0], Payload)
    assert (out[0].name, out[0].status, out[0].url) == ("bundles.json", 200, srv.url)
    assert out[0].content == FIXTURE.read_bytes()
    req = srv.requests[0]
    assert req["path"] == "/api/v0/bundles/"
    assert json.loads(req["body"]) == {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "type": "on-demand",
        "order": [["dph_total", "asc"]],
        "limit": 5000,
    }
    assert "Authorization" not in req["headers"]


def test_fetch_warns_when_the_limit_is_hit(monkeypatch, caplog):
    monkeypatch.setenv("VAST_API_KEY", "vk_test")
    with caplog.at_level(logging.WARNING), _Server(200, FIXTURE.read_bytes()) as srv:
        out = vastai.fetch(_client(), {"base_url": srv.url, "max_offers": 8}, DAY)
    assert json.loads(srv.requests[0]["body"])["limit"] == 8
    assert srv.requests[0]["headers"]["Authorization"] == "Bearer vk_test"
    assert isinstance(out[0], Payload)
    assert "search limit" in caplog.text


def test_fetch_failure_is_reported_not_raised():
    with _Server(403, b'{"error": "forbidden"}') as srv:
        out = vastai.fetch(_client(), {"base_url": srv.url}, DAY)
    assert len(out) == 1 and isinstance(out[0], FetchFailure)
    assert out[0].name == "bundles.json" and "HTTP 403" in out[0].error
    assert json.loads(srv.requests[0]["body"])["limit"] == vastai.DEFAULT_MAX_OFFERS


# --- the columnar parser against the per-offer loop it replaced ---------------------------


def _reference_records(content: bytes) -> list[dict]:
    """The per-offer loop ``vastai.parse`` was before it returned columns."""

    def num(value):
        if value is None or isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None

    records = []
    for offer in json.loads(content)["offers"]:
        num_gpus = offer.get("num_gpus")
        gpu_ram = num(offer.get("gpu_ram"))
        available = bool(offer.get("rentable", True)) and not offer.get("rented", False)
        gpu_name = str(offer.get("gpu_name") or "")
        base = {
            "provider": "vastai",
            "segment": "marketplace",
            "upstream_source": None,
            "gpu_name": gpu_name,
            "gpu_hint": "",
            "gpu_memory_gb": round(gpu_ram / 1024, 1) if gpu_ram else None,
            "gpu_count": num_gpus,
            "instance_type": f"{num_gpus}x {gpu_name} (offer {offer.get('id')}, machine {offer.get('machine_id')})",
            "region": str(offer.get("geolocation") or "") or None,
            "price_basis": "per_instance",
            "currency": "USD",
            "n_offers": 1,
            "stock_status": "available" if available else "unavailable",
            "available_gpus": (num_gpus if available else 0),
        }
        dph = offer.get("dph_total")
        records.append(
            {**base, "pricing": "on_demand", "price": num(dph) if num(dph) is not None else dph}
        )
        bid = num(offer.get("min_bid"))
        if bid is not None and bid > 0:
            records.append({**base, "pricing": "spot", "price": bid})
    return records


def _random_payload(n: int, seed: int, text: bool = False) -> bytes:
    import random

    rng = random.Random(seed)
    names = [
        "RTX 4090",
        "RTX 3090",
        "A100 SXM4",
        "A100 PCIE",
        "H100 SXM",
        "H100 NVL",
        "L40S",
        "Titan Xp",
        "",
    ]
    rams = [24564, 24576, 81920, 40960, 95830, 46068, 12288, 0, None, 24832]
    offers = []
    for i in range(n):
        g = rng.choice([1, 1, 2, 4, 8, 0])
        offers.append(
            {
                "id": 1000 + i,
                "machine_id": rng.randrange(50),
                "gpu_name": rng.choice(names),
                "num_gpus": g,
                "gpu_ram": rng.choice(rams),
                "dph_total": rng.choice(
                    [
                        round(rng.uniform(0.05, 40), 4),
                        0,
                        -1.0,
                        None,
                        99999.0,
                        round(rng.uniform(0.1, 5), 7),
                    ]
                ),
                "min_bid": rng.choice([0, None, round(rng.uniform(0.01, 20), 4)]),
                "geolocation": rng.choice(["Texas, US", "", None, "Quebec, CA"]),
                "rentable": rng.choice([True, False]),
                "rented": rng.choice([True, False]),
            }
        )
        if text and rng.random() < 0.3:  # a payload where some fields arrive as text
            offers[-1]["dph_total"] = rng.choice(
                [str(offers[-1]["dph_total"]), "call us", " 1.25 ", ""]
            )
            offers[-1]["num_gpus"] = str(g)
    return json.dumps({"offers": offers}).encode()


@pytest.mark.parametrize(
    "content",
    [
        FIXTURE.read_bytes(),
        _random_payload(3000, 1),
        _random_payload(3000, 2),
        _random_payload(3000, 3, text=True),
    ],
    ids=["fixture", "random-1", "random-2", "random-text"],
)
def test_columnar_parse_normalises_exactly_like_the_per_offer_loop(content):
    got_offers, got_quarantine = normalise_offers(
        vastai.parse("bundles.json", content), source="vastai", day=DAY
    )
    exp_offers, exp_quarantine = normalise_offers(
        _reference_records(content), source="vastai", day=DAY
    )
    assert got_offers.height > 0 and exp_quarantine.height > 0
    assert_frame_equal(got_offers, exp_offers, check_exact=True)
    # the quarantined record's JSON lists the keys each form carries; everything else is equal,
    # except that in a payload with text GPU counts the column is text, so a detail quotes it
    # ("gpu_count '0'" where the loop said "gpu_count 0")
    unquote = pl.col("detail").str.replace_all("'0'", "0", literal=True)
    assert_frame_equal(
        got_quarantine.drop("record").with_columns(unquote),
        exp_quarantine.drop("record").with_columns(unquote),
        check_exact=True,
    )
