"""SkyPilot's public per-cloud price catalogs (schema v8 ``vms.csv``), one payload per cloud.

Live: ``GET <base_url>/<cloud>/vms.csv`` for each cloud in ``[sources.skypilot_catalog]
clouds``; on HTTP 429 the same path under ``fallback_url`` (SkyPilot's S3 mirror). Archived
as ``<cloud>.csv``.

SkyPilot is an aggregator *source*: every GPU row becomes an offer of the real provider
(the cloud; for reseller catalogs such as Prime Intellect, the reseller, with the upstream
cloud in ``upstream_source``). Format quirks handled (see shared/data/skypilot_catalog/README):

1. column order differs per cloud -> columns are read by header name;
2. ``GpuInfo`` comes as a Python-repr dict, JSON with CSV-doubled quotes, JSON with single
   quotes and bare ``null``, lower-cased keys, or a plain GPU name -> ``gpu_info_name``;
3. memory fields are wrong in places -> never used; the GPU table in ``gpus.py`` decides;
4. ``AcceleratorCount`` is ``1``, ``1.0`` or ``'1.0'`` -> parsed as a number;
5. ``SpotPrice`` may be empty, equal to ``Price`` (a placeholder, runpod) or the only price
   (primeintellect ``__SPOT`` rows) -> a spot offer is emitted only for a real spot price;
6. float noise (``0.36979999999999996``) -> rounded in ``offers.normalise_offers``;
7. rows repeated per region/zone -> kept (one offer per region); exact duplicate rows are
   passed on, and ingest loads one copy and quarantines the rest as ``duplicate_row``;
8. vast rows are SkyPilot's group medians, not raw bids -> ``upstream_source`` says so.

Rows with an empty ``AcceleratorName`` are CPU instances and are not offers (not quarantined).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import re
from functools import lru_cache
from typing import Any

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

SOURCE_ID = "skypilot_catalog"
REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
log = logging.getLogger(__name__)

# catalog folder -> provider name (slugged later). Reseller catalogs keep their own name.
CLOUD_PROVIDER = {"do": "digitalocean", "vast": "vastai", "lambda": "lambda", "ibm": "ibm"}
RESELLER_CLOUDS = {"primeintellect", "shadeform"}


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """Download ``vms.csv`` for every configured cloud. A cloud that fails (404: SkyPilot
    does not publish it; 5xx after retries) becomes a FetchFailure entry, not an abort."""
    base = source_cfg["base_url"].rstrip("/")
    fallback = (source_cfg.get("fallback_url") or "").rstrip("/") or None
    out: list[Payload | FetchFailure] = []
    for cloud in source_cfg.get("clouds", []):
        url = f"{base}/{cloud}/vms.csv"
        try:
            resp = client.get(url, fallback_url=f"{fallback}/{cloud}/vms.csv" if fallback else None)
        except FetchError as exc:
            out.append(FetchFailure(f"{cloud}.csv", url, str(exc)))
            continue
        out.append(Payload(f"{cloud}.csv", resp.content, resp.url, resp.status,
                           resp.content_type, resp.fetched_at))
    return out


@lru_cache(maxsize=4096)
def gpu_info_name(raw: str) -> str:
    """The first GPU name inside a ``GpuInfo`` cell, whatever its encoding ('' if none)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if not raw.startswith("{"):
        return raw  # paperspace: a plain name
    obj: Any = None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            # JSON dumped then '"'->"'" : single-quoted strings with bare null/true/false
            fixed = re.sub(r"\bnull\b", "None", raw)
            fixed = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", fixed))
            try:
                obj = ast.literal_eval(fixed)
            except (ValueError, SyntaxError) as exc:
                raise ParseError(f"unreadable GpuInfo {raw[:80]!r}: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseError(f"GpuInfo is not a mapping: {raw[:80]!r}")
    lower = {str(k).lower(): v for k, v in obj.items()}
    gpus = lower.get("gpus") or []
    if not gpus or not isinstance(gpus[0], dict):
        return ""
    first = {str(k).lower(): v for k, v in gpus[0].items()}
    return str(first.get("name") or "")


def _price(value: str | None) -> float | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate offers from one cloud's ``vms.csv`` (``name`` = ``<cloud>.csv``)."""
    cloud = name.rsplit(".", 1)[0]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 text ({exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ParseError(f"{name}: not a SkyPilot vms.csv (missing columns {missing}; header {header[:12]})")
    has_spot = "SpotPrice" in header
    provider = CLOUD_PROVIDER.get(cloud, cloud)
    records: list[dict[str, Any]] = []
    for line_no, row in enumerate(reader, start=2):
        if None in row:  # more cells than header: a broken line
            raise ParseError(f"{name} line {line_no}: {len(header) + len(row[None])} cells for {len(header)} columns")
        accel = (row.get("AcceleratorName") or "").strip()
        if not accel:
            continue  # CPU-only instance type: not a GPU offer
        instance = (row.get("InstanceType") or "").strip()
        info_name = gpu_info_name(row.get("GpuInfo") or "")
        hints = " ".join(x for x in (info_name, instance, row.get("UpstreamCloudId") or "") if x)
        region = (row.get("Region") or "").strip()
        zone = (row.get("AvailabilityZone") or "").strip()
        if zone:
            region = f"{region}/{zone}" if region else zone
        offer_provider, upstream = provider, f"skypilot:{cloud}"
        if cloud in RESELLER_CLOUDS and "__" in instance:
            upstream = f"skypilot:{cloud}:{instance.split('__', 1)[0]}"
        if cloud == "vast":
            upstream = "skypilot:vast (group median, not raw bids)"
        base = {
            "provider": offer_provider,
            "upstream_source": upstream,
            "gpu_name": accel,
            "gpu_hint": hints,
            "gpu_count": row.get("AcceleratorCount"),
            "instance_type": instance,
            "region": region,
            "price_basis": "per_instance",
            "currency": "USD",
            "payload_name": name,
        }
        price = _price(row.get("Price"))
        spot = _price(row.get("SpotPrice")) if has_spot else None
        raw_price = (row.get("Price") or "").strip()
        emitted = False
        if raw_price:
            # a non-numeric price is kept as-is: normalise_offers quarantines it
            records.append({**base, "pricing": "on_demand", "price": price if price is not None else raw_price})
            emitted = True
        if spot is not None and (price is None or abs(spot - price) > 1e-9):
            records.append({**base, "pricing": "spot", "price": spot})
            emitted = True
        if not emitted:
            records.append({**base, "pricing": "on_demand", "price": None})  # -> quarantine: missing_price
    return records
