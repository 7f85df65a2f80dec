"""Ingest one source for one date: fetch (live) or read (replay), archive, parse, normalise.

This is the single code path behind the Dagster source assets, the CLI and the tests:

    live:    fetch -> write every payload to the raw archive -> parse the archived bytes
    replay:  read <archive>/<source>/<date>/* -> parse

``ingest`` returns the offers, the quarantine rows and what happened; it does not write to
the warehouse (the caller does, under the writer lock). A payload that fails to parse is
quarantined as a whole (reason ``unparseable_payload``) and the others still load; if *no*
payload could be fetched or parsed, ``SourceFailed`` is raised naming source, date and
files.
"""

from __future__ import annotations

import datetime as dt
import importlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import polars as pl

from pipelines.lib import archive, registry
from pipelines.lib.config import Config
from pipelines.lib.families import conform
from pipelines.lib.http import PoliteClient
from pipelines.lib.offers import (
    QUARANTINE_SCHEMA,
    empty_offers,
    normalise_offers,
    quarantine_payload,
)
from pipelines.lib.redact import redact, redact_bytes
from pipelines.lib.sources import ecb_fx
from pipelines.lib.sources.base import ParseError, Payload

log = logging.getLogger(__name__)

# source id -> module under pipelines.lib.sources, derived from the registry: every module
# there that declares a SPEC of kind gpu_offers is a GPU-offer source (the Dagster
# definitions create one asset per entry). Nothing to list here when adding a source.
GPU_SOURCES: dict[str, str] = {
    sid: registry.module_path(sid) for sid in registry.ids(registry.GPU_OFFERS)
}


class SourceFailed(RuntimeError):
    """Nothing usable came from a source for a date. ``result`` (when set) still carries the
    quarantine rows, so the caller can record them before failing."""

    def __init__(self, message: str, result: IngestResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class IngestResult:
    source: str
    day: dt.date
    mode: str  # live | archive
    offers: pl.DataFrame
    quarantine: pl.DataFrame
    payloads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.errors:
            return "partial"
        return "ok" if self.offers.height else "empty"


def source_module(source_id: str) -> ModuleType:
    try:
        return importlib.import_module(GPU_SOURCES[source_id])
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {sorted(GPU_SOURCES)}") from None


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
    # A page that publishes dated prices ("effective October 1") needs the archive date to
    # pick the column in force: such a module sets PARSE_NEEDS_DAY and parse gets ``day=``.
    if getattr(module, "PARSE_NEEDS_DAY", False):
        records = module.parse(name, content, day=day)
    else:
        records = module.parse(name, content)
    if isinstance(records, pl.DataFrame):  # a columnar parser
        records = records.with_columns(
            (
                pl.col("payload_name").fill_null(name)
                if "payload_name" in records.columns
                else pl.lit(name)
            ).alias("payload_name")
        )
    else:
        for rec in records:
            rec.setdefault("payload_name", name)
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
    return offers, quarantine


def _parse_payloads(
    module: ModuleType,
    source: str,
    day: dt.date,
    payloads: list[tuple[str, bytes, dt.datetime | None]],
    fx_rates: dict[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    offers_frames, quarantine_frames, errors = [], [], []
    for name, content, fetched_at in payloads:
        try:
            offers, quarantine = _parse_one(
                module, source, day, name, content, fetched_at, fx_rates
            )
        except Exception as exc:  # noqa: BLE001 -- one payload's failure must not stop the others
            quarantine_frames.append(_unparseable(source, day, name, exc, errors))
            continue
        offers_frames.append(offers)
        quarantine_frames.append(quarantine)
        log.info(
            "%s %s %s: %d offers, %d quarantined",
            source,
            day,
            name,
            offers.height,
            quarantine.height,
        )
    offers = pl.concat(offers_frames) if offers_frames else empty_offers()
    quarantine = (
        pl.concat(quarantine_frames)
        if quarantine_frames
        else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    return offers, quarantine, errors


def _collect_payloads(
    module: ModuleType,
    source: str,
    day: dt.date,
    config: Config,
    from_archive: Path | None,
    client: PoliteClient | None,
) -> tuple[str, list[tuple[str, bytes, dt.datetime | None]], list[str], list[pl.DataFrame]]:
    """Replay ``<archive>/<source>/<day>/*`` or fetch live and archive every payload *before*
    it is parsed. Returns (mode, [(name, bytes, fetched_at)], fetch errors, quarantine rows of
    archive entries refused unread: symlinks, FIFOs, folders). Live payloads are
    scrubbed of secrets first (``pipelines.lib.redact``): the archive and the parser see the
    same bytes, so live and replay agree and no parse error can quote a secret."""
    errors: list[str] = []
    if from_archive is not None:
        stored = archive.read_payloads(Path(from_archive), source, day)
        batch, refused = [], []
        for p in stored:
            if p.refused:  # a symlink, FIFO, folder ...: named and quarantined, never read
                errors.append(f"{source} {day} {p.name}: {p.refused}")
                refused.append(
                    quarantine_payload(
                        source=source,
                        day=day,
                        payload_name=p.name,
                        reason="refused_archive_entry",
                        detail=p.refused,
                    )
                )
                continue
            if p.meta_error:  # the payload is fine; only its fetched_at etc. are unknown
                msg = f"{source} {day} {p.name}: {p.meta_error}; payload used without its metadata"
                log.warning("%s", msg)
                errors.append(msg)
            batch.append((p.name, p.content, p.fetched_at))
        return "archive", batch, errors, refused
    client = client or PoliteClient.from_config(config.http)
    fetched = module.fetch(client, config.source(source), day)
    batch = []
    for item in fetched:
        if not isinstance(item, Payload):  # a per-file fetch failure
            errors.append(redact(f"{source} {day} {item}"))  # a URL may carry a token
            continue
        fetched_at = (
            dt.datetime.fromtimestamp(item.fetched_at, dt.UTC)
            if item.fetched_at
            else dt.datetime.now(dt.UTC)
        )
        content = redact_bytes(item.content)
        archive.write_payload(
            config.archive_dir,
            source,
            day,
            item.name,
            content,
            url=item.url,
            status=item.status,
            fetched_at=fetched_at,
            content_type=item.content_type,
            redacted=content is not item.content,
        )
        batch.append((item.name, content, fetched_at))
    return "live", batch, errors, []


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


def ingest(
    source: str,
    day: dt.date,
    config: Config,
    *,
    from_archive: Path | None = None,
    client: PoliteClient | None = None,
) -> IngestResult:
    """Fetch-or-replay, archive and parse one GPU-offer source for one date."""
    module = source_module(source)
    mode, batch, errors, refused = _collect_payloads(
        module, source, day, config, from_archive, client
    )
    # reference rates of this date, for offers priced in another currency (Scaleway's EUR):
    # the ECB file archived for the same date, in the replay archive or the live one
    fx_rates = ecb_fx.usd_rates_for_day(
        Path(from_archive) if from_archive is not None else config.archive_dir, day
    )
    offers, quarantine, parse_errors = _parse_payloads(module, source, day, batch, fx_rates)
    errors.extend(parse_errors)
    if refused:
        quarantine = pl.concat([*refused, quarantine])
    names = [b[0] for b in batch] + [q["payload_name"][0] for q in refused]
    result = IngestResult(source, day, mode, offers, quarantine, names, errors)
    if offers.height == 0:
        reasons = errors or (
            [f"{r}: {d}" for r, d in quarantine.select("reason", "detail").head(3).iter_rows()]
            if quarantine.height
            else ["no payloads"]
        )
        raise SourceFailed(
            f"{source} {day} ({mode}): no offers loaded; " + "; ".join(reasons[:5]), result
        )
    return result


# ----------------------------------------------------------------------------- market sources
# Sources of the other families (model catalogs, API prices, SEC facts): same fetch, archive
# and replay path; ``parse`` returns {raw table: frame} (see pipelines.lib.families).
MARKET_SOURCES: dict[str, str] = {
    sid: registry.module_path(sid) for sid in registry.ids(registry.MARKET)
}


ALL_SOURCES: list[str] = [*GPU_SOURCES, *MARKET_SOURCES]


@dataclass
class FamilyIngestResult:
    source: str
    day: dt.date
    mode: str
    tables: dict[str, pl.DataFrame]  # raw table -> rows (with date and source)
    quarantine: pl.DataFrame
    payloads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.tables.values())

    @property
    def status(self) -> str:
        if self.errors:
            return "partial"
        return "ok" if self.rows else "empty"


def market_module(source_id: str) -> ModuleType:
    try:
        return importlib.import_module(MARKET_SOURCES[source_id])
    except KeyError:
        raise KeyError(
            f"unknown market source {source_id!r}; known: {sorted(MARKET_SOURCES)}"
        ) from None


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


def _parse_market_one(
    module: ModuleType, source: str, day: dt.date, name: str, content: bytes
) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    """Parse one market payload -> {raw table: (good rows, quarantined problem rows)}; raises
    whatever the parser or the conforming raises, before anything of the payload is kept."""
    out: dict[str, tuple[pl.DataFrame, pl.DataFrame]] = {}
    for table, frame in module.parse(name, content).items():
        frame = conform(table, frame).with_columns(
            pl.col("payload_name").fill_null(name),
        )
        frame = frame.select(pl.lit(day).alias("date"), pl.lit(source).alias("source"), pl.all())
        out[table] = (
            frame.filter(pl.col("problem").is_null()),
            _problem_rows_to_quarantine(table, frame),
        )
    return out


def ingest_market(
    source: str,
    day: dt.date,
    config: Config,
    *,
    from_archive: Path | None = None,
    client: PoliteClient | None = None,
) -> FamilyIngestResult:
    """Fetch-or-replay, archive and parse one market source for one date. Problem rows go to
    quarantine; a payload that does not parse is quarantined whole; no rows at all raises
    ``SourceFailed``."""
    module = market_module(source)
    mode, batch, errors, refused = _collect_payloads(
        module, source, day, config, from_archive, client
    )
    parts: dict[str, list[pl.DataFrame]] = {}
    quarantine_frames: list[pl.DataFrame] = list(refused)
    for name, content, _fetched_at in batch:
        try:
            parsed = _parse_market_one(module, source, day, name, content)
        except Exception as exc:  # noqa: BLE001 -- one payload's failure must not stop the others
            quarantine_frames.append(_unparseable(source, day, name, exc, errors))
            continue
        n_rows = 0
        for table, (good, problems) in parsed.items():
            quarantine_frames.append(problems)
            parts.setdefault(table, []).append(good)
            n_rows += good.height
            log.info(
                "%s %s %s -> %s: %d rows, %d quarantined",
                source,
                day,
                name,
                table,
                good.height,
                problems.height,
            )
        if not n_rows:
            quarantine_frames.append(
                quarantine_payload(
                    source=source,
                    day=day,
                    payload_name=name,
                    reason="empty_payload",
                    detail="payload parsed to zero usable rows",
                )
            )
    tables = {t: pl.concat(fs) for t, fs in parts.items()}
    quarantine = (
        pl.concat(quarantine_frames)
        if quarantine_frames
        else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    )
    names = [b[0] for b in batch] + [q["payload_name"][0] for q in refused]
    result = FamilyIngestResult(source, day, mode, tables, quarantine, names, errors)
    if result.rows == 0:
        reasons = errors or ["no payloads" if not batch else "no usable rows"]
        raise SourceFailed(
            f"{source} {day} ({mode}): nothing loaded; " + "; ".join(reasons[:5]), result
        )
    return result
