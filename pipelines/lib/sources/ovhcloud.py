"""OVHcloud Public Cloud GPU instances from the public order catalog (no key).

Live: ``GET <base_url>`` (default
``https://eu.api.ovh.com/v1/order/catalog/public/cloud?ovhSubsidiary=FR``), archived as
``catalog_<SUBSIDIARY>.json`` (the subsidiary from the URL's ``ovhSubsidiary``). The
subsidiary decides currency and price list (FR: EUR; the US entity's catalog, on
``api.us.ovhcloud.com`` with ``ovhSubsidiary=US``, prices in USD); the catalog's
``locale.currencyCode`` is what the parser trusts. Several clients read this catalog without
credentials (OpenCost's OVH pricing provider, OVH's own manager UI, tdr2d/ovh_pricelist).

Shape (established from those clients; the tests use a hand-written fixture, see
tests/fixtures/ovhcloud/README.md)::

    {"catalogId": 123, "locale": {"currencyCode": "EUR", "subsidiary": "FR", "taxRate": 20},
     "plans": [...], "addons": [
       {"planCode": "h100-380.consumption", "invoiceName": "h100-380 instance",
        "product": "publiccloud-instance", "pricingType": "consumption",
        "pricings": [{"type": "consumption", "intervalUnit": "hour", "interval": 1,
                      "price": 280000000, "capacities": ["consumption"], ...}],
        "blobs": {"commercial": {"brick": "gpu", ...},
                  "technical": {"gpu": {"model": "H100", "number": 1, "memory": {"size": 80}},
                                "os": {"family": "linux"}, ...}}}]}

**Price unit**: ``price`` is an integer in 1e-8 of the currency unit (OpenCost's and two
other clients' ``OVH_PRICE_DIVISOR`` / ``MICROCENTS_DIVISOR`` = 100,000,000; another notes
"prices in units of 1e-8 EUR, net of the taxRate in locale"): 280000000 = 2.80 EUR per
instance-hour, excluding VAT.

Parsing rules: items of ``plans`` and ``addons`` whose ``planCode`` ends ``.consumption``,
whose ``blobs.commercial.brick`` is ``gpu`` and whose ``product`` is
``publiccloud-instance`` are GPU instance flavours. Windows flavours (``os.family``
``windows``) include a licence in the price: not offers. Each flavour (once per planCode)
becomes an ``on_demand`` offer, ``per_instance``, ``gpu_count`` = ``gpu.number``,
``gpu_memory_gb`` = ``gpu.memory.size``, price = the hourly consumption pricing / 1e8 in the
catalog's currency -- a non-USD price is converted by ``normalise_offers`` with the ECB rate
of the same date (see ``ecb_fx``) or quarantined. A flavour without an hourly consumption
pricing keeps ``price`` None (quarantined ``missing_price``), one whose hourly price is not an
integer (a string, a float: its unit is then unknown) is quarantined ``bad_price_unit``, and
one without GPU fields keeps its
plan code as GPU name and no count (quarantined, not dropped). The public catalog does not
say in which regions a flavour is sold: ``region`` is null.

A catalog without ``locale.currencyCode``, without ``plans``/``addons`` lists, or with no GPU
flavour at all raises ``ParseError``. ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "ovhcloud"
PROVIDER = "ovh"
DEFAULT_BASE_URL = "https://eu.api.ovh.com/v1/order/catalog/public/cloud?ovhSubsidiary=FR"
PRICE_DIVISOR = 100_000_000  # catalog prices are integers in 1e-8 of the currency unit

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    # off by default: the parser has only seen a hand-written fixture (gpu_tracker.toml says why)
    defaults={"enabled": False, "base_url": DEFAULT_BASE_URL},
    terms=Terms(
        url="https://us.ovhcloud.com/legal/",
        verdict="unknown",
        checked="2026-12-01",
        quote="The order catalog is a public, unauthenticated API endpoint that OVHcloud's own "
        "manager and third-party cost tools read; OVHcloud's terms of service could not be "
        "retrieved from the copies available to us, so no clause on automated reads of the "
        "catalog or on reuse of its prices could be established.",
        licence="proprietary; prices as published by OVHcloud",
    ),
    description="OVHcloud Public Cloud GPU flavours: hourly list price per instance (EUR or USD)",
)

log = logging.getLogger(__name__)


def payload_name(url: str) -> str:
    """``catalog_<SUBSIDIARY>.json`` from the URL's ``ovhSubsidiary`` (``catalog.json`` if none)."""
    sub = (parse_qs(urlsplit(url).query).get("ovhSubsidiary") or [""])[0]
    sub = "".join(ch for ch in sub.upper() if ch.isalnum())[:8]
    return f"catalog_{sub}.json" if sub else "catalog.json"


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the public cloud catalog of one subsidiary: one payload."""
    url = source_cfg["base_url"]
    name = payload_name(url)
    try:
        resp = client.get(url, headers={"Accept": "application/json"})
    except FetchError as exc:
        return [FetchFailure(name, url, str(exc))]
    return [Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _hourly_price(item: dict[str, Any]) -> tuple[float | None, str | None]:
    """(hourly consumption price in currency units, problem): a price that is not an integer
    count of 1e-8 units cannot be read in a known unit, so it is a problem, not a number."""
    for pricing in item.get("pricings") or []:
        p = _dict(pricing)
        if (
            p.get("intervalUnit") == "hour"
            and p.get("interval") == 1
            and p.get("type") == "consumption"
        ):
            price = p.get("price")
            if isinstance(price, int) and not isinstance(price, bool):
                return price / PRICE_DIVISOR, None
            return None, f"hourly price {price!r} is not an integer of 1e-8 currency units"
    return None, None


def _is_gpu_flavour(item: dict[str, Any]) -> bool:
    return (
        str(item.get("planCode") or "").endswith(".consumption")
        and item.get("product") == "publiccloud-instance"
        and _dict(_dict(item.get("blobs")).get("commercial")).get("brick") == "gpu"
    )


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """One subsidiary's catalog -> candidate offers of its GPU flavours."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{name}: top level is {type(doc).__name__}, not a catalog object")
    currency = str(_dict(doc.get("locale")).get("currencyCode") or "").upper()
    if not currency:
        raise ParseError(f"{name}: no locale.currencyCode: the prices' currency is unknown")
    lists = [doc[k] for k in ("plans", "addons") if isinstance(doc.get(k), list)]
    if not lists:
        raise ParseError(f"{name}: no 'plans' or 'addons' list: not an OVHcloud order catalog")
    records: list[dict[str, Any]] = []
    seen: set[str] = set()
    windows = 0
    for item in (i for items in lists for i in items):
        if not isinstance(item, dict) or not _is_gpu_flavour(item):
            continue
        plan_code = str(item["planCode"])
        if plan_code in seen:
            continue
        seen.add(plan_code)
        technical = _dict(_dict(item.get("blobs")).get("technical"))
        if str(_dict(technical.get("os")).get("family") or "").lower() == "windows":
            windows += 1
            continue
        gpu = _dict(technical.get("gpu"))
        flavour = plan_code.removesuffix(".consumption")
        price, problem = _hourly_price(item)
        rec: dict[str, Any] = {
            "provider": PROVIDER,
            "gpu_name": str(gpu.get("model") or flavour),
            "gpu_hint": flavour,
            "gpu_memory_gb": _dict(gpu.get("memory")).get("size"),
            "gpu_count": gpu.get("number"),
            "instance_type": flavour,
            "pricing": "on_demand",
            "price": price,
            "price_basis": "per_instance",
            "currency": currency,
        }
        if problem:
            rec["quarantine_reason"], rec["quarantine_detail"] = "bad_price_unit", problem
        records.append(rec)
    if not records and not windows:
        raise ParseError(
            f"{name}: no GPU instance flavour (brick 'gpu', '.consumption' plan) in the catalog"
        )
    log.info(
        "%s %s: %d GPU flavours (%s), %d Windows flavours skipped",
        SOURCE_ID,
        name,
        len(records),
        currency,
        windows,
    )
    return records
