"""LiteLLM's community price map (``model_prices_and_context_window.json``) as API prices.

Live: ``GET <base_url>`` (``https://raw.githubusercontent.com/BerriAI/litellm/main/
model_prices_and_context_window.json``), archived as ``model_prices.json``. No auth, no
pagination: one JSON object of about 3 MB (late 2026), served by GitHub's CDN. An HTTP
error becomes a ``FetchFailure`` entry. The recorded history (shared/data/api_prices/litellm:
the copy shipped in each LiteLLM wheel, 2023-11 ... 2026; tokencost's copies for 2024) has
the same layout and parses with the same function; a gzip-compressed body is decompressed
first, so those ``.json.gz`` files parse as they are.

Layout: one object ``{model key: spec}``. Keys are bare API ids (``gpt-4o``) or behind
provider routing prefixes (``azure/gpt-4o``, ``bedrock/us-east-1/...``, ``openrouter/openai/
gpt-4o``), so one model appears under many keys -- one row each, each the price *of that
route*. Spec fields used: ``litellm_provider``, ``mode``, ``input_cost_per_token``,
``output_cost_per_token`` (**USD per token**, JSON numbers such as ``2.5e-06``; strings are
accepted too), ``max_input_tokens`` / ``max_tokens``.

Rows of ``raw.api_prices`` (see ``pipelines.lib.families``): ``model_id`` = the key as
written, ``model_key`` = ``pipelines.lib.model_keys.model_key(key)``, ``organization`` = the
slug of ``litellm_provider`` (``vertex_ai-language-models`` -> ``vertex-ai-language-models``)
-- the API that serves the route, which for LiteLLM is not always the model's maker
(``bedrock``, ``azure``), ``mode`` as given (chat, completion, embedding, image_generation,
responses, ...; null when absent), prices per 1M tokens = ``Decimal(literal) * 1e6`` exactly:
the JSON is read with ``parse_float=str`` so the literal as written (``"2.5e-06"``) is both
the ``*_price_raw`` and the Decimal's input -- no binary-float detour. ``context_length`` =
``max_input_tokens``; only for legacy-layout entries that have neither ``max_input_tokens``
nor ``max_output_tokens`` (all of 1.0.0 / 1.14.0) is ``max_tokens`` the context window --
in later layouts ``max_tokens`` is the *output* limit ("LEGACY ... set to
max_output_tokens", sample_spec says), so it is not used there.

Entries deliberately not turned into rows:

* ``sample_spec`` (from 1.53.1 on): LiteLLM's documentation of the fields, not a model --
  its values are descriptions ("one of https://docs.litellm.ai/docs/providers") and
  placeholder zero prices, which would load as a free model called "sample_spec". It is
  skipped by name (the only skip; it is logged at debug level).

Every other entry becomes a row; the ones that are not a per-token price carry a
``problem`` and land in ``raw.quarantine`` with that reason (nothing is dropped silently):

* ``no_token_price``: no ``input_cost_per_token`` -- models priced per image, per second of
  audio/video, per character, per query, per provisioned-throughput hour (``bedrock/*/
  1-month-commitment/...``), or tiered-only (``dashscope/qwen-flash``), or with no price at
  all. ~475 of 2,754 entries in 1.88.0. A token-price table has no number to give them.
* ``partial_token_price``: an input price but no output price, outside ``embedding`` /
  ``rerank`` / ``moderation(s)`` (those only bill input; their output is null, no problem),
  e.g. ``azure/gpt-image-1`` whose output is billed per image.
* ``pricing_tier``: price buckets by model size, not models (``together-ai-up-to-4b``,
  ``fireworks-ai-16.1b-to-80b``, ``fireworks-ai-default`` at 0.0): recognised by a key without
  ``/`` ending in ``-up-to-<n>b``, ``-above-<n>b``, ``-<n>b-[to-]<n>b`` (or ``m``) or ``-default``.
* ``not_a_model``: an object with no provider, no mode and no token price -- e.g.
  ``fallback_generalizations`` (1.95.0), LiteLLM's routing rules for unmapped ids.
* ``unparseable_price`` / ``negative_price``; ``malformed_entry`` for a value that is not an
  object.

Zero prices (local ``ollama/...`` models, free tiers) are real: kept, no problem.

A body that is not JSON, not an object, empty, or with no entry that looks like a price
spec raises ``ParseError``. ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import json
import logging
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import DecompressionLimitError, FetchError, PoliteClient, bounded_gunzip
from pipelines.lib.model_keys import model_key, organization_slug
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "litellm_prices"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("litellm",),
    defaults={
        "enabled": True,
        "base_url": "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json",
    },
    raw_tables=("raw.api_prices",),
    terms=Terms(
        url="https://github.com/BerriAI/litellm/blob/main/LICENSE",
        verdict="permits",
        checked="2026-12-01",
        quote="The price map is part of the LiteLLM repository, MIT licence ('Permission is hereby "
        "granted, free of charge, ... to deal in the Software without restriction'), except the "
        "enterprise/ directory, which the tracker does not read.",
        licence="MIT",
    ),
    description="LiteLLM's model price map (USD per token, per provider route)",
)
PAYLOAD_NAME = "model_prices.json"
DEFAULT_BASE_URL = (
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json"
)
PRICES = "raw.api_prices"
SKIPPED_KEYS = frozenset({"sample_spec"})  # documentation entry, see the module docstring
INPUT_ONLY_MODES = frozenset({"embedding", "rerank", "moderation", "moderations"})
_TIER = re.compile(r"(?:-(?:up-to|above)-[\d.]+[bm]|-[\d.]+[bm]-(?:to-)?[\d.]+[bm]|-default)$")
_SPEC_FIELDS = ("litellm_provider", "mode", "input_cost_per_token", "output_cost_per_token")
_MTOK = Decimal(1_000_000)
log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the price map; a failure becomes a FetchFailure entry."""
    url = source_cfg.get("base_url") or DEFAULT_BASE_URL
    try:
        resp = client.get(url, headers={"Accept": "application/json"})
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


def _load(name: str, content: bytes) -> dict[str, Any]:
    if content[:2] == b"\x1f\x8b":
        try:
            content = bounded_gunzip(content)  # capped like a transfer: no decompression bomb
        except DecompressionLimitError as exc:
            raise ParseError(f"{name}: {exc}") from None
        except (OSError, EOFError) as exc:
            raise ParseError(f"{name}: broken gzip ({exc})") from None
    try:
        # parse_float=str: keep every float literal exactly as written (see the docstring)
        doc = json.loads(content.decode("utf-8-sig"), parse_float=str)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if not isinstance(doc, dict):
        raise ParseError(f"{name}: expected an object of model specs, got {type(doc).__name__}")
    if not any(
        isinstance(v, dict) and any(f in v for f in _SPEC_FIELDS)
        for k, v in doc.items()
        if k not in SKIPPED_KEYS
    ):
        raise ParseError(
            f"{name}: no entry looks like a LiteLLM price spec (keys {sorted(doc)[:10]})"
        )
    return doc


def _decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON literal (str via parse_float, int) or string; else None."""
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


def _context(spec: dict[str, Any]) -> int | None:
    if spec.get("max_input_tokens") is not None:
        return _int(spec["max_input_tokens"])
    if "max_output_tokens" not in spec:
        return _int(spec.get("max_tokens"))
    return None


def _row(name: str, key: str, spec: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "model_id": key,
        "model_key": model_key(key) or None,
        "payload_name": name,
    }
    if not isinstance(spec, dict):
        return {**base, "problem": "malformed_entry"}
    mode = spec.get("mode") if isinstance(spec.get("mode"), str) else None
    row: dict[str, Any] = {
        **base,
        "organization": organization_slug(spec.get("litellm_provider")) or None,
        "mode": mode,
        "context_length": _context(spec),
    }
    problem = None
    present = 0
    for side in ("input", "output"):
        raw = spec.get(f"{side}_cost_per_token")
        if raw is None:
            continue
        present += 1
        row[f"{side}_price_raw"] = str(raw)
        dec = _decimal(raw)
        if dec is None:
            problem = problem or "unparseable_price"
            continue
        row[f"{side}_usd_per_mtok"] = float(dec * _MTOK)
        if dec < 0:
            problem = problem or "negative_price"
    if "/" not in key and _TIER.search(key):
        problem = "pricing_tier"
    elif not present and not spec.get("litellm_provider") and not mode:
        problem = "not_a_model"
    elif problem:
        pass
    elif spec.get("input_cost_per_token") is None:
        problem = "no_token_price"
    elif spec.get("output_cost_per_token") is None and mode not in INPUT_ONLY_MODES:
        problem = "partial_token_price"
    row["problem"] = problem
    return row


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.api_prices`` rows, one per entry of the price map but ``sample_spec``."""
    doc = _load(name, content)
    rows = []
    for key, spec in doc.items():
        if key in SKIPPED_KEYS:
            log.debug("%s: skipping LiteLLM's documentation entry %r", name, key)
            continue
        rows.append(_row(name, str(key), spec))
    frame = conform(PRICES, pl.from_dicts(rows, schema=parsed_columns(PRICES)))
    problems = frame.filter(pl.col("problem").is_not_null()).group_by("problem").len()
    if problems.height:
        log.info(
            "%s: %d entries, problem rows by reason: %s",
            name,
            frame.height,
            dict(problems.sort("problem").iter_rows()),
        )
    return {PRICES: frame}
