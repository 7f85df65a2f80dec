"""Oracle Cloud (OCI) GPU list prices from Oracle's public price-list API (JSON, no key).

Live: ``GET <base_url>`` (``https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/
?currencyCode=USD``, the API behind Oracle's cost estimator), archived as
``products.json``. The real answers we have (shared/data/pricing_pages/oci, two captures,
2026-10-01 and 2026-10-07) are one object ``{"lastUpdated": ..., "items": [...]}`` with no
paging keys (both were trimmed by their repository, so that proves little). Oracle's own
OCI pricing MCP server (github.com/oracle/mcp, UPL) follows the APEX/ORDS ``links`` entry
``rel = "next"`` (relative or absolute) page by page, so ``fetch`` does too: on the same
host, up to ``max_pages`` (``products_page002.json`` ...), stopping on ``"hasMore": false``
or no next link, and saying so with a ``FetchFailure`` when it has to stop early.

Each item::

    {"partNumber": "B98415",
     "displayName": "Oracle Cloud Infrastructure - Compute - GPU - H100",
     "metricName": "GPU Per Hour", "serviceCategory": "Compute - GPU",
     "currencyCodeLocalizations": [{"currencyCode": "USD",
                                    "prices": [{"model": "PAY_AS_YOU_GO", "value": 10}]}]}

What becomes what (decided on the two real captures):

1. **GPU items only.** An item is GPU-related when its display name, service category or
   metric names a GPU. Every other product (the live answer lists all of OCI: storage,
   databases, ...; e.g. ``B107951`` Exadata storage per GB-month) is not a candidate offer:
   it is skipped and the count is logged, never returned.
2. **Per GPU-hour parts** (metric ``GPU Per Hour``) become ``on_demand`` offers with
   ``price_basis = per_gpu`` and ``gpu_count = 1`` at the USD ``PAY_AS_YOU_GO`` value:
   H100 10, H200 10, B200 14, GB200 16, GB300 18, B300 15, A100 v2 4, MI300X 6, MI355X 8.6,
   L40S 3.5, A10 2, RTX PRO 6000 4.5 (2026-10-01 capture). ``gpu_name`` is the display
   name (``pipelines.lib.gpus`` drops the vendor words), ``instance_type`` the part number.
   The part "Compute - GPU - A100 - v2" prices OCI's ``BM.GPU.A100-v2.8`` shape, whose GPUs
   are the 80 GB SXM A100 (the v1 shape ``BM.GPU4.8`` has the 40 GB part): it is given
   ``gpu_memory_gb = 80`` and ``gpu_hint = SXM`` so it does not fall to the bare-A100
   default (40 GB). Other bare names (H100, H200) take the family default (SXM, which is
   what OCI's HGX shapes carry) and keep ``gpu_variant_assumed``.
   Names the GPU table does not know (``H100T``, ``GPU Standard - X7``, ``- V2``, ``E3``,
   ``E4`` -- generation names, not chips) are passed on as they are and quarantined as
   ``unknown_gpu``: never guessed.
3. **Distractors are quarantined, not priced.** A GPU item priced per node-hour (``Node Per
   Hour``, e.g. the VMware ``BM.GPU.A10.64`` commit parts) is an instance price whose GPU
   count the list does not give: ``price_basis = per_instance`` with ``gpu_count`` None ->
   ``unknown_gpu_count``. A GPU item on any other metric (``Resource Possession Per Day``:
   Roving Edge devices, Cloud@Customer racks) is not an hourly price at all: its basis is
   recorded as ``metric:<metricName>`` and the record is quarantined ``not_hourly_price``
   (``offers.FLAG_KEYS``), the detail naming the metric. "N Year Commit" / "Monthly
   Commit" parts are marked ``reserved`` with that term.
4. **Cloud@Customer** (OCI hardware in the customer's data centre, which needs its own
   infrastructure subscription) is not a public-cloud rental price even when quoted per
   GPU-hour (L40S at 3.5, 2.9, and 0.6 on "Resource Commit"): quarantined
   ``not_public_cloud``, so it can be re-read but never enters an OCI on-demand series.
   (Every check of ``normalise_offers`` that comes first -- an unknown GPU name -- names
   its own reason instead.)
5. Prices: the ``USD`` localisation's ``PAY_AS_YOU_GO`` value. A GPU item with no USD
   localisation keeps the first localisation's currency (quarantined ``non_usd_currency``);
   one with no PAYG value keeps ``price`` None (``missing_price``); one with several is
   quarantined ``ambiguous_price`` (which one applies is not said).

Fail loudly: bytes that are not JSON, an answer without an ``items`` list, items without
the keys above (partNumber, displayName, metricName and a price block), or an answer with
no GPU item at all raise ``ParseError``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import urljoin, urlsplit

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "oci_pricing"
PROVIDER = "oci"
PAYLOAD_NAME = "products.json"
DEFAULT_BASE_URL = "https://apexapps.oracle.com/pls/apex/cetools/api/v1/products/?currencyCode=USD"
DEFAULT_MAX_PAGES = 20

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": DEFAULT_BASE_URL, "max_pages": DEFAULT_MAX_PAGES},
    terms=Terms(
        url="https://www.oracle.com/legal/terms.html",
        verdict="unknown",
        checked="2026-12-01",
        quote="The cetools products API is unauthenticated and serves Oracle's cost estimator; "
        "Oracle's own OCI pricing MCP server (github.com/oracle/mcp) pages through it. No "
        "terms are attached to the API itself; a third-party catalogue (firecrawl.dev) notes "
        "'Oracle declares no open licence for this data and its robots.txt answers 403; "
        "Oracle terms apply'. The oracle.com Terms of Use text could not be retrieved.",
        licence="proprietary; Oracle's published price list",
    ),
    description="Oracle Cloud price list API: per-GPU-hour list prices of OCI GPU parts",
)

log = logging.getLogger(__name__)

_GPU_WORD = re.compile(r"\bGPUs?\b|\bGPU\.", re.IGNORECASE)
_PER_GPU_HOUR = re.compile(r"^\s*GPU\s+Per\s+Hour\s*$", re.IGNORECASE)
_PER_NODE_HOUR = re.compile(r"^\s*Node\s+Per\s+Hour\s*$", re.IGNORECASE)
_CLOUD_AT_CUSTOMER = re.compile(r"cloud\s*@\s*customer", re.IGNORECASE)
_COMMIT = re.compile(r"\b(?:(\d+)\s*Years?|(Monthly))\s+Commit\b", re.IGNORECASE)
# the v2 A100 part prices BM.GPU.A100-v2.8 (8 x A100 80 GB); see the module docstring
_A100_V2 = re.compile(r"\bA100\s*-\s*v2\b", re.IGNORECASE)
_REQUIRED_KEYS = ("partNumber", "displayName", "metricName")
_PRICE_KEYS = ("currencyCodeLocalizations", "prices")


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET the price list; follow ORDS ``next`` links (same host, up to ``max_pages``). A
    failed page becomes a FetchFailure entry."""
    url = source_cfg["base_url"]
    max_pages = int(source_cfg.get("max_pages") or DEFAULT_MAX_PAGES)
    host = urlsplit(url).hostname
    out: list[Payload | FetchFailure] = []
    page = 1
    while True:
        name = PAYLOAD_NAME if page == 1 else f"products_page{page:03d}.json"
        try:
            resp = client.get(url, headers={"Accept": "application/json"})
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            return out
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
        link = _next_link(resp.content, resp.url or url)
        if link is None:
            return out
        nxt = f"products_page{page + 1:03d}.json"
        if urlsplit(link).hostname != host:
            out.append(FetchFailure(nxt, link, f"next link leaves {host}: not followed"))
            return out
        if page >= max_pages:
            out.append(
                FetchFailure(
                    nxt, link, f"max_pages={max_pages} reached: rest of the list not fetched"
                )
            )
            return out
        url, page = link, page + 1


def _next_link(content: bytes, url: str) -> str | None:
    """The absolute ORDS ``next`` link of an answer; None when there is none or the answer
    says ``"hasMore": false`` (also for an answer that is not JSON: ``parse`` reports that)."""
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("hasMore") is False:
        return None
    for link in doc.get("links") or []:
        if (
            isinstance(link, dict)
            and link.get("rel") == "next"
            and isinstance(link.get("href"), str)
        ):
            return urljoin(url, link["href"])
    return None


def _is_gpu_item(item: dict[str, Any]) -> bool:
    text = " ".join(
        str(item.get(k) or "") for k in ("displayName", "serviceCategory", "metricName")
    )
    return bool(_GPU_WORD.search(text))


def _usd_payg(item: dict[str, Any]) -> tuple[float | str | None, str]:
    """(price, currency) of an item: the USD localisation's single PAYG value. Anything else
    is returned so that normalise_offers quarantines it with a reason. Price blocks come
    under ``currencyCodeLocalizations`` (both captures) or ``prices`` (the other shape
    Oracle's MCP server reads); both are read."""
    locs = [
        loc
        for key in ("currencyCodeLocalizations", "prices")
        for loc in (item.get(key) if isinstance(item.get(key), list) else [])
        if isinstance(loc, dict) and "currencyCode" in loc
    ]
    usd = [loc for loc in locs if str(loc.get("currencyCode") or "").upper() == "USD"]
    if not usd:
        currency = str(locs[0].get("currencyCode") or "") if locs else ""
        return None, currency or "unknown"
    values = [
        p.get("value")
        for loc in usd
        for p in loc.get("prices") or []
        if isinstance(p, dict) and p.get("model") == "PAY_AS_YOU_GO"
    ]
    if len(values) != 1 or isinstance(values[0], bool):
        # several PAYG values (tiers?) cannot be told apart here: _record quarantines them
        return (f"{len(values)} PAY_AS_YOU_GO values: {values[:3]}" if values else None), "USD"
    value = values[0]
    if isinstance(value, (int, float)):
        return float(value), "USD"
    return (str(value) if value is not None else None), "USD"


def _record(item: dict[str, Any], name: str) -> dict[str, Any]:
    display = str(item.get("displayName") or "").strip()
    metric = str(item.get("metricName") or "").strip()
    category = str(item.get("serviceCategory") or "").strip()
    price, currency = _usd_payg(item)
    a100_v2 = bool(_A100_V2.search(display))
    gpu_count: int | None = 1
    if _PER_GPU_HOUR.match(metric):
        basis = "per_gpu"
    elif _PER_NODE_HOUR.match(metric):
        basis, gpu_count = "per_instance", None  # the list does not say how many GPUs a node has
    else:
        basis = f"metric:{metric or 'none'}"
    pricing, term = "on_demand", None
    if commit := _COMMIT.search(display):
        pricing = "reserved"
        term = "1 month" if commit.group(2) else f"{commit.group(1)} year"
    reason = detail = None
    if _CLOUD_AT_CUSTOMER.search(f"{display} {category}"):
        reason = "not_public_cloud"
        detail = f"OCI Cloud@Customer part ({category or display}): on-premises hardware, not a cloud rental price"
    elif isinstance(price, str) and "PAY_AS_YOU_GO values" in price:
        reason, detail = "ambiguous_price", price
    elif basis.startswith("metric:"):
        reason = "not_hourly_price"
        detail = f"priced per {metric!r}, not per GPU-hour or node-hour"
    return {
        "provider": PROVIDER,
        "segment": None,
        "upstream_source": None,
        "gpu_name": display,
        "gpu_hint": "SXM" if a100_v2 else "",
        "gpu_memory_gb": 80.0 if a100_v2 else None,
        "gpu_count": gpu_count,
        "instance_type": str(item.get("partNumber") or "") or None,
        "region": None,
        "pricing": pricing,
        "reserved_term": term,
        "price": price,
        "price_basis": basis,
        "currency": currency,
        "price_min": None,
        "price_max": None,
        "n_offers": None,
        "stock_status": None,
        "available_gpus": None,
        "payload_name": name,
        "date": None,
        "quarantine_reason": reason,
        "quarantine_detail": detail,
        # kept in quarantine's JSON so a quarantined part can be re-read
        "metric_name": metric,
        "service_category": category,
    }


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate offers from one archived OCI price-list answer (see the module docstring)."""
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ParseError(
            f"{name}: not JSON ({exc}); expected the OCI price list {{{{'items': [...]}}}}"
        ) from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        keys = sorted(doc)[:10] if isinstance(doc, dict) else type(doc).__name__
        raise ParseError(f"{name}: no 'items' list in the OCI price list answer (found {keys})")
    items = [it for it in items if isinstance(it, dict)]
    if not items:
        raise ParseError(f"{name}: the OCI price list answer has no product items")
    shaped = [
        it
        for it in items
        if all(k in it for k in _REQUIRED_KEYS) and any(k in it for k in _PRICE_KEYS)
    ]
    if not shaped:
        raise ParseError(
            f"{name}: no item has the keys {_REQUIRED_KEYS} and one of {_PRICE_KEYS}; "
            f"first item keys: {sorted(items[0])[:10]}"
        )
    # a GPU item missing some keys still becomes a record: normalise_offers names what is wrong
    gpu_items = [it for it in items if _is_gpu_item(it)]
    skipped = len(items) - len(gpu_items)
    if not gpu_items:
        raise ParseError(f"{name}: none of {len(items)} OCI price-list items is a GPU part")
    if skipped:
        log.info("%s: %d of %d items are not GPU parts: skipped", name, skipped, len(items))
    return [_record(it, name) for it in gpu_items]
