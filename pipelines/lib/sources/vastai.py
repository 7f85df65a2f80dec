"""Vast.ai marketplace offers from the public offer search (``/api/v0/bundles/``).

Live: ``POST <base_url>`` (``https://console.vast.ai/api/v0/bundles/``) with a JSON search
body -- the filter syntax of Vast's own CLI (``vast.py search offers``) and of gpuhunt::

    {"verified": {"eq": true}, "external": {"eq": false}, "rentable": {"eq": true},
     "rented": {"eq": false}, "type": "on-demand", "order": [["dph_total", "asc"]],
     "limit": <max_offers>}

Archived as ``bundles.json``. The search needs no key (gpuhunt sends none); if
``VAST_API_KEY`` is set it is sent as a Bearer token, never logged. The answer is
``{"offers": [{id, machine_id, gpu_name, num_gpus, gpu_ram (MiB per GPU), dph_total,
min_bid, geolocation, rentable, rented, verified, ...}, ...]}``.

Every offer is one machine's bundle of ``num_gpus`` GPUs, priced for the whole bundle:

* ``on_demand`` at ``dph_total`` (USD/h, the all-in rate Vast shows: GPU + host share +
  the storage of the search's default allocation), ``price_basis`` ``per_instance`` with
  ``gpu_count`` = ``num_gpus`` -- ``normalise_offers`` divides;
* ``spot`` at ``min_bid`` when it is > 0: Vast's *interruptible* (bid) floor for the same
  bundle -- the lowest bid the host accepts right now, not a clearing price. Also
  ``per_instance``. A missing/0 ``min_bid`` means no interruptible price: no spot offer.

Availability = offer counts: one record per offer (``n_offers`` 1), ``available_gpus`` =
``num_gpus`` for a rentable, unrented offer (0 otherwise), ``stock_status``
``available``/``unavailable``. ``instance_type`` carries the offer and machine ids, so
two identical bundles on different machines stay two offers. ``region`` is Vast's
``geolocation`` text (``"Texas, US"``); ``gpu_memory_gb`` = ``gpu_ram`` / 1024 (it tells
A100 40 from 80 GB). Unknown GPU names and 0 prices are passed through for
``normalise_offers`` to quarantine (``unknown_gpu``, ``non_positive_price``).

No real Vast response body is stored anywhere we could reach; the tests use a
hand-written fixture in this shape (tests/fixtures/vastai/README.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from pipelines.lib.config import secret
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

SOURCE_ID = "vastai"
PROVIDER = "vastai"
PAYLOAD_NAME = "bundles.json"
DEFAULT_MAX_OFFERS = 5000
log = logging.getLogger(__name__)


def search_body(max_offers: int = DEFAULT_MAX_OFFERS) -> dict[str, Any]:
    """The offer-search body: verified, rentable, unrented on-demand offers, cheapest first."""
    return {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "type": "on-demand",
        "order": [["dph_total", "asc"]],
        "limit": int(max_offers),
    }


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One POST of the search body; a failure becomes a FetchFailure entry."""
    url = source_cfg["base_url"]
    body = search_body(source_cfg.get("max_offers") or DEFAULT_MAX_OFFERS)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = secret("VAST_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        resp = client.post(url, json=body, headers=headers)
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    try:
        n = len(json.loads(resp.content).get("offers") or [])
    except (ValueError, AttributeError):
        n = -1  # parse will say what is wrong
    if n >= body["limit"]:
        log.warning("vastai: %d offers = the search limit; raise [sources.vastai] max_offers", n)
    return [Payload(PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]


def _num(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate offers from one ``bundles`` answer."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if not isinstance(doc, dict) or "offers" not in doc:
        detail = (doc.get("msg") or doc.get("error")) if isinstance(doc, dict) else type(doc).__name__
        raise ParseError(f"{name}: not a Vast bundles answer (no 'offers'; {str(detail)[:200]})")
    offers = doc["offers"]
    if isinstance(offers, dict):  # a single offer comes back unwrapped
        offers = [offers]
    if not isinstance(offers, list):
        raise ParseError(f"{name}: 'offers' is {type(offers).__name__}, not a list")
    records: list[dict[str, Any]] = []
    for i, offer in enumerate(offers):
        if not isinstance(offer, dict) or "gpu_name" not in offer or "num_gpus" not in offer:
            raise ParseError(f"{name}: offer {i} lacks gpu_name/num_gpus: {str(offer)[:200]}")
        num_gpus = offer.get("num_gpus")
        gpu_ram = _num(offer.get("gpu_ram"))
        available = bool(offer.get("rentable", True)) and not offer.get("rented", False)
        gpu_name = str(offer.get("gpu_name") or "")
        base = {
            "provider": PROVIDER,
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
        # kept even when missing/0/unparseable: normalise_offers quarantines it
        records.append({**base, "pricing": "on_demand", "price": _num(dph) if _num(dph) is not None else dph})
        bid = _num(offer.get("min_bid"))
        if bid is not None and bid > 0:
            records.append({**base, "pricing": "spot", "price": bid})
    return records
