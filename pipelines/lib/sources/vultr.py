"""Vultr GPU plans (Cloud GPU VMs and bare metal) from the public plans API (no key).

Live: two GETs, both from ``[sources.vultr]``:

* ``base_url`` (``https://api.vultr.com/v2/plans?type=all&per_page=500``) -> ``plans.json``;
* ``metal_url`` (``https://api.vultr.com/v2/plans-metal?per_page=500``) -> ``plans_metal.json``.

gpuhunt's Vultr provider reads the same two lists without credentials. A list whose ``meta``
says more plans exist than it returned (``meta.total`` > items) is a ParseError rather than a
silent truncation.

Shapes (trimmed real-shape payloads in shared/data/provider_payloads/vultr, from gpuhunt's
tests)::

    {"plans": [{"id": "vcg-a100-12c-120g-80vram", "type": "vcg", "hourly_cost": 2.397,
                "gpu_type": "NVIDIA_A100", "gpu_vram_gb": 80, "locations": ["ewr"], ...}]}
    {"plans_metal": [{"id": "vbm-112c-2048gb-8-h100-gpu", "hourly_cost": 23.92,
                      "hourly_cost_preemptible": 18.4, "locations": ["sea"], ...}]}

Parsing rules:

* VM plans: only plans with a ``gpu_type`` are GPU plans (the rest are CPU plans: not offers).
  ``gpu_vram_gb`` is the plan's **total** GPU memory, and Vultr sells fractions of a card
  (``vcg-a100-1c-6g-4vram`` is 4 GB of an 80 GB A100). The GPU count is ``gpu_vram_gb`` /
  the card's memory from the explicit table ``CARD_MEMORY_GB`` (Vultr's own figures); a plan
  that is less than one card, or not a whole number of cards, is quarantined
  ``fractional_gpu`` (its price is not a price of a GPU); a ``gpu_type`` not in the table has
  no GPU count and is quarantined ``unknown_gpu_count`` (or ``unknown_gpu``), never guessed.
* Bare-metal plans carry no GPU fields: the GPU count and model come from the plan id
  (``vbm-<cpu>-<ram>-<count>-<model>-gpu``: ``8`` x ``mi300x``). An id without that tail is a
  CPU server: not an offer.
* ``hourly_cost`` is the price of the whole plan (``per_instance``, on-demand);
  ``hourly_cost_preemptible`` (where present and > 0) is a ``spot`` offer of the same plan.
* Availability: ``locations`` lists where the plan can be deployed now. One offer per
  location (``region``), with ``stock_status`` ``available``; a GPU plan with an empty
  ``locations`` list is sold nowhere today: one offer with ``region`` null and
  ``stock_status`` ``unavailable``, so its price is still seen.

A payload without ``plans`` / ``plans_metal`` as a list raises ``ParseError``.
``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "vultr"
PROVIDER = "vultr"
DEFAULT_BASE_URL = "https://api.vultr.com/v2/plans?type=all&per_page=500"
DEFAULT_METAL_URL = "https://api.vultr.com/v2/plans-metal?per_page=500"
PLANS, METAL = "plans.json", "plans_metal.json"

# Memory of one card per Vultr gpu_type (GB), as Vultr lists its Cloud GPU cards.
CARD_MEMORY_GB: dict[str, int] = {
    "NVIDIA_A100": 80,
    "NVIDIA_A40": 48,
    "NVIDIA_A16": 16,
    "NVIDIA_L40S": 48,
    "NVIDIA_H100": 80,
    "NVIDIA_GH200": 96,
    "AMD_MI300X": 192,
    "AMD_MI325X": 256,
}
_METAL_GPU = re.compile(r"-(\d+)-([a-z0-9]+)-gpu$", re.IGNORECASE)

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": DEFAULT_BASE_URL, "metal_url": DEFAULT_METAL_URL},
    terms=Terms(
        url="https://www.vultr.com/legal/tos/",
        verdict="unknown",
        checked="2026-12-01",
        quote="The plans endpoints are part of Vultr's public API v2 and answer without a key "
        "(gpuhunt reads them unauthenticated); Vultr's Terms of Service and Acceptable Use "
        "Policy could not be retrieved from the copies available to us, so no clause on "
        "automated reads of the plan list or on reuse of its prices could be established.",
        licence="proprietary; prices as published by Vultr",
    ),
    description="Vultr Cloud GPU and bare-metal GPU plans: on-demand and preemptible, by location",
)

log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the VM plan list and the bare-metal plan list; one failing is a FetchFailure."""
    out: list[Payload | FetchFailure] = []
    for name, url in (
        (PLANS, source_cfg["base_url"]),
        (METAL, source_cfg.get("metal_url") or DEFAULT_METAL_URL),
    ):
        try:
            resp = client.get(url)
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            continue
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
    return out


def _offers(plan: dict[str, Any], base: dict[str, Any]) -> list[dict[str, Any]]:
    """One record per location and price kind (on-demand, preemptible) of one GPU plan."""
    locations = plan.get("locations")
    if not isinstance(locations, list):
        locations = []
    prices = [("on_demand", plan.get("hourly_cost"))]
    spot = plan.get("hourly_cost_preemptible")
    if isinstance(spot, (int, float)) and not isinstance(spot, bool) and spot > 0:
        prices.append(("spot", spot))
    out = []
    for pricing, price in prices:
        for region in [str(loc) for loc in locations] or [None]:
            out.append(
                {
                    **base,
                    "pricing": pricing,
                    "price": price,
                    "region": region,
                    "stock_status": "available" if region else "unavailable",
                }
            )
    return out


def _vm_records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    gpu_type = plan.get("gpu_type")
    if not gpu_type:
        return []  # a CPU plan
    gpu_type = str(gpu_type)
    vram = plan.get("gpu_vram_gb")
    card = CARD_MEMORY_GB.get(gpu_type.upper())
    base: dict[str, Any] = {
        "provider": PROVIDER,
        "gpu_name": gpu_type,
        "gpu_hint": str(plan.get("id") or ""),
        "gpu_memory_gb": card,
        "instance_type": plan.get("id"),
        "price_basis": "per_instance",
        "currency": "USD",
        "gpu_count": None,
    }
    if card is not None and isinstance(vram, (int, float)) and not isinstance(vram, bool):
        cards = vram / card
        if cards >= 1 and cards == int(cards):
            base["gpu_count"] = int(cards)
        else:
            base["quarantine_reason"] = "fractional_gpu"
            base["quarantine_detail"] = (
                f"{vram} GB of a {card} GB {gpu_type} card ({cards:.3g} "
                "cards): a share of a GPU, not a GPU"
            )
    return _offers(plan, base)


def _metal_records(plan: dict[str, Any]) -> list[dict[str, Any]]:
    plan_id = str(plan.get("id") or "")
    m = _METAL_GPU.search(plan_id)
    if not m:
        return []  # a CPU bare-metal server
    base = {
        "provider": PROVIDER,
        "gpu_name": m.group(2),
        "gpu_hint": plan_id,
        "gpu_count": int(m.group(1)),
        "instance_type": plan_id,
        "price_basis": "per_instance",
        "currency": "USD",
    }
    return _offers(plan, base)


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """``plans.json`` or ``plans_metal.json`` -> candidate offers (see the module docstring)."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{name}: top level is {type(doc).__name__}, not an object")
    key, reader = (
        ("plans_metal", _metal_records) if "plans_metal" in doc else ("plans", _vm_records)
    )
    plans = doc.get(key)
    if not isinstance(plans, list):
        raise ParseError(f"{name}: no 'plans' or 'plans_metal' list: not a Vultr plans answer")
    total = (doc.get("meta") or {}).get("total") if isinstance(doc.get("meta"), dict) else None
    if isinstance(total, int) and total > len(plans):
        raise ParseError(
            f"{name}: meta.total {total} but {len(plans)} plans returned: a "
            "truncated list (raise per_page)"
        )
    records: list[dict[str, Any]] = []
    for plan in plans:
        if not isinstance(plan, dict):
            raise ParseError(f"{name}: a plan is {type(plan).__name__}, not an object")
        records.extend(reader(plan))
    log.info("%s %s: %d GPU offer records from %d plans", SOURCE_ID, name, len(records), len(plans))
    return records
