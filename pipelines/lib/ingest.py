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

from pipelines.lib import archive
from pipelines.lib.config import Config
from pipelines.lib.http import PoliteClient
from pipelines.lib.offers import (
    QUARANTINE_SCHEMA,
    empty_offers,
    normalise_offers,
    quarantine_payload,
)
from pipelines.lib.sources.base import ParseError, Payload

log = logging.getLogger(__name__)

# source id -> module under pipelines.lib.sources. Every GPU-offer source is listed here;
# the Dagster definitions create one asset per entry.
GPU_SOURCES: dict[str, str] = {
    "skypilot_catalog": "pipelines.lib.sources.skypilot_catalog",
    "runpod": "pipelines.lib.sources.runpod",
    "vastai": "pipelines.lib.sources.vastai",
    "azure_retail": "pipelines.lib.sources.azure_retail",
    "lambda_pricing": "pipelines.lib.sources.lambda_pricing",
    "coreweave_pricing": "pipelines.lib.sources.coreweave_pricing",
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


def _parse_payloads(
    module: ModuleType, source: str, day: dt.date, payloads: list[tuple[str, bytes, dt.datetime | None]]
) -> tuple[pl.DataFrame, pl.DataFrame, list[str]]:
    offers_frames, quarantine_frames, errors = [], [], []
    for name, content, fetched_at in payloads:
        try:
            records = module.parse(name, content)
        except ParseError as exc:
            msg = f"{source} {day} {name}: {exc}"
            log.error("parse failed: %s", msg)
            errors.append(msg)
            quarantine_frames.append(
                quarantine_payload(source=source, day=day, payload_name=name,
                                   reason="unparseable_payload", detail=str(exc)[:2000])
            )
            continue
        for rec in records:
            rec.setdefault("payload_name", name)
        offers, quarantine = normalise_offers(records, source=source, day=day, fetched_at=fetched_at)
        if not records:
            # A parser that understood the payload but found no offers: surface it.
            quarantine = quarantine_payload(source=source, day=day, payload_name=name,
                                            reason="empty_payload", detail="payload parsed to zero offers")
        offers_frames.append(offers)
        quarantine_frames.append(quarantine)
        log.info("%s %s %s: %d offers, %d quarantined", source, day, name, offers.height, quarantine.height)
    offers = pl.concat(offers_frames) if offers_frames else empty_offers()
    quarantine = pl.concat(quarantine_frames) if quarantine_frames else pl.DataFrame(schema=QUARANTINE_SCHEMA)
    return offers, quarantine, errors


def ingest(
    source: str,
    day: dt.date,
    config: Config,
    *,
    from_archive: Path | None = None,
    client: PoliteClient | None = None,
) -> IngestResult:
    """Fetch-or-replay, archive and parse one source for one date."""
    module = source_module(source)
    errors: list[str] = []
    if from_archive is not None:
        mode = "archive"
        stored = archive.read_payloads(Path(from_archive), source, day)
        batch = [(p.name, p.content, p.fetched_at) for p in stored]
    else:
        mode = "live"
        client = client or PoliteClient.from_config(config.http)
        source_cfg = config.source(source)
        fetched = module.fetch(client, source_cfg, day)
        batch = []
        for item in fetched:
            if not isinstance(item, Payload):  # a per-file fetch failure
                errors.append(f"{source} {day} {item}")
                continue
            fetched_at = (
                dt.datetime.fromtimestamp(item.fetched_at, dt.UTC)
                if item.fetched_at else dt.datetime.now(dt.UTC)
            )
            archive.write_payload(
                config.archive_dir, source, day, item.name, item.content, url=item.url,
                status=item.status, fetched_at=fetched_at, content_type=item.content_type,
            )
            batch.append((item.name, item.content, fetched_at))
    offers, quarantine, parse_errors = _parse_payloads(module, source, day, batch)
    errors.extend(parse_errors)
    names = [b[0] for b in batch]
    result = IngestResult(source, day, mode, offers, quarantine, names, errors)
    if offers.height == 0:
        reasons = errors or (
            [f"{r}: {d}" for r, d in quarantine.select("reason", "detail").head(3).iter_rows()]
            if quarantine.height else ["no payloads"]
        )
        raise SourceFailed(f"{source} {day} ({mode}): no offers loaded; " + "; ".join(reasons[:5]), result)
    return result
