"""Scaleway GPU Instances: list prices in EUR per server-hour from the Instance products API.

Live: for each zone in ``[sources.scaleway] zones`` (default ``fr-par-1``, ``fr-par-2``,
``nl-ams-1``, ``pl-waw-2``)::

    GET <base_url>/<zone>/products/servers?per_page=100&page=N

(``base_url`` = ``https://api.scaleway.com/instance/v1/zones``), archived as
``<zone>_servers.json`` (``<zone>_servers_p2.json`` ... for further pages, followed while the
``X-Total-Count`` header says more types exist, up to ``max_pages``; a zone cut off by
``max_pages`` is a FetchFailure, never a silent truncation). Whether this catalogue endpoint
answers without a key could not be established from the clients we could read (SkyPilot's
Scaleway catalog script builds an authenticated client; a TypeScript loader reads the same
``servers`` map); if ``SCW_SECRET_KEY`` is set it is sent as ``X-Auth-Token`` (never logged).

Response shape (the Scaleway SDK's ``ListServersTypesResponse``)::

    {"servers": {"H100-1-80G": {"hourly_price": 2.73, "monthly_price": 1992.9, "ncpus": 24,
                                "ram": 257698037760, "gpu": 1, "arch": "x86_64",
                                "gpu_info": {"gpu_manufacturer": "NVIDIA", "gpu_name": "H100",
                                             "gpu_memory": 85899345920}, ...}, ...}}

Parsing rules:

* one ``on_demand`` offer per commercial type with ``gpu`` >= 1 (``gpu`` 0 or absent: a CPU
  type, not an offer); ``gpu_name`` = ``gpu_info.gpu_name`` (the commercial type when
  ``gpu_info`` is missing, so a GPU type Scaleway describes no further is quarantined as
  ``unknown_gpu`` rather than dropped), ``gpu_hint`` = the commercial type (``H100-SXM-8-80G``
  says SXM), ``gpu_memory_gb`` = ``gpu_info.gpu_memory`` in bytes / 2**30;
* ``hourly_price`` is the price of the whole server: ``price_basis`` ``per_instance``,
  ``gpu_count`` = ``gpu``, ``currency`` **EUR**. A missing or non-numeric price is passed on
  as it is, so ``normalise_offers`` quarantines it (``missing_price``/``ambiguous_number``);
* region = the zone from the payload name.

Currency: the offer stays EUR here (``parse`` is pure). ``normalise_offers`` converts it with
the ECB reference rate archived for the same date (``ecb_fx``; see that module for the
design), keeping ``price_original`` in EUR and ``currency`` ``EUR`` beside the USD per-GPU
price; with no rate for that date the offer is quarantined, never converted with a guess.

Whether ``hourly_price`` includes VAT is not stated in the API; the Scaleway console and
pricing page quote instance prices excluding VAT, and the figures are read as such.

A payload without a ``servers`` object, or one whose server entries are not objects, raises
``ParseError``. ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from pipelines.lib.config import secret
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "scaleway"
PROVIDER = "scaleway"
CURRENCY = "EUR"
DEFAULT_BASE_URL = "https://api.scaleway.com/instance/v1/zones"
DEFAULT_ZONES = ["fr-par-1", "fr-par-2", "nl-ams-1", "pl-waw-2"]
PER_PAGE = 100
DEFAULT_MAX_PAGES = 5
_GIB = 2**30
_NAME = re.compile(r"^([a-z]{2}-[a-z]{3}-\d)_servers(?:_p\d+)?\.json$")

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    # off by default: the parser has only seen a hand-written fixture (gpu_tracker.toml says why)
    defaults={
        "enabled": False,
        "base_url": DEFAULT_BASE_URL,
        "zones": list(DEFAULT_ZONES),
        "max_pages": DEFAULT_MAX_PAGES,
    },
    secrets=("SCW_SECRET_KEY",),
    terms=Terms(
        url="https://www.scaleway.com/en/contracts/",
        verdict="unknown",
        checked="2026-12-01",
        quote="Scaleway's general terms of services and its website terms could not be retrieved "
        "from the copies available to us; no clause on automated queries of the Instance "
        "products catalogue or on reuse of its list prices could be established.",
        licence="proprietary; prices as published by Scaleway",
    ),
    description="Scaleway GPU Instances: EUR list price per server-hour, converted with ECB rates",
)

log = logging.getLogger(__name__)


def payload_name(zone: str, page: int = 1) -> str:
    return f"{zone}_servers.json" if page == 1 else f"{zone}_servers_p{page}.json"


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """GET every zone's server types (paged); a failing page is a FetchFailure, the other
    zones still load."""
    base = str(source_cfg["base_url"]).rstrip("/")
    zones = [str(z) for z in source_cfg.get("zones") or DEFAULT_ZONES]
    max_pages = int(source_cfg.get("max_pages") or DEFAULT_MAX_PAGES)
    headers = {"Accept": "application/json"}
    key = secret("SCW_SECRET_KEY")
    if key:
        headers["X-Auth-Token"] = key
    out: list[Payload | FetchFailure] = []
    for zone in zones:
        for page in range(1, max_pages + 1):
            name = payload_name(zone, page)
            url = f"{base}/{zone}/products/servers?per_page={PER_PAGE}&page={page}"
            try:
                resp = client.get(url, headers=headers)
            except FetchError as exc:
                out.append(FetchFailure(name, url, str(exc)))
                break
            out.append(
                Payload(
                    name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
                )
            )
            total = {k.lower(): v for k, v in resp.headers.items()}.get("x-total-count", "")
            if not total.isdigit() or int(total) <= page * PER_PAGE:
                break
            if page == max_pages:
                out.append(
                    FetchFailure(
                        payload_name(zone, page + 1),
                        url,
                        f"X-Total-Count {total} needs more than max_pages "
                        f"{max_pages} pages of {PER_PAGE}",
                    )
                )
    return out


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """One zone's ``servers`` map -> candidate EUR offers (see the module docstring)."""
    try:
        doc = json.loads(content)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON: {exc}") from None
    servers = doc.get("servers") if isinstance(doc, dict) else None
    if not isinstance(servers, dict):
        raise ParseError(f"{name}: no 'servers' object: not a Scaleway products/servers answer")
    match = _NAME.match(name)
    region = match.group(1) if match else None
    records: list[dict[str, Any]] = []
    for commercial_type, server in servers.items():
        if not isinstance(server, dict):
            raise ParseError(
                f"{name}: server type {commercial_type!r} is {type(server).__name__}, not an object"
            )
        gpus = server.get("gpu")
        if not gpus or isinstance(gpus, bool):
            continue  # a CPU type
        info = server.get("gpu_info") if isinstance(server.get("gpu_info"), dict) else {}
        memory = info.get("gpu_memory")
        memory_gb = (
            round(memory / _GIB, 1)
            if isinstance(memory, (int, float)) and not isinstance(memory, bool) and memory > 0
            else None
        )
        records.append(
            {
                "provider": PROVIDER,
                "gpu_name": str(info.get("gpu_name") or commercial_type),
                "gpu_hint": str(commercial_type),
                "gpu_memory_gb": memory_gb,
                "gpu_count": gpus,
                "instance_type": str(commercial_type),
                "region": region,
                "pricing": "on_demand",
                "price": server.get("hourly_price"),
                "price_basis": "per_instance",
                "currency": CURRENCY,
            }
        )
    log.info("%s %s: %d GPU server types of %d", SOURCE_ID, name, len(records), len(servers))
    return records
