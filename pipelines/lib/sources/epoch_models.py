"""Epoch AI "Notable AI Models": parameters, training compute and dataset size per model.

Live: ``GET <base_url>`` (default ``https://epoch.ai/data/notable_ai_models.csv``), archived
as ``notable_ai_models.csv``. One CSV (~2 MB, ~1,000 rows, 46 columns), rebuilt whenever
Epoch updates it; no auth, no pagination, no published rate limit. An HTTP error becomes a
``FetchFailure``. Licence CC BY 4.0 -- credit "Data: Epoch AI, 'Data on Notable AI Models',
epoch.ai". (The CSV's URL pattern comes from repositories quoting it, see
shared/data/model_releases/README.md.)

``parse`` -> ``{"raw.model_catalog": frame}``, one row per CSV record:

* ``model_id`` = ``model_name`` = ``Model`` stripped (older exports call it ``System``);
  ``organization`` = slug of the **first** organisation listed (``Organization`` is a
  comma-separated list for ~30% of rows: ``Google,Google DeepMind`` -> ``google``; null
  when blank -- 18 pre-2000 rows);
* ``publication_date`` = ``Publication date`` (ISO date);
* ``parameters`` = ``Parameters``; ``training_compute_flop`` = ``Training compute (FLOP)``;
  ``training_tokens`` = ``Training dataset size (gradients)`` -- or, in exports that name it
  so, ``(datapoints)``/``(total)``/bare; for language models Epoch counts it in tokens;
* ``active_parameters`` from the free text of ``Parameters notes`` (there is no
  active-parameter column), see below.

Quirks handled (seen in the 2026-01-26 export):

1. Numbers are float strings (``102000000000.0``, ``1.52e+24``): read with ``float``.
   A value that is not one number -- three dataset sizes read ``2260275840,2290000001`` --
   gives the row problem ``unparseable_number`` (that field null, the row kept).
2. Cells hold embedded newlines (``"Solar Open 100B\\n"``, multi-line notes): read with the
   ``csv`` module, never line by line; names are stripped.
3. Columns are matched by name, never by position; renames are tolerated
   (``COLUMN_ALIASES``). Without a model-name, ``Organization``, ``Publication date`` or
   ``Parameters`` column the file is not recognised: ``ParseError`` (also for an HTML page,
   an empty body, or a header with no records).
4. Problem rows: ``missing_id`` (blank name), ``unparseable_date``, ``unparseable_number``.

**Active parameters** -- only where the note clearly states one count as active:

* ``<N><unit> [parameters|params] active`` -- "12B active", "32B parameters active per
  forward pass", "94B active/398B total", "288 billion active parameter model";
* ``active param(eter)s [:|-] <N><unit>`` -- "Active parameters: 10B", "active parameters -
  47B".

``<unit>`` is K/M/B/T or thousand/million/billion/trillion (a bare number is not taken). Not
taken: ranges ("10B-30B", "10 to 30B"), hedged figures ("around/about/~/roughly/up to 10B"),
shares ("25% of the weights active"), notes naming two different active counts, and counts
larger than the row's total parameters. In the 2026-01-26 export 21 notes mention "active";
17 yield a count (Solar Open 100B 12B, Kimi K2 32B, Llama 4 Maverick 17B, DBRX 36B ...); the
other four are o1-mini/o3-mini (a 10-30B range guess), Grok-1 (25% of weights) and a 1986
network's "active unit".

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import math
import re
from typing import Any

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.model_keys import organization_slug
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "epoch_models"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("epoch",),
    defaults={"enabled": True, "base_url": "https://epoch.ai/data/notable_ai_models.csv"},
    raw_tables=("raw.model_catalog",),
    terms=Terms(
        url="https://epoch.ai/data/notable-ai-models-documentation",
        verdict="permits",
        checked="2026-12-01",
        quote="Licence CC BY 4.0, Epoch AI: credit it as \"Data: Epoch AI, 'Data on Notable AI "
        "Models', epoch.ai\"; the CSV is published for download, 'updated daily'.",
        licence="CC-BY-4.0",
    ),
    description="Epoch AI notable models: parameters, training compute, publication dates",
)
TABLE = "raw.model_catalog"
PAYLOAD_NAME = "notable_ai_models.csv"
DEFAULT_BASE_URL = "https://epoch.ai/data/notable_ai_models.csv"
log = logging.getLogger(__name__)

# canonical field -> accepted header names, first match wins (Epoch renames between exports)
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "model": ("Model", "System"),
    "organization": ("Organization", "Organisation", "Organization(s)"),
    "publication_date": ("Publication date",),
    "parameters": ("Parameters",),
    "parameters_notes": ("Parameters notes",),
    "training_compute_flop": ("Training compute (FLOP)",),
    "training_tokens": (
        "Training dataset size (gradients)",
        "Training dataset size (datapoints)",
        "Training dataset size (total)",
        "Training dataset size",
    ),
}
REQUIRED = ("model", "organization", "publication_date", "parameters")

_SCALE = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "million": 1e6,
    "b": 1e9,
    "billion": 1e9,
    "t": 1e12,
    "trillion": 1e12,
}
# a count with a unit; not the tail of a range/word ("10B-30B", "v2.5B")
_NUM = (
    r"(?<![\w.\-\u2013])(?P<num>\d+(?:\.\d+)?)\s*"
    r"(?P<unit>(?i:thousand|million|billion|trillion)|[KMBT])(?!\w)"
)
_ACTIVE_AFTER = re.compile(_NUM + r"\s*(?:(?i:param(?:eter)?s?)\s+)?(?i:active)\b")
_ACTIVE_BEFORE = re.compile(
    r"(?i:\bactive\s+param(?:eter)?s?)\s*(?:[:=\-\u2013]\s*)?"
    + _NUM
    + r"(?!\s*(?:[-\u2013]|to\b)\s*\d)"
)
_HEDGE_BEFORE = re.compile(
    r"(?i:(?:\bto|\bor|\baround|\babout|\bapprox(?:imately|\.)?|\broughly"
    r"|\bup\s+to|~|[-\u2013]))\s*$"
)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the CSV; a failure becomes a FetchFailure entry."""
    url = source_cfg.get("base_url") or DEFAULT_BASE_URL
    try:
        resp = client.get(url, headers={"Accept": "text/csv, */*;q=0.1"})
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


def active_parameters(notes: str | None) -> float | None:
    """The active-parameter count a ``Parameters notes`` text clearly states, else None."""
    if not notes:
        return None
    found: set[float] = set()
    for rx in (_ACTIVE_AFTER, _ACTIVE_BEFORE):
        for m in rx.finditer(notes):
            if rx is _ACTIVE_AFTER and _HEDGE_BEFORE.search(notes[: m.start("num")]):
                continue
            found.add(float(m.group("num")) * _SCALE[m.group("unit").lower()])
    return found.pop() if len(found) == 1 else None


def _number(text: str | None) -> tuple[float | None, bool]:
    """(value, ok): blank -> (None, True); not one finite number -> (None, False)."""
    if text is None or not text.strip():
        return None, True
    if "_" in text:  # float() reads "1_0" as 10: a number is not guessed (issue #10)
        return None, False
    try:
        value = float(text.strip())
    except ValueError:
        return None, False
    return (value, True) if math.isfinite(value) else (None, False)


def _date(text: str | None) -> tuple[dt.date | None, bool]:
    if text is None or not text.strip():
        return None, True
    try:
        return dt.date.fromisoformat(text.strip()), True
    except ValueError:
        return None, False


def _columns(name: str, header: list[str]) -> dict[str, str]:
    stripped = {h.strip(): h for h in header}
    cols: dict[str, str] = {}
    for field, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if alias in stripped:
                cols[field] = stripped[alias]
                break
    missing = [COLUMN_ALIASES[f][0] for f in REQUIRED if f not in cols]
    if missing:
        raise ParseError(
            f"{name}: not an Epoch models CSV: no column(s) {missing} "
            f"(header starts {[h[:40] for h in header[:8]]})"
        )
    return cols


def _row(name: str, rec: dict[str, str], cols: dict[str, str]) -> dict[str, Any]:
    def get(field: str) -> str | None:
        return rec.get(cols[field]) if field in cols else None

    model = (get("model") or "").strip()
    org_text = next((o for o in (get("organization") or "").split(",") if o.strip()), "")
    pub, pub_ok = _date(get("publication_date"))
    numbers = {
        f: _number(get(f)) for f in ("parameters", "training_compute_flop", "training_tokens")
    }
    params = numbers["parameters"][0]
    active = active_parameters(get("parameters_notes"))
    if active is not None and params is not None and active > params:
        log.info("%s: %r active %.3g > total %.3g: active not taken", name, model, active, params)
        active = None
    problem = None
    if not model:
        problem = "missing_id"
    elif not pub_ok:
        problem = "unparseable_date"
    elif not all(ok for _v, ok in numbers.values()):
        problem = "unparseable_number"
    return {
        "model_id": model or None,
        "model_name": model or None,
        "organization": organization_slug(org_text) or None,
        "publication_date": pub,
        "parameters": params,
        "active_parameters": active,
        "training_compute_flop": numbers["training_compute_flop"][0],
        "training_tokens": numbers["training_tokens"][0],
        "payload_name": name,
        "problem": problem,
    }


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.model_catalog`` rows from one Epoch notable-models CSV."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 text ({exc})") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ParseError(f"{name}: empty file") from None
    except csv.Error as exc:
        raise ParseError(f"{name}: not CSV ({exc})") from None
    cols = _columns(name, header)
    rows: list[dict[str, Any]] = []
    try:
        for values in reader:
            if not any(v.strip() for v in values):
                continue  # blank line
            rows.append(_row(name, dict(zip(header, values, strict=False)), cols))
    except csv.Error as exc:
        raise ParseError(f"{name}: broken CSV near record {len(rows) + 1} ({exc})") from None
    if not rows:
        raise ParseError(f"{name}: header only, no records")
    bad = sum(1 for r in rows if r["problem"])
    if bad:
        log.info("%s: %d of %d rows carry a problem", name, bad, len(rows))
    return {TABLE: conform(TABLE, pl.from_dicts(rows, schema=parsed_columns(TABLE)))}
