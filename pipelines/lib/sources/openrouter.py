"""OpenRouter's public models list: a model catalog and an API price list in one payload.

Live: ``GET <base_url>`` (``https://openrouter.ai/api/v1/models``), archived as
``models.json``. No pagination: one response holds the whole catalogue (340-370 models,
0.4-0.6 MB in 2026). No key is needed; if ``OPENROUTER_API_KEY`` is set in the environment it
is sent as a Bearer token (OpenRouter accepts one), never logged. An HTTP error becomes a
``FetchFailure`` entry, which ingest records as the source's error.

Payload: ``{"data": [model, ...]}``; the bare list is accepted too (the gptel daily captures
in shared/data are ``jq '.data | sort_by(.id)'`` of it). A gzip-compressed body is
decompressed first, so the shared ``.json.gz`` captures parse as they are. Each model has
``id`` ("vendor/slug[:route]"), ``name``, ``created`` (**unix seconds**: when OpenRouter listed
it), ``context_length``, ``architecture{modality, ...}``, ``pricing{prompt, completion, ...}``
-- **decimal strings in USD per token** -- and more (``canonical_slug``, ``hugging_face_id``,
``top_provider``, ``supported_parameters`` ... not used here).

``parse`` returns two raw tables (see ``pipelines.lib.families``):

* ``raw.model_catalog``: ``model_id`` = id, ``model_name`` = name, ``organization`` = the
  slug of the vendor part of the id (``meta-llama/llama-3.1-8b-instruct`` -> ``meta-llama``,
  ``~anthropic/...`` -> ``anthropic``), ``created_at`` = ``created`` as UTC,
  ``context_length`` (``top_provider.context_length`` when the top level lacks it).
  Parameter counts are null: OpenRouter does not publish them.
* ``raw.api_prices``: ``model_key`` (``pipelines.lib.model_keys``: ``openai/gpt-4o`` and
  ``openai/gpt-4o:extended`` -> ``gpt-4o``), prices per 1M tokens = ``Decimal(prompt) * 1e6``
  exactly ("0.000003" -> 3.0), the strings kept in ``*_price_raw``. ``mode`` is ``chat`` for
  every row: the whole list is what OpenRouter serves through its one chat-completions
  endpoint, and every model there is priced per prompt / completion token -- including the
  few with image or audio output (``text+image->text+image``), whose token prices are still
  chat prices. (LiteLLM's ``mode`` names the API, and for these that API is chat.)

Quirks handled (seen in the real captures, see shared/data/model_releases/README.md):

1. ``"-1"`` prompt/completion prices mark router pseudo-models (``openrouter/auto``,
   ``openrouter/bodybuilder``, ``openrouter/pareto-code``): the price depends on the model
   routed to. Price row: problem ``negative_price`` (kept, quarantined). Catalog row: problem
   ``router_pseudo_model`` -- a router is not a model release. ``openrouter/free`` ("Free
   Models Router", priced "0") is caught by its name: vendor ``openrouter`` and "router" in
   the name. Its *price* row is kept: 0 is what one pays.
2. ``"0"``/``"0"`` prices (``:free`` variants, stealth models, about 28 per day) are real
   prices: kept, no problem.
3. ``~vendor/family-latest`` ids (from 2026-04, e.g. ``~anthropic/claude-sonnet-latest``)
   "always redirect to the latest model in the family": their price rows are kept (a real
   route and price), their catalog rows get problem ``family_alias`` -- not a release.
4. Other problem rows: ``missing_id`` (no/blank id), ``missing_price`` (no pricing or no
   prompt/completion figure), ``unparseable_price`` (not a decimal number),
   ``implausible_created`` (``created`` not a unix-seconds time in 2000-2099, e.g.
   milliseconds), ``malformed_entry`` (an element of the list that is not an object).
5. ``hugging_face_id`` is "" or null when absent (both occur): unused here.

A document that is not JSON, a JSON value that is neither the envelope nor a list, an empty
list, or a list none of whose elements looks like a model (``id`` + ``pricing``) raises
``ParseError``. ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from pipelines.lib.config import secret
from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import DecompressionLimitError, FetchError, PoliteClient, bounded_gunzip
from pipelines.lib.model_keys import model_key, organization_slug
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "openrouter"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("openrouter",),
    defaults={"enabled": True, "base_url": "https://openrouter.ai/api/v1/models"},
    raw_tables=("raw.model_catalog", "raw.api_prices"),
    secrets=("OPENROUTER_API_KEY",),
    terms=Terms(
        url="https://openrouter.ai/terms",
        verdict="unknown",
        checked="2026-12-01",
        quote="The models list is a documented, key-less API endpoint; what OpenRouter's terms say "
        "about republishing its prices in an index could not be established from the copies "
        "available to us.",
        licence="unknown",
    ),
    description="OpenRouter models list: listing date, context, USD per token",
)
PAYLOAD_NAME = "models.json"
DEFAULT_BASE_URL = "https://openrouter.ai/api/v1/models"
CATALOG = "raw.model_catalog"
PRICES = "raw.api_prices"
MODE = "chat"
_MTOK = Decimal(1_000_000)
_CREATED_MIN = 946_684_800  # 2000-01-01T00:00:00Z
_CREATED_MAX = 4_102_444_800  # 2100-01-01T00:00:00Z
log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the models list; a failure becomes a FetchFailure entry."""
    url = source_cfg.get("base_url") or DEFAULT_BASE_URL
    headers = {"Accept": "application/json"}
    key = secret("OPENROUTER_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        resp = client.get(url, headers=headers)
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


def _load(name: str, content: bytes) -> Any:
    if content[:2] == b"\x1f\x8b":
        try:
            content = bounded_gunzip(content)  # capped like a transfer: no decompression bomb
        except DecompressionLimitError as exc:
            raise ParseError(f"{name}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise ParseError(f"{name}: broken gzip ({exc})") from None
    try:
        return json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None


def _models(name: str, doc: Any) -> list[Any]:
    if isinstance(doc, dict):
        if "data" not in doc:
            hint = f" (error: {json.dumps(doc['error'])[:300]})" if "error" in doc else ""
            raise ParseError(f"{name}: object without 'data' (keys {sorted(doc)[:10]}){hint}")
        doc = doc["data"]
    if not isinstance(doc, list):
        raise ParseError(f"{name}: expected a list of models, got {type(doc).__name__}")
    if not doc:
        raise ParseError(f"{name}: empty model list")
    if not any(isinstance(m, dict) and "id" in m and "pricing" in m for m in doc):
        raise ParseError(
            f"{name}: no element looks like an OpenRouter model (id + pricing); "
            f"first is {str(doc[0])[:200]}"
        )
    return doc


def _decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a price string/number; None when it is not one."""
    if value is None or isinstance(value, bool):
        return None
    try:
        dec = Decimal(value.strip()) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        return None
    return dec if dec.is_finite() else None


def _int(value: Any) -> int | None:
    dec = _decimal(value)
    if dec is None or dec != dec.to_integral_value():
        return None
    return int(dec)


def _price_fields(pricing: Any) -> tuple[dict[str, Any], str | None]:
    """Per-1M prices, raw strings and the price problem (if any) of one ``pricing`` object."""
    if not isinstance(pricing, dict):
        return {}, "missing_price"
    out: dict[str, Any] = {}
    problem = None
    for side, field in (("input", "prompt"), ("output", "completion")):
        raw = pricing.get(field)
        out[f"{side}_price_raw"] = None if raw is None else str(raw)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            problem = problem or "missing_price"
            continue
        dec = _decimal(raw)
        if dec is None:
            problem = problem or "unparseable_price"
            continue
        out[f"{side}_usd_per_mtok"] = float(dec * _MTOK)
        if dec < 0:
            problem = problem or "negative_price"
    return out, problem


def _created(value: Any) -> tuple[dt.datetime | None, str | None]:
    if value is None:
        return None, None
    seconds = _decimal(value)
    if seconds is None or not (_CREATED_MIN <= seconds < _CREATED_MAX):
        return None, "implausible_created"
    return dt.datetime.fromtimestamp(float(seconds), tz=dt.UTC), None


def _rows(name: str, model: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """(catalog row, price row) of one element of the list."""
    if not isinstance(model, dict):
        bad = {"payload_name": name, "problem": "malformed_entry"}
        return dict(bad), dict(bad)
    raw_id = model.get("id")
    model_id = str(raw_id).strip() if raw_id is not None else ""
    vendor = model_id.split("/", 1)[0] if "/" in model_id else ""
    organization = organization_slug(vendor) or None
    context = _int(model.get("context_length"))
    if context is None and isinstance(model.get("top_provider"), dict):
        context = _int(model["top_provider"].get("context_length"))
    model_name = model.get("name")
    prices, price_problem = _price_fields(model.get("pricing"))
    created_at, created_problem = _created(model.get("created"))

    catalog_problem = None
    if not model_id:
        catalog_problem = "missing_id"
    elif model_id.startswith("~"):
        catalog_problem = "family_alias"
    elif price_problem == "negative_price" or (
        organization == "openrouter" and "router" in str(model_name or "").lower()
    ):
        catalog_problem = "router_pseudo_model"
    elif created_problem:
        catalog_problem = created_problem
    catalog = {
        "model_id": model_id or None,
        "model_name": None if model_name is None else str(model_name),
        "organization": organization,
        "created_at": created_at,
        "context_length": context,
        "payload_name": name,
        "problem": catalog_problem,
    }
    price = {
        "model_id": model_id or None,
        "model_key": model_key(model_id) or None,
        "organization": organization,
        "mode": MODE,
        **prices,
        "context_length": context,
        "payload_name": name,
        "problem": "missing_id" if not model_id else price_problem,
    }
    return catalog, price


def _frame(table: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    return conform(table, pl.from_dicts(rows, schema=parsed_columns(table)))


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.model_catalog`` and ``raw.api_prices`` rows from one models-list payload."""
    models = _models(name, _load(name, content))
    catalog_rows, price_rows = [], []
    for model in models:
        catalog, price = _rows(name, model)
        catalog_rows.append(catalog)
        price_rows.append(price)
    bad = sum(1 for r in price_rows if r["problem"])
    if bad:
        log.info("%s: %d of %d price rows carry a problem", name, bad, len(price_rows))
    return {CATALOG: _frame(CATALOG, catalog_rows), PRICES: _frame(PRICES, price_rows)}
