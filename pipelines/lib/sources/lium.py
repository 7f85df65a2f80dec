"""Lium GPU marketplace: per-GPU prices and free GPUs of every rentable node.

Live: ``GET <base_url>`` (default ``https://lium.io/api/public/v1/nodes``, Lium's public node
feed), archived as ``nodes.json``. Endpoint choice: the task named ``lium.io/api/executors``,
but that is Lium's account API -- SkyPilot's Lium helper (``sky/provision/lium``) calls
``GET /executors`` with an ``X-API-KEY`` header, and Lium's robots.txt (as quoted in a 2026
third-party source audit) has ``Allow: /api/public/`` and ``Disallow: /api/``. The public feed
is documented as "Every GPU node currently rentable on Lium, as one unauthenticated JSON
call" (docs.lium.io/developers/public-nodes-feed, rebuilt at most once a minute, 60 requests
a minute per IP). An operator with a key may point ``base_url`` at ``.../api/executors``
(``LIUM_API_KEY`` is then sent as ``X-API-KEY``, never logged); that answer is archived as
``executors.json`` and read too.

Shapes. No real response body was available here, so the parser follows the shapes
established from public clients, and the tests use hand-written fixtures in those shapes
(tests/fixtures/lium/README.md):

* public feed (gpuhunt's Lium provider and its test recorded from the feed on 2026-09-10)::

      {"generated_at": "...", "count": 4, "nodes": [
        {"id": "...", "gpu_model": "H200", "gpu_count": 8, "available_gpu_count": 5,
         "price_per_gpu_hour": 3.99, "price_per_node_hour": 31.92, "min_rentable_gpu_count": 1,
         "gpu_memory_gb": 140, "tier": "secure", "country_code": "US", "region": "MS", ...}]}

* executors (SkyPilot's ``_parse_node``): a JSON list of
  ``{"id", "specs": {"gpu": {"count", "details": [{"name"}]}}, "price_per_gpu",
  "location": {"country_code"}, "tier", "is_whole_host_free"}``.

Parsing rules (both shapes): one offer per node, ``price_basis`` ``per_gpu`` (Lium prices
per GPU-hour), ``gpu_count`` = the node's GPUs, ``instance_type`` = the node id (nodes of one
model are distinct offers, each counted once), ``region`` = ``<country_code>[-<region>]``.
``tier`` ``secure`` (runs until the renter stops it) is ``on_demand``; ``spot`` (taken back
when the host wants the node) is ``spot``; any other tier is passed on and quarantined
(``bad_pricing_type``). Availability: ``available_gpus`` = ``available_gpu_count``, and
``stock_status`` ``available`` when it is > 0, ``rented`` when 0 (executors: ``available``
when ``is_whole_host_free``, else ``partially_rented``). A feed node whose
``price_per_node_hour`` disagrees with ``price_per_gpu_hour`` x ``gpu_count`` by more than a
cent is quarantined ``inconsistent_price`` -- which of the two is right cannot be known.
Nodes without a GPU model or price are passed on for ``normalise_offers`` to quarantine
(``unknown_gpu``/``missing_price``); a node that is not an object, or a payload without a
``nodes`` list (feed) or that is not a list of executors, raises ``ParseError``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipelines.lib.config import secret
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "lium"
PROVIDER = "lium"
DEFAULT_BASE_URL = "https://lium.io/api/public/v1/nodes"
FEED_NAME, EXECUTORS_NAME = "nodes.json", "executors.json"
TIERS = {"secure": "on_demand", "spot": "spot"}
PRICE_TOLERANCE = 0.01  # USD: node price vs per-GPU price x GPUs

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    # off by default: the parser has only seen a hand-written fixture (gpu_tracker.toml says why)
    defaults={"enabled": False, "base_url": DEFAULT_BASE_URL},
    secrets=("LIUM_API_KEY",),
    terms=Terms(
        url="https://lium.io/terms",
        verdict="permits",
        checked="2026-12-01",
        quote="Lium's public node feed docs: 'Every GPU node currently rentable on Lium, as one "
        "unauthenticated JSON call. No key, no signup, no rate-limit negotiation — point "
        "your ingester at it and start listing us today.' (60 requests per minute per IP); "
        "robots.txt 'Allow: /api/public/'. Quoted from a 2026 third-party source audit, not "
        "read first-hand here; the same audit found no clause in lium.io/terms restricting "
        "automated access or data use.",
        licence="unknown; published by Lium for listing",
    ),
    description="Lium marketplace nodes: per-GPU-hour prices, secure/spot tier, free GPUs",
)

log = logging.getLogger(__name__)


def _payload_name(url: str) -> str:
    return EXECUTORS_NAME if "/executors" in url else FEED_NAME


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the node feed (or, with a key, the executors list): one payload."""
    url = source_cfg["base_url"]
    name = _payload_name(url)
    headers = {"Accept": "application/json"}
    key = secret("LIUM_API_KEY")
    if key:
        headers["X-API-KEY"] = key
    try:
        resp = client.get(url, headers=headers)
    except FetchError as exc:
        return [FetchFailure(name, url, str(exc))]
    return [Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _region(country: Any, region: Any) -> str | None:
    if not country:
        return None
    return f"{country}-{region}" if region else str(country)


def _feed_record(node: dict[str, Any]) -> dict[str, Any]:
    count = node.get("gpu_count")
    available = node.get("available_gpu_count")
    per_gpu = node.get("price_per_gpu_hour")
    tier = str(node.get("tier") or "")
    rec: dict[str, Any] = {
        "provider": PROVIDER,
        "gpu_name": str(node.get("gpu_model") or ""),
        "gpu_memory_gb": node.get("gpu_memory_gb"),
        "gpu_count": count,
        "instance_type": node.get("id"),
        "region": _region(node.get("country_code"), node.get("region")),
        "pricing": TIERS.get(tier, tier),
        "price": per_gpu,
        "price_basis": "per_gpu",
        "currency": "USD",
        "available_gpus": available,
    }
    free = _number(available)
    if free is not None:
        rec["stock_status"] = "available" if free > 0 else "rented"
    node_price, gpu_price, gpus = (
        _number(node.get("price_per_node_hour")),
        _number(per_gpu),
        _number(count),
    )
    if (
        None not in (node_price, gpu_price, gpus)
        and abs(node_price - gpu_price * gpus) > PRICE_TOLERANCE
    ):
        rec["quarantine_reason"] = "inconsistent_price"
        rec["quarantine_detail"] = (
            f"price_per_node_hour {node_price} != price_per_gpu_hour {gpu_price} x {gpus:g} GPUs"
        )
    return rec


def _executor_record(ex: dict[str, Any]) -> dict[str, Any]:
    gpu = (ex.get("specs") or {}).get("gpu") if isinstance(ex.get("specs"), dict) else None
    gpu = gpu if isinstance(gpu, dict) else {}
    details = gpu.get("details") if isinstance(gpu.get("details"), list) else []
    first = details[0] if details and isinstance(details[0], dict) else {}
    tier = str(ex.get("tier") or "")
    location = ex.get("location") if isinstance(ex.get("location"), dict) else {}
    rec: dict[str, Any] = {
        "provider": PROVIDER,
        "gpu_name": str(first.get("name") or ""),
        "gpu_count": gpu.get("count", len(details) or None),
        "instance_type": ex.get("id"),
        "region": _region(location.get("country_code"), None),
        "pricing": TIERS.get(tier, tier),
        "price": ex.get("price_per_gpu"),
        "price_basis": "per_gpu",
        "currency": "USD",
    }
    if "is_whole_host_free" in ex:
        rec["stock_status"] = "available" if ex.get("is_whole_host_free") else "partially_rented"
    return rec


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """The node feed or an executors list -> candidate offers (see the module docstring)."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON: {exc}") from None
    if isinstance(doc, dict):
        items, reader = doc.get("nodes"), _feed_record
        if not isinstance(items, list):
            raise ParseError(f"{name}: no 'nodes' list: not Lium's public node feed")
    elif isinstance(doc, list):
        items, reader = doc, _executor_record
        if items and not all(isinstance(x, dict) and "specs" in x for x in items):
            raise ParseError(f"{name}: a list whose items are not executors (no 'specs')")
    else:
        raise ParseError(f"{name}: top level is {type(doc).__name__}: not a Lium answer")
    records = []
    for item in items:
        if not isinstance(item, dict):
            raise ParseError(f"{name}: a node is {type(item).__name__}, not an object")
        records.append(reader(item))
    log.info("%s %s: %d nodes", SOURCE_ID, name, len(records))
    return records
