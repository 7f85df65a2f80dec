"""Voltage Park bare-metal GPU locations: per-GPU-hour price and GPUs free, per network fabric.

Live: ``GET <base_url>`` (``https://cloud-api.voltagepark.com/api/v1/bare-metal/locations``),
archived as ``bare_metal_locations.json``. Endpoint and shape were established from public
clients, not from a captured body (none was available; the tests use a hand-written fixture,
tests/fixtures/voltage_park/README.md):

* a capacity fetcher's docstring: "public bare-metal locations API with LIVE GPU COUNTS (no
  auth, verified 2026-08-12 ...)"; another collector pins the same envelope and notes the
  marketing /pricing page says "Contact for pricing" (so the API, not the page, is the price
  source) and that ``/bare-metal/detailed-locations`` and ``/billing/hourly-rate`` are
  account-scoped (not used);
* the Voltage Park SDK's ``BaremetalLocation`` model: ``id``, ``gpu_count_ethernet`` /
  ``gpu_count_infiniband`` (GPUs available, ints >= 0), ``gpu_price_ethernet`` /
  ``gpu_price_infiniband`` ("The price of a GPU on ethernet", strings such as ``"1.99"``) and
  ``specs_per_node {gpu_model: "h100-sxm5-80gb", gpu_count: 8, cpu_model, cpu_count, ram_gb,
  storage_gb}``, inside a list envelope ``{"results": [...], "has_next", "total_result_count"}``.

Parsing rules: each location gives one ``on_demand`` offer per fabric (``ethernet``,
``infiniband``: the same product on two networks, not a reserved tier), ``price_basis``
``per_gpu`` (the price is per GPU-hour on a node of ``specs_per_node.gpu_count`` GPUs, which
is the offer's ``gpu_count``), ``instance_type`` ``bare-metal-<fabric>``, ``region`` = the
location id (the API names no geography), ``available_gpus`` = that fabric's count and
``stock_status`` ``available`` (> 0) or ``sold_out`` (0): availability never gates a price.
Prices are text and are read strictly by ``normalise_offers``; a missing one is quarantined
(``missing_price``). A location field naming a price this parser does not know
(``gpu_price_*`` other than the two fabrics: a new tier) becomes a record quarantined
``unknown_price_field`` -- a published price is never silently ignored.

An envelope without ``results`` list and ``total_result_count``, one whose ``has_next`` is
true or whose count disagrees with the rows (the API documents no paging parameters: a
partial list is refused, not under-reported), or a location without ``specs_per_node``
raises ``ParseError``. ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "voltage_park"
PROVIDER = "voltagepark"
PAYLOAD_NAME = "bare_metal_locations.json"
DEFAULT_BASE_URL = "https://cloud-api.voltagepark.com/api/v1/bare-metal/locations"
FABRICS = ("ethernet", "infiniband")

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    # off by default: the parser has only seen a hand-written fixture (gpu_tracker.toml says why)
    defaults={"enabled": False, "base_url": DEFAULT_BASE_URL},
    terms=Terms(
        url="https://www.voltagepark.com/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote="The bare-metal locations endpoint answers without a key (per public capacity "
        "fetchers, 2026-08); Voltage Park's robots.txt holds only a Sitemap line (per a "
        "2026 third-party source audit). Its terms of service could not be retrieved from "
        "the copies available to us, so no clause on automated reads or reuse of prices "
        "could be established.",
        licence="proprietary; prices as published by Voltage Park",
    ),
    description="Voltage Park bare-metal H100 locations: per-GPU-hour price and GPUs free by fabric",
)

log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the bare-metal locations list: one payload."""
    url = source_cfg["base_url"]
    try:
        resp = client.get(url, headers={"Accept": "application/json"})
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


def _location_records(name: str, loc: dict[str, Any]) -> list[dict[str, Any]]:
    specs = loc.get("specs_per_node")
    if not isinstance(specs, dict):
        raise ParseError(f"{name}: location {loc.get('id')!r} has no specs_per_node object")
    base = {
        "provider": PROVIDER,
        "gpu_name": str(specs.get("gpu_model") or ""),
        "gpu_count": specs.get("gpu_count"),
        "region": loc.get("id"),
        "pricing": "on_demand",
        "price_basis": "per_gpu",
        "currency": "USD",
    }
    records = []
    for fabric in FABRICS:
        available = loc.get(f"gpu_count_{fabric}")
        rec = {
            **base,
            "instance_type": f"bare-metal-{fabric}",
            "price": loc.get(f"gpu_price_{fabric}"),
            "available_gpus": available,
        }
        if isinstance(available, int) and not isinstance(available, bool):
            rec["stock_status"] = "available" if available > 0 else "sold_out"
        records.append(rec)
    known = {f"gpu_price_{f}" for f in FABRICS}
    for key in sorted(k for k in loc if "gpu_price" in k and k not in known):
        records.append(
            {
                **base,
                "instance_type": f"bare-metal-{key}",
                "price": loc[key],
                "quarantine_reason": "unknown_price_field",
                "quarantine_detail": f"location field {key!r}: a price this parser does "
                "not know how to label",
            }
        )
    return records


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """The locations envelope -> candidate offers (see the module docstring)."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
        raise ParseError(f"{name}: no 'results' list: not a Voltage Park locations answer")
    results, total = doc["results"], doc.get("total_result_count")
    if not isinstance(total, int) or isinstance(total, bool):
        raise ParseError(f"{name}: no integer total_result_count")
    if doc.get("has_next") or total != len(results):
        raise ParseError(
            f"{name}: a partial list (has_next {doc.get('has_next')!r}, "
            f"total_result_count {total}, {len(results)} rows); no paging is "
            "documented, so it is refused rather than under-reported"
        )
    records: list[dict[str, Any]] = []
    for loc in results:
        if not isinstance(loc, dict):
            raise ParseError(f"{name}: a location is {type(loc).__name__}, not an object")
        records.extend(_location_records(name, loc))
    log.info("%s %s: %d locations, %d records", SOURCE_ID, name, len(results), len(records))
    return records
