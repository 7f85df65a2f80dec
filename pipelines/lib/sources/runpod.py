"""RunPod GPU prices and stock from the public GraphQL API (``gpuTypes { lowestPrice }``).

Live: ``POST <base_url>`` (``https://api.runpod.io/graphql``) with one GraphQL query per
cloud and GPU count in ``[sources.runpod] gpu_counts`` (default ``[1]``)::

    gpuTypes { id displayName memoryInGb secureCloud communityCloud
               lowestPrice(input: {gpuCount: 1, secureCloud: true|false}) {
                 uninterruptablePrice minimumBidPrice stockStatus availableGpuCounts } }

Archived as ``gpu_types_secure.json`` / ``gpu_types_community.json`` (``..._<n>gpu.json``
for a GPU count n > 1). No key is needed (gpuhunt and cherielilili send none); if
``RUNPOD_API_KEY`` is set in the environment it is sent as a Bearer token, never logged.
Secure and community are fetched apart because they are different markets: RunPod's
secure cloud is a neocloud, its community cloud a marketplace (DOMAIN.md) -- ``segment``
carries that to ``providers.provider_tier``.

Each GPU type becomes (``gpu_name`` = displayName, ``gpu_hint`` = id, ``gpu_memory_gb`` =
memoryInGb, ``price_basis`` per_gpu -- RunPod quotes every pod price per GPU-hour):

* an ``on_demand`` offer at ``uninterruptablePrice``;
* a ``spot`` offer at ``minimumBidPrice`` when it is > 0 (the interruptible bid floor).

Quirks handled:

1. ``stockStatus`` is ``High``/``Medium``/``Low``, or null = out of stock (``lowestPrice``
   itself may be null). Out of stock is recorded as ``stock_status = "out_of_stock"`` with
   ``available_gpus = 0``, and such a type is kept only if it still carries a price
   (RunPod answers null/0 prices for types with nothing to rent: not an offer).
2. An in-stock type with a null price is *kept* with ``price None`` -> ``normalise_offers``
   quarantines it as ``missing_price`` (never dropped silently); a 0 price likewise
   becomes ``non_positive_price``.
3. A GPU type whose ``secureCloud``/``communityCloud`` flag is false for the queried cloud is
   not sold there: not an offer (like CPU rows in the SkyPilot catalogs).
4. ``availableGpuCounts`` lists the pod sizes that can be rented now (``[1, 2, ..., 8]``):
   ``available_gpus`` = its max (the largest pod one can get), not its sum.
5. A GraphQL answer with ``errors`` and no ``data`` is a ``ParseError`` (the whole payload
   is quarantined); ``errors`` beside usable data are logged and the data parsed.

Recorded capture (``gpuport/collectors @ 0cb9709 : fixtures/runpod_sample.json``, in
shared/data/provider_payloads/runpod): a JSON *list* of that collector's normalized offers,
each with ``raw_data = {gpu_type{id,displayName,memoryInGb}, pricing{stockStatus,
uninterruptablePrice,minimumBidPrice,availableGpuCounts}, datacenter}``. ``parse`` detects
the shape and yields the same records, ``region`` = datacenter. Its fields are read from
``raw_data`` only: the collector's own ``quantity`` is ``sum(availableGpuCounts)``
(``[1..8]`` -> 36), not a GPU count, and its ``spot_price`` turns a null bid into 0.0.

Segment of the capture: **community** (constant ``CAPTURE_SEGMENT``). Reasoning: the
collector queried ``lowestPrice(input: {dataCenterId, gpuCount: 1})`` with *no*
``secureCloud`` flag (its ``collectors/runpod.py``), so each price is the lowest over both
clouds in that datacenter -- which is the community price wherever community stock exists,
since community is never dearer. The data agree: of the 18 GPU types the capture shares
with RunPod's community price list (as curated on 2026-05-24 in shared/data/price_history/
tardellirs_gpu_pricing -- later than the capture), 16 carry exactly the community price
(B200 5.98 vs 5.89 and RTX PRO 6000 Server 1.70 vs 1.69 differ by cents), and every model
priced differently in secure cloud sits at the community price (H100 SXM 2.69 vs secure
3.29, H100 PCIe 1.99 vs 2.39, A100 SXM 1.39 vs 1.49, H200 3.59 vs 4.39, RTX 4090 0.34 vs
0.69). cherielilili's GraphQL log likewise records flagless queries as segment ``any``
(H100 SXM 2.69) beside ``secure`` (2.99). The per-datacenter ids make the capture *look*
like secure cloud, but labelling these prices secure would put community prices into the
neocloud tier. ``upstream_source`` records the ambiguity. Capture rows were pre-filtered
by the collector to non-null ``stockStatus``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pipelines.lib.config import secret
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.offers import parse_price_text
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "runpod"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=("runpod",),
    defaults={"enabled": True, "base_url": "https://api.runpod.io/graphql", "gpu_counts": [1]},
    secrets=("RUNPOD_API_KEY",),
    terms=Terms(
        url="https://www.runpod.io/legal/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote="RunPod's Terms of Use (last updated 2026-03-24) govern 'access to and use of the "
        "runpod.io website and its subdomains'; no clause on automated queries of the public "
        "GraphQL price fields, or on reuse of published prices, could be established from the "
        "copies available to us.",
        licence="proprietary; prices as published by RunPod",
    ),
    description="RunPod GPU types: secure/community on-demand and spot prices, stock status",
)
PROVIDER = "runpod"
SEGMENTS = ("secure", "community")
CAPTURE_SEGMENT = "community"  # see module docstring
CAPTURE_UPSTREAM = (
    "gpuport/collectors capture: lowestPrice per dataCenterId, no secureCloud filter "
    "(lowest of secure and community)"
)
OUT_OF_STOCK = "out_of_stock"
_NAME_RE = re.compile(r"^gpu_types_(secure|community)(?:_(\d+)gpu)?\.json$")
log = logging.getLogger(__name__)

GPU_TYPES_QUERY = """query GpuTypes {
  gpuTypes {
    id
    displayName
    memoryInGb
    secureCloud
    communityCloud
    lowestPrice(input: {gpuCount: %(gpu_count)d, secureCloud: %(secure)s}) {
      uninterruptablePrice
      minimumBidPrice
      stockStatus
      availableGpuCounts
    }
  }
}"""


def payload_name(segment: str, gpu_count: int = 1) -> str:
    """Archive name of one query's answer: ``gpu_types_<segment>[_<n>gpu].json``."""
    return (
        f"gpu_types_{segment}.json"
        if gpu_count == 1
        else f"gpu_types_{segment}_{gpu_count}gpu.json"
    )


def build_query(segment: str, gpu_count: int = 1) -> str:
    """The GraphQL query for one cloud (``secure``/``community``) and pod size."""
    if segment not in SEGMENTS:
        raise ValueError(f"segment {segment!r} not in {SEGMENTS}")
    return GPU_TYPES_QUERY % {
        "gpu_count": int(gpu_count),
        "secure": "true" if segment == "secure" else "false",
    }


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """POST the gpuTypes query once per cloud and GPU count. A query that fails becomes a
    FetchFailure entry; the other payloads still load."""
    url = source_cfg["base_url"]
    counts = [int(c) for c in source_cfg.get("gpu_counts") or [1]]
    headers = {"Content-Type": "application/json"}
    key = secret("RUNPOD_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    out: list[Payload | FetchFailure] = []
    for gpu_count in counts:
        for segment in SEGMENTS:
            name = payload_name(segment, gpu_count)
            body = {"query": build_query(segment, gpu_count), "variables": {}}
            try:
                resp = client.post(url, json=body, headers=headers)
            except FetchError as exc:
                out.append(FetchFailure(name, url, str(exc)))
                continue
            out.append(
                Payload(
                    name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
                )
            )
    return out


def _num(value: Any) -> float | None:
    """A GraphQL number as float; text is read strictly (``parse_price_text``: "1_0" is not 10,
    "2,49" not 249) and text that is no clear number is None -- the caller then passes the raw
    value on, for normalise_offers to quarantine with its reason."""
    if value is None or isinstance(value, bool):
        return None
    try:
        return parse_price_text(value) if isinstance(value, str) else float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _max_count(counts: Any) -> int | None:
    if isinstance(counts, list):
        nums = [int(c) for c in counts if isinstance(c, (int, float)) and not isinstance(c, bool)]
        return max(nums) if nums else 0
    return None


def _records_for(
    gpu: dict[str, Any],
    pricing: dict[str, Any] | None,
    *,
    segment: str,
    gpu_count: int,
    region: str,
    upstream: str,
) -> list[dict[str, Any]]:
    """Candidate records for one GPU type's ``lowestPrice`` answer (see the quirks above)."""
    pricing = pricing or {}
    status = pricing.get("stockStatus")
    on_demand = pricing.get("uninterruptablePrice")
    bid = _num(pricing.get("minimumBidPrice"))
    od_num = _num(on_demand)
    if status:
        stock, available = str(status), _max_count(pricing.get("availableGpuCounts"))
    else:
        if not ((od_num and od_num > 0) or (bid and bid > 0)):
            return []  # out of stock and no price: nothing offered
        stock, available = OUT_OF_STOCK, 0
    base = {
        "provider": PROVIDER,
        "segment": segment,
        "upstream_source": upstream,
        "gpu_name": str(gpu.get("displayName") or gpu.get("id") or ""),
        "gpu_hint": str(gpu.get("id") or ""),
        "gpu_memory_gb": gpu.get("memoryInGb"),
        "gpu_count": gpu_count,
        "instance_type": str(gpu.get("id") or ""),
        "region": region,
        "price_basis": "per_gpu",
        "currency": "USD",
        "stock_status": stock,
        "available_gpus": available,
    }
    records = []
    if status or (od_num and od_num > 0):
        # an unparseable price is kept as-is: normalise_offers quarantines it
        price = od_num if od_num is not None else on_demand
        records.append({**base, "pricing": "on_demand", "price": price})
    if bid and bid > 0:
        records.append({**base, "pricing": "spot", "price": bid})
    return records


def _parse_graphql(name: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    m = _NAME_RE.match(name.rsplit("/", 1)[-1])
    if not m:
        raise ParseError(
            f"{name}: cannot tell secure/community cloud from the payload name "
            "(expected gpu_types_<secure|community>[_<n>gpu].json)"
        )
    segment, gpu_count = m.group(1), int(m.group(2) or 1)
    data = doc.get("data")
    errors = doc.get("errors")
    if not isinstance(data, dict) or data.get("gpuTypes") is None:
        if errors:
            raise ParseError(f"{name}: GraphQL errors and no data: {json.dumps(errors)[:500]}")
        raise ParseError(f"{name}: not a RunPod gpuTypes answer (keys {sorted(doc)[:10]})")
    if errors:
        log.warning("%s: GraphQL errors beside data: %s", name, json.dumps(errors)[:500])
    gpu_types = data["gpuTypes"]
    if not isinstance(gpu_types, list):
        raise ParseError(f"{name}: data.gpuTypes is {type(gpu_types).__name__}, not a list")
    flag = "secureCloud" if segment == "secure" else "communityCloud"
    records: list[dict[str, Any]] = []
    for gpu in gpu_types:
        if not isinstance(gpu, dict) or "id" not in gpu:
            raise ParseError(f"{name}: gpuTypes entry without id: {str(gpu)[:200]}")
        if gpu.get(flag) is False:
            continue  # this GPU type is not sold in this cloud
        pricing = gpu.get("lowestPrice")
        if pricing is not None and not isinstance(pricing, dict):
            raise ParseError(f"{name}: lowestPrice of {gpu['id']!r} is not an object")
        records.extend(
            _records_for(
                gpu,
                pricing,
                segment=segment,
                gpu_count=gpu_count,
                region="global",
                upstream=f"runpod graphql lowestPrice ({segment})",
            )
        )
    return records


def _parse_capture(name: str, rows: list[Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for i, row in enumerate(rows):
        raw = row.get("raw_data") if isinstance(row, dict) else None
        if (
            not isinstance(raw, dict)
            or not isinstance(raw.get("gpu_type"), dict)
            or not isinstance(raw.get("pricing"), dict)
        ):
            raise ParseError(f"{name}: item {i} lacks raw_data.gpu_type / raw_data.pricing")
        count = _num(row.get("accelerator_count")) or 1
        records.extend(
            _records_for(
                raw["gpu_type"],
                raw["pricing"],
                segment=CAPTURE_SEGMENT,
                gpu_count=int(count) if count == int(count) else count,
                region=str(raw.get("datacenter") or row.get("region") or ""),
                upstream=CAPTURE_UPSTREAM,
            )
        )
    return records


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate offers from one RunPod payload: a GraphQL ``gpuTypes`` answer, or the
    recorded gpuport capture (a JSON list with ``raw_data``)."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if isinstance(doc, dict):
        return _parse_graphql(name, doc)
    if isinstance(doc, list) and doc and isinstance(doc[0], dict) and "raw_data" in doc[0]:
        return _parse_capture(name, doc)
    raise ParseError(
        f"{name}: neither a GraphQL answer nor a gpuport capture ({type(doc).__name__})"
    )
