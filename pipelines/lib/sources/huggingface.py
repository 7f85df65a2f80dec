"""Hugging Face Hub: the newest text-generation models with their parameter counts.

Live: ``GET <base_url>/api/models`` (``base_url`` default ``https://huggingface.co``) with::

    pipeline_tag=text-generation & sort=createdAt & direction=-1 & limit=100
    & expand=author & expand=createdAt & expand=downloads & expand=likes
    & expand=pipeline_tag & expand=library_name & expand=safetensors

-- the newest models first. ``pipeline_tag``, ``sort`` and ``limit`` come from
``[sources.huggingface]`` (defaults above; ``pipeline_tag = ""`` lists every task). Why
``expand`` and not ``full=true``: the default and ``full`` field sets carry no
``safetensors`` block, the only place the list endpoint gives parameter counts; asking for
``expand`` returns exactly the listed fields (plus ``id``/``_id``), and the Hub client
(huggingface_hub 0.26 ``list_models``) refuses to mix ``expand`` with ``full``. ``expand`` is
sent repeated, the way huggingface_hub and @huggingface/hub send it.

Pagination: cursor-based, in the ``Link: <...&cursor=...>; rel="next"`` response header
(GitHub style; the server caps the page size, so ``next`` is always followed). Pages are
archived as ``models_page001.json``, ``models_page002.json`` ... up to ``max_pages``
(default 3). The listing is endless (millions of models, newest first), so stopping at
``max_pages`` is the configured window, not a truncation: it is logged, not a failure. A
``next`` link to another host is not followed (FetchFailure). A page that fails becomes a
FetchFailure and ends the run's paging. An empty page after the first (end of the listing)
is not archived.

Reading the ``Link`` header needs the response headers: ``fetch`` reads them from the
client's response object (``resp.headers``, any mapping). A client whose response carries no
headers cannot page: if page 1 is full (``limit`` items) that is reported as a
FetchFailure instead of silently stopping.

Auth: none needed. If ``HF_TOKEN`` is set in the environment it is sent as
``Authorization: Bearer ...`` (raises rate limits; never logged). Unauthenticated clients
get HTTP 429 past the Hub's per-IP limits: the polite client backs off and retries.

``parse`` -> ``{"raw.model_catalog": frame}``, one row per item of the JSON list:

* ``model_id`` = ``id`` (``modelId`` when ``id`` is absent), ``model_name`` = its part after
  ``/`` (the Hub has no display name); ``organization`` = slug of ``author``, else of the id's
  owner prefix (``MiniMaxAI/MiniMax-M2`` -> ``minimaxai``);
* ``created_at`` = ``createdAt`` (ISO-8601 Z) as UTC;
* ``parameters`` = ``safetensors.total``, else the sum of ``safetensors.parameters``
  (per-dtype counts). Null when the item has no safetensors block (the default field set,
  GGUF-only or pickle repos) -- not a problem. Caveats (README): ``total`` counts every
  stored tensor element (DeepSeek-V3: 684.5B incl. MTP heads, marketed 671B) and packed
  tensors for quantized repos. ``active_parameters`` stays null: the API never gives it.
* ``pipeline_tag``, ``downloads``, ``likes``; ``context_length`` null (not in the list).

Problem rows: ``missing_id`` (no/blank id), ``malformed_entry`` (not an object),
``unparseable_created``, ``unparseable_number`` (a parameter/download/like count that is not
a number). Not JSON, an error object (``{"error": ...}``, named in the message), a non-list,
an empty list or a list with no element carrying an id raises ``ParseError``.

The parser is tested on the real two-item list response in shared/data/model_releases/
hf_api_excerpt (default field set, ~2025-11-05) and on items in the expanded shape.
``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode, urlsplit

import polars as pl
import requests

from pipelines.lib.config import secret
from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.model_keys import organization_slug
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "huggingface"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("huggingface",),
    defaults={"enabled": True, "base_url": "https://huggingface.co", "max_pages": 3},
    raw_tables=("raw.model_catalog",),
    secrets=("HF_TOKEN",),
    terms=Terms(
        url="https://huggingface.co/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote="The Hub's model listing is a documented public API; what Hugging Face's terms say "
        "about automated listing and reuse of model metadata could not be established from the "
        "copies available to us. Each model's own licence applies to its card, not to these fields.",
        licence="unknown (per-model licences on the Hub)",
    ),
    description="Hugging Face Hub: newest text-generation models with safetensors parameter counts",
)
TABLE = "raw.model_catalog"
DEFAULT_BASE_URL = "https://huggingface.co"
DEFAULT_MAX_PAGES = 3
DEFAULT_LIMIT = 100
DEFAULT_PIPELINE_TAG = "text-generation"
DEFAULT_SORT = "createdAt"
EXPAND = (
    "author",
    "createdAt",
    "downloads",
    "likes",
    "pipeline_tag",
    "library_name",
    "safetensors",
)
log = logging.getLogger(__name__)


def page_name(page: int) -> str:
    return f"models_page{page:03d}.json"


def list_url(source_cfg: dict[str, Any]) -> str:
    """The first page's URL for ``source_cfg``."""
    base = (source_cfg.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    tag = source_cfg.get("pipeline_tag", DEFAULT_PIPELINE_TAG)
    params: list[tuple[str, Any]] = []
    if tag:
        params.append(("pipeline_tag", tag))
    params += [
        ("sort", source_cfg.get("sort") or DEFAULT_SORT),
        ("direction", -1),
        ("limit", int(source_cfg.get("limit") or DEFAULT_LIMIT)),
    ]
    params += [("expand", field) for field in EXPAND]
    return f"{base}/api/models?{urlencode(params)}"


def _header(headers: Any, name: str) -> str | None:
    if not isinstance(headers, Mapping):
        return None
    for key, value in headers.items():
        if str(key).lower() == name.lower():
            return str(value)
    return None


def next_link(headers: Any) -> str | None:
    """The ``rel="next"`` URL of a ``Link`` header, or None."""
    link = _header(headers, "Link")
    if not link:
        return None
    for entry in requests.utils.parse_header_links(link):
        if "next" in str(entry.get("rel", "")).split() and entry.get("url"):
            return entry["url"]
    return None


def _item_count(content: bytes) -> int | None:
    try:
        doc = json.loads(content)
    except ValueError:
        return None  # parse() will reject the page
    return len(doc) if isinstance(doc, list) else None


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """The newest models, page by page along the ``Link`` header, up to ``max_pages``."""
    url = list_url(source_cfg)
    max_pages = int(source_cfg.get("max_pages") or DEFAULT_MAX_PAGES)
    limit = int(source_cfg.get("limit") or DEFAULT_LIMIT)
    host = urlsplit(url).hostname
    headers = {"Accept": "application/json"}
    token = secret("HF_TOKEN")
    if token:
        headers["Authorization"] = f"Bearer {token}"
    out: list[Payload | FetchFailure] = []
    page = 1
    while True:
        name = page_name(page)
        try:
            resp = client.get(url, headers=headers)
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            break
        count = _item_count(resp.content)
        if page > 1 and count == 0:
            break  # end of the listing: nothing to archive
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
        resp_headers = getattr(resp, "headers", None)
        link = next_link(resp_headers)
        if not link:
            if resp_headers is None and count is not None and count >= limit:
                out.append(
                    FetchFailure(
                        page_name(page + 1),
                        url,
                        (
                            "the HTTP client exposes no response headers, so the Link-header cursor "
                            "cannot be followed; only page 1 fetched"
                        ),
                    )
                )
            break
        if urlsplit(link).hostname != host:
            out.append(
                FetchFailure(page_name(page + 1), link, f"next link leaves {host}: not followed")
            )
            break
        if page >= max_pages:
            log.info("huggingface: max_pages=%d reached; newer pages only (by design)", max_pages)
            break
        url, page = link, page + 1
    return out


# --------------------------------------------------------------------------------- parse


def _load(name: str, content: bytes) -> Any:
    try:
        return json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None


def _count(value: Any) -> tuple[float | None, bool]:
    """(number, ok) of a count field; ok is False for a present non-number."""
    if value is None:
        return None, True
    if isinstance(value, bool) or (isinstance(value, str) and "_" in value):  # float("1_0") is 10
        return None, False
    try:
        num = float(value)
    except (TypeError, ValueError):
        return None, False
    return (num, True) if math.isfinite(num) and num >= 0 else (None, False)


def _parameters(safetensors: Any) -> tuple[float | None, bool]:
    if safetensors is None:
        return None, True
    if not isinstance(safetensors, dict):
        return None, False
    if safetensors.get("total") is not None:
        return _count(safetensors["total"])
    per_dtype = safetensors.get("parameters")
    if per_dtype is None:
        return None, True
    if not isinstance(per_dtype, dict):
        return None, False
    total = 0.0
    for value in per_dtype.values():
        num, ok = _count(value)
        if not ok or num is None:
            return None, False
        total += num
    return (total if per_dtype else None), True


def _created(value: Any) -> tuple[dt.datetime | None, bool]:
    if value is None or value == "":
        return None, True
    try:
        when = dt.datetime.fromisoformat(str(value).strip())
    except ValueError:
        return None, False
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.astimezone(dt.UTC), True


def _row(name: str, item: Any) -> dict[str, Any]:
    if not isinstance(item, dict):
        return {"payload_name": name, "problem": "malformed_entry"}
    raw_id = item.get("id") if item.get("id") is not None else item.get("modelId")
    model_id = str(raw_id).strip() if raw_id is not None else ""
    owner = model_id.split("/", 1)[0] if "/" in model_id else ""
    author = item.get("author")
    organization = organization_slug(str(author) if author else owner) or None
    created_at, created_ok = _created(item.get("createdAt"))
    parameters, params_ok = _parameters(item.get("safetensors"))
    downloads, downloads_ok = _count(item.get("downloads"))
    likes, likes_ok = _count(item.get("likes"))
    tag = item.get("pipeline_tag")
    problem = None
    if not model_id:
        problem = "missing_id"
    elif not created_ok:
        problem = "unparseable_created"
    elif not (params_ok and downloads_ok and likes_ok):
        problem = "unparseable_number"
    return {
        "model_id": model_id or None,
        "model_name": model_id.rsplit("/", 1)[-1] if model_id else None,
        "organization": organization,
        "created_at": created_at,
        "parameters": parameters,
        "pipeline_tag": None if tag is None else str(tag),
        "downloads": None if downloads is None else int(downloads),
        "likes": None if likes is None else int(likes),
        "payload_name": name,
        "problem": problem,
    }


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.model_catalog`` rows from one ``/api/models`` list page."""
    doc = _load(name, content)
    if isinstance(doc, dict):
        hint = f" (error: {json.dumps(doc['error'])[:300]})" if "error" in doc else ""
        raise ParseError(
            f"{name}: expected a JSON list of models, got an object (keys {sorted(doc)[:10]}){hint}"
        )
    if not isinstance(doc, list):
        raise ParseError(f"{name}: expected a JSON list of models, got {type(doc).__name__}")
    if not doc:
        raise ParseError(f"{name}: empty model list")
    if not any(isinstance(m, dict) and ("id" in m or "modelId" in m) for m in doc):
        raise ParseError(
            f"{name}: no element looks like a Hub model (id); first is {str(doc[0])[:200]}"
        )
    rows = [_row(name, item) for item in doc]
    bad = sum(1 for r in rows if r["problem"])
    if bad:
        log.info("%s: %d of %d models carry a problem", name, bad, len(rows))
    return {TABLE: conform(TABLE, pl.from_dicts(rows, schema=parsed_columns(TABLE)))}
