"""SEC EDGAR XBRL "company facts": the income-statement facts behind NVIDIA's gross margin.

Live: for each CIK in ``[sources.sec_edgar] ciks`` (default ``["0001045810"]``, NVIDIA)::

    GET <base_url>/api/xbrl/companyfacts/CIK<10-digit CIK>.json

(``base_url`` default ``https://data.sec.gov``), archived as ``companyfacts_<CIK10>.json``
(ARCHITECTURE.md: NVIDIA is ``companyfacts_0001045810.json``). One response holds every XBRL
fact the filer ever reported (about 5 MB for NVIDIA); there is no pagination and no key.

**User-Agent.** SEC's fair-access policy requires a declared User-Agent naming the requester
with a contact e-mail (``"market-tracker admin@example.org"``); requests without one get
HTTP 403. It is read from ``[sources.sec_edgar] user_agent`` or, if that is unset, the
environment variable ``SEC_EDGAR_USER_AGENT``, and sent per request in place of the client's
generic User-Agent. When neither is set -- or the value holds no ``@`` -- no request is made:
every CIK becomes a ``FetchFailure`` that says how to configure it. No placeholder contact is
ever invented. SEC allows at most 10 requests/s; the polite client's per-host interval keeps
far below that. Responses may be gzip-encoded in transit (requests decodes that); a body that
is itself gzip (a stored ``.json.gz``) is decompressed by ``parse``. An HTTP error (404 for
an unknown CIK, 403 for a refused User-Agent) becomes a ``FetchFailure``.

Layout: ``{cik, entityName, facts: {"dei": {...}, "us-gaap": {Tag: {label, description,
units: {"USD": [fact, ...]}}}}}`` with fact ``{start?, end, val, accn, fy, fp, form, filed,
frame?}``.

``parse`` -> ``{"raw.sec_facts": frame}`` (columns: ``families.SEC_FACTS_SCHEMA``), one row
per fact of the us-gaap concepts in ``CONCEPTS`` -- ``Revenues``,
``RevenueFromContractWithCustomerExcludingAssessedTax``, ``CostOfRevenue`` and
``GrossProfit`` -- in unit ``USD``. **Only these are kept** (decision): they are all the
gross-margin indicator (``pipelines.lib.financials``) needs, and keeping every concept would
load ~20k rows a day of balance-sheet and per-share facts nobody reads. Add a concept to
``CONCEPTS`` to load it. Facts of these concepts in other units are skipped (logged).

Rows are kept as SEC gives them -- the same period repeats once per filing that reports it,
and ``fy``/``fp`` describe the *filing*, not the period (a Q1 FY2026 figure reappears with
``fy 2027, fp Q1`` as the prior-year comparative of the FY2027 Q1 10-Q). Deduplication and
fiscal-period labelling are ``financials.quarterly_financials``'s job.

Problem rows (kept, quarantined by ingest): ``malformed_entry`` (a fact that is not an
object), ``missing_period_end``, ``missing_period_start`` (these concepts are durations: an
instant fact is malformed), ``unparseable_date``, ``missing_value``, ``unparseable_number``.

A body that is not JSON, not a companyfacts object (no ``facts``; SEC's error bodies are
named in the message), without a ``us-gaap`` block, or with no USD fact of ``CONCEPTS`` raises
``ParseError`` -- for a filer reporting under IFRS that is a configuration error, not "zero
rows, success". ``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
from typing import Any

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import DecompressionLimitError, FetchError, PoliteClient, bounded_gunzip
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "sec_edgar"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("sec",),
    # Off until a contact User-Agent is configured: SEC answers 403 without one, so an enabled
    # default would make the first `gpu-tracker run` on every fresh install fail.
    defaults={"enabled": False, "base_url": "https://data.sec.gov", "ciks": ["0001045810"]},
    raw_tables=("raw.sec_facts",),
    secrets=("SEC_EDGAR_USER_AGENT",),
    terms=Terms(
        url="https://www.sec.gov/os/accessing-edgar-data",
        verdict="permits",
        checked="2026-12-01",
        quote="EDGAR data is public US-government data; the fair-access policy asks automated clients "
        "to declare a User-Agent with a contact and limits each user to 'no more than 10 "
        "requests per second'.",
        licence="public domain (US government data)",
    ),
    description="NVIDIA companyfacts from SEC EDGAR XBRL (revenue, cost of revenue, gross profit)",
)
TABLE = "raw.sec_facts"
DEFAULT_BASE_URL = "https://data.sec.gov"
DEFAULT_CIKS = ("0001045810",)  # NVIDIA CORP
USER_AGENT_ENV = "SEC_EDGAR_USER_AGENT"
TAXONOMY = "us-gaap"
UNIT = "USD"
CONCEPTS = (
    "Revenues",
    "RevenueFromContractWithCustomerExcludingAssessedTax",
    "CostOfRevenue",
    "GrossProfit",
)
_NAME_RE = re.compile(r"companyfacts_(\d{10})\.json")
log = logging.getLogger(__name__)


def normalise_cik(cik: Any) -> str:
    """``"0001045810"`` from ``1045810``, ``"1045810"``, ``"CIK0001045810"``; ValueError
    for anything that is not 1-10 digits."""
    text = str(cik).strip().upper().removeprefix("CIK")
    if not re.fullmatch(r"\d{1,10}", text):
        raise ValueError(f"invalid CIK {cik!r}: expected up to 10 digits")
    return text.zfill(10)


def payload_name(cik10: str) -> str:
    return f"companyfacts_{cik10}.json"


def companyfacts_url(base_url: str, cik10: str) -> str:
    return f"{base_url.rstrip('/')}/api/xbrl/companyfacts/CIK{cik10}.json"


def user_agent(source_cfg: dict[str, Any]) -> str | None:
    """The declared SEC User-Agent: config ``user_agent``, else ``SEC_EDGAR_USER_AGENT``."""
    value = (
        str(source_cfg.get("user_agent") or "").strip()
        or os.environ.get(USER_AGENT_ENV, "").strip()
    )
    return value or None


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One companyfacts GET per configured CIK; each failure is its own FetchFailure."""
    base = source_cfg.get("base_url") or DEFAULT_BASE_URL
    ciks = source_cfg.get("ciks") or list(DEFAULT_CIKS)
    agent = user_agent(source_cfg)
    out: list[Payload | FetchFailure] = []
    for raw_cik in ciks:
        try:
            cik10 = normalise_cik(raw_cik)
        except ValueError as exc:
            out.append(FetchFailure(f"companyfacts_{raw_cik}.json", base, str(exc)))
            continue
        name, url = payload_name(cik10), companyfacts_url(base, cik10)
        if agent is None or "@" not in agent:
            out.append(
                FetchFailure(
                    name,
                    url,
                    (
                        "SEC EDGAR requires a User-Agent with a contact e-mail (e.g. "
                        "'market-tracker admin@example.org'): set [sources.sec_edgar] user_agent or "
                        f"the {USER_AGENT_ENV} environment variable"
                        + ("" if agent is None else " (the configured value has no e-mail address)")
                        + "; not fetched"
                    ),
                )
            )
            continue
        try:
            resp = client.get(url, headers={"User-Agent": agent, "Accept": "application/json"})
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            continue
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
    return out


# --------------------------------------------------------------------------------- parse


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


def _date(value: Any) -> tuple[dt.date | None, bool]:
    """(date, ok): ok is False for a present but unparseable value."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None, True
    try:
        return dt.date.fromisoformat(str(value).strip()), True
    except ValueError:
        return None, False


def _number(value: Any) -> tuple[float | None, str | None]:
    if value is None:
        return None, "missing_value"
    if isinstance(value, bool) or (isinstance(value, str) and "_" in value):  # float("1_0") is 10
        return None, "unparseable_number"
    try:
        num = float(value)
    except (TypeError, ValueError):
        return None, "unparseable_number"
    return (num, None) if math.isfinite(num) else (None, "unparseable_number")


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or (isinstance(value, str) and "_" in value):
        return None
    try:
        num = float(value)
    except (TypeError, ValueError):
        return None
    return int(num) if math.isfinite(num) and num == int(num) else None


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def _fact_row(
    name: str,
    cik: str | None,
    entity: str | None,
    concept: str,
    fact: Any,
) -> dict[str, Any]:
    base = {"cik": cik, "entity": entity, "concept": concept, "unit": UNIT, "payload_name": name}
    if not isinstance(fact, dict):
        return {**base, "problem": "malformed_entry"}
    start, start_ok = _date(fact.get("start"))
    end, end_ok = _date(fact.get("end"))
    filed, filed_ok = _date(fact.get("filed"))
    value, value_problem = _number(fact.get("val"))
    if not (start_ok and end_ok and filed_ok):
        problem = "unparseable_date"
    elif end is None:
        problem = "missing_period_end"
    elif start is None:
        problem = "missing_period_start"
    else:
        problem = value_problem
    return {
        **base,
        "fiscal_year": _int(fact.get("fy")),
        "fiscal_period": _text(fact.get("fp")),
        "form": _text(fact.get("form")),
        "period_start": start,
        "period_end": end,
        "value": value,
        "accession": _text(fact.get("accn")),
        "filed": filed,
        "frame": _text(fact.get("frame")),
        "problem": problem,
    }


def _require_companyfacts(name: str, doc: Any) -> None:
    """ParseError unless ``doc`` is a companyfacts object (an SEC error body says why)."""
    if isinstance(doc, dict) and isinstance(doc.get("facts"), dict):
        return
    if isinstance(doc, dict):
        hint = (
            f" (message: {str(doc.get('message') or doc.get('error'))[:300]})"
            if ("message" in doc or "error" in doc)
            else ""
        )
        raise ParseError(f"{name}: not a companyfacts object (keys {sorted(doc)[:10]}){hint}")
    raise ParseError(f"{name}: not a companyfacts object ({type(doc).__name__})")


def _cik(name: str, doc: dict[str, Any]) -> str | None:
    """The document's CIK, else the one in the payload name, else None."""
    cik: str | None
    try:
        cik = normalise_cik(doc["cik"]) if doc.get("cik") is not None else None
    except ValueError:
        cik = None
    if cik is None:
        m = _NAME_RE.search(name)
        cik = m.group(1) if m else None
    return cik


def _concept_facts(name: str, gaap: dict[str, Any], concept: str) -> list[Any]:
    """The ``UNIT`` facts of one concept (facts in other units are logged, not kept)."""
    units = gaap[concept].get("units") if isinstance(gaap[concept], dict) else None
    if not isinstance(units, dict):
        raise ParseError(f"{name}: {TAXONOMY}:{concept} has no 'units' object")
    other = sorted(u for u in units if u != UNIT)
    if other:
        log.info("%s: %s facts in units %s skipped (only %s kept)", name, concept, other, UNIT)
    facts = units.get(UNIT, [])
    if not isinstance(facts, list):
        raise ParseError(f"{name}: {TAXONOMY}:{concept} units.{UNIT} is not a list")
    return facts


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.sec_facts`` rows (USD facts of ``CONCEPTS``) from one companyfacts payload."""
    doc = _load(name, content)
    _require_companyfacts(name, doc)
    cik = _cik(name, doc)
    entity = _text(doc.get("entityName"))
    gaap = doc["facts"].get(TAXONOMY)
    if not isinstance(gaap, dict):
        raise ParseError(f"{name}: no '{TAXONOMY}' facts (taxonomies {sorted(doc['facts'])})")
    present = [c for c in CONCEPTS if c in gaap]
    if not present:
        raise ParseError(f"{name}: none of {CONCEPTS} in {TAXONOMY} ({len(gaap)} concepts)")
    rows: list[dict[str, Any]] = []
    for concept in present:
        facts = _concept_facts(name, gaap, concept)
        rows.extend(_fact_row(name, cik, entity, concept, fact) for fact in facts)
    if not rows:
        raise ParseError(f"{name}: {present} carry no {UNIT} facts")
    bad = sum(1 for r in rows if r["problem"])
    if bad:
        log.info("%s: %d of %d facts carry a problem", name, bad, len(rows))
    return {TABLE: conform(TABLE, pl.from_dicts(rows, schema=parsed_columns(TABLE)))}
