"""Parse one archived payload of any source family into raw-table rows and quarantine rows.

``pipelines.lib.ingest`` collects the payloads (live or from the archive); this module turns
each one into ``ParsedPayload``: ``{raw table: rows}``, the quarantine rows, and the parser's
notes (what the page holds that is neither an offer nor an error, e.g. Lambda's "Contact
sales" cells). The family decides only how a parser's output becomes rows:

* ``gpu_offers``: ``parse`` returns candidate records (a list, possibly a ``ParsedPage`` with
  ``notes``, or a polars frame); ``normalise_offers`` makes canonical offers or quarantines
  each record with its reason; exact duplicates load once (the copies are quarantined);
* ``market``: ``parse`` returns ``{raw table: frame}``; each frame is conformed to its table's
  schema and rows with a ``problem`` go to quarantine.

A payload that raises (a ``ParseError`` or anything the parser did not foresee) is
quarantined whole as ``unparseable_payload`` and the next payload is parsed; one that parses
to nothing usable is quarantined as ``empty_payload``. Pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import polars as pl

from pipelines.lib import registry
from pipelines.lib.families import conform
from pipelines.lib.offers import (
    QUARANTINE_SCHEMA,
    empty_offers,
    normalise_offers,
    quarantine_payload,
)
from pipelines.lib.redact import redact
from pipelines.lib.sources.base import ParseError

log = logging.getLogger(__name__)

OFFERS_TABLE = "raw.gpu_offers"
NOTES_CHARS = 600  # per payload in raw.load_log: enough to name what was not priced


@dataclass
class ParsedPayload:
    """What one payload became: rows per raw table, quarantine rows, the parser's notes."""

    tables: dict[str, pl.DataFrame] = field(default_factory=dict)
    quarantine: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(schema=QUARANTINE_SCHEMA))
    notes: str = ""

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.tables.values())


def _exception_text(exc: BaseException) -> str:
    """``ExceptionClass: message`` for a failure that is not a ``ParseError`` (module-qualified
    outside builtins: ``_csv.Error`` says more than ``Error``)."""
    cls = type(exc)
    name = (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )
    return f"{name}: {exc}"


def _unparseable(
    source: str, day: dt.date, name: str, exc: Exception, errors: list[str]
) -> pl.DataFrame:
    """Record one payload that could not be parsed: an error line and a quarantine row.

    A ``ParseError`` is the parser saying what it did not find; anything else (``RecursionError``
    on deep nesting, ``ValueError`` on a 5000-digit integer, ``csv.Error``, a polars error) is a
    parser meeting input it did not foresee, and is named by its class so the quarantine says
    what broke. Either way the payload is quarantined whole and the next payload is parsed."""
    detail = redact(str(exc) if isinstance(exc, ParseError) else _exception_text(exc))
    msg = f"{source} {day} {name}: {detail}"
    log.error("parse failed: %s", msg[:2000])
    errors.append(msg[:2000])
    return quarantine_payload(
        source=source,
        day=day,
        payload_name=name,
        reason="unparseable_payload",
        detail=detail[:2000],
    )


def notes_text(name: str, notes: Any) -> str:
    """A parser's ``notes`` (``ParsedPage.notes``: counts and lists of what was not priced) as
    one line for raw.load_log, e.g. ``pricing.html: not_priced=2 (H100 reserved: CONTACT
    SALES; ...)``. Zero counts and empty lists say nothing and are left out."""
    if not isinstance(notes, dict):
        return ""
    parts = []
    for key, value in notes.items():
        if isinstance(value, (list, tuple, set)):
            items = [str(v) for v in value]
            if items:
                parts.append(f"{key}={len(items)} ({'; '.join(items)})")
        elif value not in (None, 0, "", False):
            parts.append(f"{key}={value}")
    if not parts:
        return ""
    text = redact(f"{name}: " + "; ".join(parts))
    return text if len(text) <= NOTES_CHARS else text[: NOTES_CHARS - 3] + "..."


def _split_duplicates(offers: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Exact duplicate offers in one payload (a page that repeats rows) load once; the extra
    copies go to quarantine as ``duplicate_row`` -- counted, never silently dropped."""
    if offers.height < 2:
        return offers, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    first = pl.struct(pl.all().exclude("fetched_at")).is_first_distinct()
    first = offers.select(first).to_series()
    extra = offers.filter(~first)
    if extra.height == 0:
        return offers, pl.DataFrame(schema=QUARANTINE_SCHEMA)
    quarantine = extra.select(
        "date",
        "source",
        "payload_name",
        "provider",
        "gpu_name_raw",
        pl.lit("duplicate_row").alias("reason"),
        pl.lit("exact copy of another offer in the same payload").alias("detail"),
        pl.struct(pl.all().exclude("fetched_at")).struct.json_encode().alias("record"),
    ).cast(QUARANTINE_SCHEMA)
    return offers.filter(first), quarantine


def _offer_records(module: ModuleType, name: str, content: bytes, day: dt.date):
    """The parser's candidate records, each carrying its payload name."""
    # A page that publishes dated prices ("effective October 1") needs the archive date to
    # pick the column in force: such a module sets PARSE_NEEDS_DAY and parse gets ``day=``.
    if getattr(module, "PARSE_NEEDS_DAY", False):
        records = module.parse(name, content, day=day)
    else:
        records = module.parse(name, content)
    if isinstance(records, pl.DataFrame):  # a columnar parser
        return records.with_columns(
            (
                pl.col("payload_name").fill_null(name)
                if "payload_name" in records.columns
                else pl.lit(name)
            ).alias("payload_name")
        )
    for rec in records:
        rec.setdefault("payload_name", name)
    return records


def parse_offer_payload(
    module: ModuleType,
    source: str,
    day: dt.date,
    name: str,
    content: bytes,
    fetched_at: dt.datetime | None,
    fx_rates: dict[str, float] | None = None,
) -> ParsedPayload:
    """Parse and normalise one GPU-offer payload (raises whatever the parser raises)."""
    records = _offer_records(module, name, content, day)
    offers, quarantine = normalise_offers(
        records, source=source, day=day, fetched_at=fetched_at, fx_rates=fx_rates
    )
    offers, duplicates = _split_duplicates(offers)
    if duplicates.height:
        quarantine = pl.concat([quarantine, duplicates])
    if len(records) == 0:
        # A parser that understood the payload but found no offers: surface it.
        quarantine = quarantine_payload(
            source=source,
            day=day,
            payload_name=name,
            reason="empty_payload",
            detail="payload parsed to zero offers",
        )
    notes = notes_text(name, getattr(records, "notes", None))
    return ParsedPayload({OFFERS_TABLE: offers}, quarantine, notes)


def _parse_one(
    module: ModuleType,
    source: str,
    day: dt.date,
    name: str,
    content: bytes,
    fetched_at: dt.datetime | None,
    fx_rates: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Parse and normalise one GPU-offer payload -> (offers, quarantine)."""
    parsed = parse_offer_payload(module, source, day, name, content, fetched_at, fx_rates)
    return parsed.tables[OFFERS_TABLE], parsed.quarantine


def _problem_rows_to_quarantine(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    bad = frame.filter(pl.col("problem").is_not_null())
    if not bad.height:
        return pl.DataFrame(schema=QUARANTINE_SCHEMA)
    id_col = next(c for c in ("model_id", "concept", "currency") if c in bad.columns)
    return bad.select(
        pl.col("date"),
        pl.col("source"),
        pl.col("payload_name"),
        pl.lit("").alias("provider"),
        pl.col(id_col).cast(pl.Utf8).fill_null("").alias("gpu_name_raw"),
        pl.col("problem").alias("reason"),
        pl.lit(f"row of {table}").alias("detail"),
        pl.struct(pl.all().exclude("date", "source", "problem"))
        .struct.json_encode()
        .alias("record"),
    ).cast(QUARANTINE_SCHEMA)


def parse_family_payload(
    module: ModuleType,
    source: str,
    day: dt.date,
    name: str,
    content: bytes,
    fetched_at: dt.datetime | None = None,
    fx_rates: dict[str, float] | None = None,
) -> ParsedPayload:
    """Parse one market payload (model catalog, API prices, SEC facts, benchmarks, FX rates):
    good rows per raw table, problem rows quarantined; raises whatever the parser or the
    conforming raises, before anything of the payload is kept."""
    parsed = module.parse(name, content)
    tables: dict[str, pl.DataFrame] = {}
    problems: list[pl.DataFrame] = []
    for table, frame in parsed.items():
        frame = conform(table, frame).with_columns(pl.col("payload_name").fill_null(name))
        frame = frame.select(pl.lit(day).alias("date"), pl.lit(source).alias("source"), pl.all())
        tables[table] = frame.filter(pl.col("problem").is_null())
        problems.append(_problem_rows_to_quarantine(table, frame))
        log.info(
            "%s %s %s -> %s: %d rows, %d quarantined",
            source,
            day,
            name,
            table,
            tables[table].height,
            problems[-1].height,
        )
    out = ParsedPayload(
        tables, _concat_quarantine(problems), notes_text(name, getattr(parsed, "notes", None))
    )
    if not out.rows:
        empty = quarantine_payload(
            source=source,
            day=day,
            payload_name=name,
            reason="empty_payload",
            detail="payload parsed to zero usable rows",
        )
        out.quarantine = _concat_quarantine([out.quarantine, empty])
    return out


# source kind (registry) -> how one payload of that family is parsed
PARSERS = {registry.GPU_OFFERS: parse_offer_payload, registry.MARKET: parse_family_payload}


def _concat_quarantine(frames: list[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f.height]
    return pl.concat(frames) if frames else pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _concat_tables(parts: dict[str, list[pl.DataFrame]], kind: str) -> dict[str, pl.DataFrame]:
    tables = {t: pl.concat(fs) for t, fs in parts.items()}
    if kind == registry.GPU_OFFERS and OFFERS_TABLE not in tables:
        tables[OFFERS_TABLE] = empty_offers()
    return tables


def parse_payloads(
    kind: str,
    module: ModuleType,
    source: str,
    day: dt.date,
    payloads: list[tuple[str, bytes, dt.datetime | None]],
    fx_rates: dict[str, float] | None = None,
) -> tuple[dict[str, pl.DataFrame], pl.DataFrame, list[str], list[str]]:
    """Parse every payload of (source, day) -> (rows per raw table, quarantine, errors, notes).
    One payload's failure never stops the others."""
    parse = PARSERS[kind]
    parts: dict[str, list[pl.DataFrame]] = {}
    quarantine: list[pl.DataFrame] = []
    errors: list[str] = []
    notes: list[str] = []
    for name, content, fetched_at in payloads:
        try:
            parsed = parse(module, source, day, name, content, fetched_at, fx_rates)
        except Exception as exc:  # noqa: BLE001 -- one payload's failure must not stop the others
            quarantine.append(_unparseable(source, day, name, exc, errors))
            continue
        for table, frame in parsed.tables.items():
            parts.setdefault(table, []).append(frame)
        quarantine.append(parsed.quarantine)
        if parsed.notes:
            notes.append(parsed.notes)
        log.info(
            "%s %s %s: %d rows, %d quarantined",
            source,
            day,
            name,
            parsed.rows,
            parsed.quarantine.height,
        )
    return _concat_tables(parts, kind), _concat_quarantine(quarantine), errors, notes
