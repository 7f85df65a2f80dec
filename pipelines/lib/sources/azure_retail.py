"""Azure GPU VM list prices from the public Retail Prices API (no key).

Live: for each region in ``[sources.azure_retail] regions``::

    GET <base_url>?$filter=serviceName eq 'Virtual Machines' and priceType eq 'Consumption'
                           and armRegionName eq '<region>'

then follow ``NextPageLink`` (100 items a page) up to ``max_pages`` pages per region. Each
page is archived as ``<region>_page<NNN>.json`` (``eastus_page001.json``...). A page that
fails, a ``NextPageLink`` to another host, or a region cut off by ``max_pages`` becomes a
FetchFailure entry (the run is reported partial), never a silent truncation.

A page is ``{"BillingCurrency", "Items": [...], "NextPageLink", "Count"}``; an item has
``armSkuName`` (``Standard_ND96isr_H100_v5``), ``skuName``/``meterName`` (``ND96isr H100 v5``,
``... Spot``, ``... Low Priority``), ``productName`` (``... Series`` / ``... Series
Windows``), ``retailPrice`` (USD per hour for ``unitOfMeasure`` ``1 Hour``),
``currencyCode``, ``armRegionName``, ``type``. A page without ``Items`` is a ParseError.

Parsing rules:

* GPU SKUs only: the GPU model and GPU count come from the explicit table
  ``AZURE_GPU_SERIES`` below (series pattern over ``armSkuName`` -> GPU name, GPUs per size),
  transcribed from Microsoft's VM size pages (learn.microsoft.com/azure/virtual-machines/
  sizes/gpu-accelerated/*, e.g. ``nd-h100-v5-series``, ``ncads-h100-v5``, ``nva10v5-series``)
  -- *not* from the ARM ``GPUs`` capability, which rounds partial GPUs up to 1.
  ``Standard_N*`` SKUs that are in no table entry (a new series) are emitted with the SKU as
  GPU name and no GPU count, so they are quarantined (``unknown_gpu``/``unknown_gpu_count``)
  and show up, rather than vanish. ``Standard_NP*`` is FPGA (Xilinx), not GPU: not an offer.
  Non-N SKUs are CPU VMs: not offers.
* Fractional-GPU sizes (NVadsA10 v5 1/6, 1/3, 1/2 of an A10; NVv4 MI25 and NGads V620 /
  NVads V710 partitions) are emitted with their fractional ``gpu_count`` (0.1667, ...):
  ``normalise_offers`` quarantines them as ``bad_gpu_count``. A GPU slice is not a GPU-hour,
  so no per-GPU price is invented; the quarantine keeps the row for later use.
* Windows (``productName`` contains ``Windows``: the price includes the licence) and ``Low
  Priority`` meters (retired) are not offers. Items of ``type`` other than ``Consumption``
  (reservations price a whole term) and units other than ``1 Hour`` are skipped and logged.
* ``skuName`` containing ``Spot`` -> ``pricing`` spot, else on_demand.
* ``price_basis`` per_instance (``normalise_offers`` divides by the GPU count), ``currency``
  = ``currencyCode``, ``region`` = ``armRegionName``, ``instance_type`` = ``armSkuName``.
* Exact duplicates within a page (same SKU, region, pricing, price) are kept once.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any
from urllib.parse import urlsplit

import requests

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "azure_retail"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=("azure",),
    defaults={
        "enabled": True,
        "base_url": "https://prices.azure.com/api/retail/prices",
        "regions": ["eastus", "westus2", "westeurope"],
        "max_pages": 200,
    },
    terms=Terms(
        url="https://learn.microsoft.com/rest/api/cost-management/retail-prices/azure-retail-prices",
        verdict="permits",
        checked="2026-12-01",
        quote="'This API gives you an unauthenticated experience to get retail rates for all Azure "
        "services ... The programmatic API can also help you create your own tools for internal "
        "analysis and price comparison across SKUs and regions.'",
        licence="Microsoft retail prices (USD is authoritative; other currencies for reference)",
    ),
    description="Azure Retail Prices API: GPU VM SKUs, consumption and spot meters",
)
PROVIDER = "azure"
FILTER = "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' and armRegionName eq '{region}'"
DEFAULT_MAX_PAGES = 200
REQUIRED_ITEM_KEYS = ("armSkuName", "retailPrice", "armRegionName")
_REGION_RE = re.compile(r"^[a-z0-9]+$")
_GPU_FAMILY_RE = re.compile(r"^Standard_N(?!P)[A-Z]*\d", re.IGNORECASE)
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GpuSeries:
    """One Azure GPU VM series: ``pattern`` matches the part of ``armSkuName`` after
    ``Standard_`` and captures the size number (vCPUs); ``gpus`` maps that number to the
    GPUs in the VM (a Fraction for a partial GPU)."""

    pattern: str
    gpu_name: str
    gpus: dict[int, int | Fraction]
    doc: str  # Microsoft docs page (learn.microsoft.com/azure/virtual-machines/...)


F = Fraction
# Explicit table: series -> GPU name (as resolve_gpu reads it) and GPUs per size.
AZURE_GPU_SERIES: dict[str, GpuSeries] = {
    # current generation, whole GPUs
    "ND_H100_v5": GpuSeries(r"ND(\d+)isr_H100_v5", "H100 SXM 80GB", {96: 8}, "nd-h100-v5-series"),
    "ND_H200_v5": GpuSeries(r"ND(\d+)isr_H200_v5", "H200 SXM 141GB", {96: 8}, "nd-h200-v5-series"),
    "ND_MI300X_v5": GpuSeries(r"ND(\d+)isr?_MI300X_v5", "MI300X", {96: 8}, "nd-mi300x-v5-series"),
    "ND_GB200_v6": GpuSeries(r"ND(\d+)isr_NDR_GB200_v6", "GB200", {128: 4}, "nd-gb200-v6-series"),
    "NDm_A100_v4": GpuSeries(
        r"ND(\d+)amsr_A100_v4", "A100 SXM 80GB", {96: 8}, "ndm-a100-v4-series"
    ),
    "ND_A100_v4": GpuSeries(r"ND(\d+)asr_v4", "A100 SXM 40GB", {96: 8}, "nda100-v4-series"),
    "NCads_H100_v5": GpuSeries(
        r"NC(\d+)adi?s_H100_v5", "H100 NVL", {40: 1, 80: 2}, "ncads-h100-v5"
    ),
    "NCCads_H100_v5": GpuSeries(r"NCC(\d+)ads_H100_v5", "H100 NVL", {40: 1}, "nccadsh100v5-series"),
    "NC_A100_v4": GpuSeries(
        r"NC(\d+)ads_A100_v4", "A100 PCIe 80GB", {24: 1, 48: 2, 96: 4}, "nc-a100-v4-series"
    ),
    "NCasT4_v3": GpuSeries(r"NC(\d+)as_T4_v3", "T4", {4: 1, 8: 1, 16: 1, 64: 4}, "nct4-v3-series"),
    "NCv3": GpuSeries(r"NC(\d+)r?s_v3", "V100 16GB", {6: 1, 12: 2, 24: 4}, "ncv3-series"),
    "NDv2": GpuSeries(r"ND(\d+)rs_v2", "V100 32GB", {40: 8}, "ndv2-series"),
    "NVv3": GpuSeries(r"NV(\d+)s_v3", "Tesla M60", {12: 1, 24: 2, 48: 4}, "nvv3-series"),
    # partial GPUs (fractions of one GPU): quarantined as bad_gpu_count by normalise_offers
    "NVadsA10_v5": GpuSeries(
        r"NV(\d+)adm?s_A10_v5",
        "A10",
        {6: F(1, 6), 12: F(1, 3), 18: F(1, 2), 36: 1, 72: 2},
        "nva10v5-series",
    ),
    "NVv4": GpuSeries(
        r"NV(\d+)as_v4",
        "Radeon Instinct MI25",
        {4: F(1, 8), 8: F(1, 4), 16: F(1, 2), 32: 1},
        "nvv4-series",
    ),
    "NGads_V620": GpuSeries(
        r"NG(\d+)adm?s_V620_v1",
        "Radeon Pro V620",
        {8: F(1, 4), 16: F(1, 2), 32: 1},
        "ngadsv620-series",
    ),
    "NVads_V710_v5": GpuSeries(
        r"NV(\d+)adm?s_V710_v5",
        "Radeon Pro V710",
        {4: F(1, 6), 8: F(1, 3), 12: F(1, 2), 24: 1, 28: 1},
        "nvadsv710-v5-series",
    ),
    # previous generations (sizes-previous-gen); still listed in some regions
    "NC": GpuSeries(r"NC(\d+)r?", "Tesla K80", {6: 1, 12: 2, 24: 4}, "nc-series-retirement"),
    "NCv2": GpuSeries(r"NC(\d+)r?s_v2", "Tesla P100", {6: 1, 12: 2, 24: 4}, "ncv2-series"),
    "ND": GpuSeries(r"ND(\d+)r?s", "Tesla P40", {6: 1, 12: 2, 24: 4}, "nd-series"),
    "NV": GpuSeries(r"NV(\d+)", "Tesla M60", {6: 1, 12: 2, 24: 4}, "nv-series"),
    "NVv2": GpuSeries(r"NV(\d+)s_v2", "Tesla M60", {6: 1, 12: 2, 24: 4}, "nvv2-series"),
}
_COMPILED_SERIES = [
    (key, s, re.compile(rf"^Standard_{s.pattern}$", re.IGNORECASE))
    for key, s in AZURE_GPU_SERIES.items()
]


def gpu_for_sku(arm_sku: str) -> tuple[str, float | None] | None:
    """``(gpu name, GPUs in the VM)`` for an ``armSkuName``; the count is None for a size the
    table does not list, a float (0.1667) for a partial GPU. None for a non-GPU SKU. An
    N-series SKU in no table entry returns ``(arm_sku, None)`` so it is quarantined."""
    for _key, series, rx in _COMPILED_SERIES:
        m = rx.match(arm_sku)
        if m:
            count = series.gpus.get(int(m.group(1)))
            if count is None:
                return series.gpu_name, None
            return series.gpu_name, (int(count) if count == int(count) else round(float(count), 4))
    if _GPU_FAMILY_RE.match(arm_sku):
        return arm_sku, None
    return None


def region_filter(region: str) -> str:
    return FILTER.format(region=region)


def _next_link(content: bytes) -> str | None:
    try:
        doc = json.loads(content)
    except ValueError:
        return None  # parse() will quarantine the page
    if not isinstance(doc, dict):
        return None
    return doc.get("NextPageLink") or None


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """Every configured region's price pages, following NextPageLink up to max_pages."""
    base = source_cfg["base_url"]
    max_pages = int(source_cfg.get("max_pages") or DEFAULT_MAX_PAGES)
    base_host = urlsplit(base).hostname
    out: list[Payload | FetchFailure] = []
    for region in source_cfg.get("regions", []):
        if not _REGION_RE.match(str(region)):
            out.append(
                FetchFailure(f"{region}_page001.json", base, f"invalid region name {region!r}")
            )
            continue
        url = requests.Request("GET", base, params={"$filter": region_filter(region)}).prepare().url
        page = 1
        while True:
            name = f"{region}_page{page:03d}.json"
            try:
                resp = client.get(url)
            except FetchError as exc:
                out.append(FetchFailure(name, url, str(exc)))
                break
            out.append(
                Payload(
                    name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
                )
            )
            link = _next_link(resp.content)
            if not link:
                break
            nxt = f"{region}_page{page + 1:03d}.json"
            if urlsplit(link).hostname != base_host:
                out.append(
                    FetchFailure(nxt, link, f"NextPageLink leaves {base_host}: not followed")
                )
                break
            if page >= max_pages:
                out.append(
                    FetchFailure(
                        nxt, link, f"max_pages={max_pages} reached: rest of {region} not fetched"
                    )
                )
                break
            url, page = link, page + 1
    return out


def _not_offered(item: dict[str, Any]) -> str | None:
    """Why a GPU item is not an offer this source loads (Windows licence, low priority, a
    reservation, a unit other than the hour); None when it is one."""
    sku_name = str(item.get("skuName") or "")
    meter = str(item.get("meterName") or "")
    if "windows" in str(item.get("productName") or "").lower():
        return "windows"
    if "low priority" in f"{sku_name} {meter}".lower():
        return "low_priority"
    if str(item.get("type") or "Consumption") != "Consumption":
        return f"type {item.get('type')}"
    if str(item.get("unitOfMeasure") or "1 Hour") != "1 Hour":
        return f"unit {item.get('unitOfMeasure')}"
    return None


def _items(name: str, content: bytes) -> list[Any]:
    """The page's ``Items``; ParseError when the payload is no Retail Prices page."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if not isinstance(doc, dict) or "Items" not in doc:
        keys = sorted(doc)[:10] if isinstance(doc, dict) else type(doc).__name__
        raise ParseError(f"{name}: not a Retail Prices page (no 'Items'; {keys})")
    items = doc["Items"]
    if not isinstance(items, list):
        raise ParseError(f"{name}: 'Items' is {type(items).__name__}, not a list")
    return items


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate GPU offers from one Retail Prices page."""
    records: list[dict[str, Any]] = []
    seen: set[tuple] = set()
    skipped: dict[str, int] = {}
    for i, item in enumerate(_items(name, content)):
        if not isinstance(item, dict) or any(k not in item for k in REQUIRED_ITEM_KEYS):
            raise ParseError(f"{name}: item {i} lacks {REQUIRED_ITEM_KEYS}: {str(item)[:200]}")
        arm_sku = str(item.get("armSkuName") or "")
        gpu = gpu_for_sku(arm_sku)
        if gpu is None:
            continue  # CPU VM (or FPGA): not a GPU offer
        reason = _not_offered(item)
        if reason:
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        pricing = "spot" if "spot" in str(item.get("skuName") or "").lower() else "on_demand"
        gpu_name, count = gpu
        region = str(item.get("armRegionName") or "")
        price = item.get("retailPrice")
        key = (arm_sku, region, pricing, price)
        if key in seen:
            continue
        seen.add(key)
        records.append(
            {
                "provider": PROVIDER,
                "upstream_source": None,
                "gpu_name": gpu_name,
                "gpu_hint": "",
                "gpu_count": count,
                "instance_type": arm_sku,
                "region": region,
                "pricing": pricing,
                "price": price,
                "price_basis": "per_instance",
                "currency": str(item.get("currencyCode") or "USD"),
            }
        )
    if skipped:
        log.debug("%s: GPU items not offered: %s", name, skipped)
    return records
