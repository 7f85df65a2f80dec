"""Ingest one source for one date: fetch (live) or read (replay), archive, parse, normalise.

This is the single code path behind the Dagster source assets, the CLI, ``doctor`` and the
tests, for every source family (GPU offers, model catalogs, API prices, SEC facts, serving
benchmarks, FX rates -- the registry says which family a source is):

    live:    fetch -> write every payload to the raw archive -> parse the archived bytes
    replay:  read <archive>/<source>/<date>/* -> parse

``ingest`` returns the rows per raw table, the quarantine rows, the parser's notes and what
happened; it does not write to the warehouse and holds no lock (fetch and parse run while
other sources write). ``pipelines.lib.source_load.store`` writes the result under the
writer lock. A payload that fails to parse is quarantined as a whole (reason
``unparseable_payload``) and the others still load; if *no* row could be loaded,
``SourceFailed`` is raised naming source, date and files.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

import polars as pl

from pipelines.lib import archive, registry
from pipelines.lib.config import Config
from pipelines.lib.http import PoliteClient
from pipelines.lib.ingest_parse import (  # noqa: F401 -- re-exported: tests and tools import them from here
    OFFERS_TABLE,
    _exception_text,
    _parse_one,
    _problem_rows_to_quarantine,
    _split_duplicates,
    _unparseable,
    parse_payloads,
)
from pipelines.lib.offers import empty_offers, quarantine_payload
from pipelines.lib.redact import redact, redact_bytes
from pipelines.lib.sources import ecb_fx
from pipelines.lib.sources.base import Payload

log = logging.getLogger(__name__)

# source id -> module under pipelines.lib.sources, derived from the registry (one entry per
# module that declares a SPEC); the Dagster definitions create one asset per entry. Nothing
# to list here when adding a source.
GPU_SOURCES: dict[str, str] = {
    sid: registry.module_path(sid) for sid in registry.ids(registry.GPU_OFFERS)
}
MARKET_SOURCES: dict[str, str] = {
    sid: registry.module_path(sid) for sid in registry.ids(registry.MARKET)
}
ALL_SOURCES: list[str] = [*GPU_SOURCES, *MARKET_SOURCES]

# A live GPU source priced in another currency converts with the ECB rates archived for the
# same date. When the sources of a run fetch concurrently, ``ecb_fx`` may still be fetching
# when such a source parses: it waits this long for the rates to appear (then quarantines).
FX_WAIT_SECONDS = 60.0
FX_POLL_SECONDS = 1.0


class SourceFailed(RuntimeError):
    """Nothing usable came from a source for a date. ``result`` (when set) still carries the
    quarantine rows, so the caller can record them before failing."""

    def __init__(self, message: str, result: IngestResult | None = None):
        super().__init__(message)
        self.result = result


@dataclass
class IngestResult:
    """One source x date, parsed: rows per raw table (each with ``date`` and ``source``),
    quarantine rows, payload names, errors (a payload or fetch that failed) and the parsers'
    notes (what the pages hold that is neither a row nor an error)."""

    source: str
    day: dt.date
    mode: str  # live | archive
    tables: dict[str, pl.DataFrame]
    quarantine: pl.DataFrame
    payloads: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    kind: str = registry.GPU_OFFERS

    @property
    def offers(self) -> pl.DataFrame:
        """The canonical GPU offers (empty for the other families)."""
        return self.tables.get(OFFERS_TABLE, empty_offers())

    @property
    def rows(self) -> int:
        return sum(f.height for f in self.tables.values())

    @property
    def status(self) -> str:
        if self.errors:
            return "partial"
        return "ok" if self.rows else "empty"


FamilyIngestResult = IngestResult  # the market families' result: the same class since #11


def source_module(source_id: str) -> ModuleType:
    """The module implementing ``source_id`` (any family)."""
    return registry.module(source_id)


market_module = source_module


def _replayed(source: str, day: dt.date, from_archive: Path):
    """``<archive>/<source>/<day>/*`` -> ([(name, bytes, fetched_at)], errors, quarantine of
    entries refused unread: symlinks, FIFOs, folders)."""
    errors: list[str] = []
    batch, refused = [], []
    for p in archive.read_payloads(Path(from_archive), source, day):
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
    return batch, errors, refused


def _fetched(module: ModuleType, source: str, day: dt.date, config: Config, client: PoliteClient):
    """Fetch live and archive every payload *before* it is parsed. Payloads are scrubbed of
    secrets first (``pipelines.lib.redact``): the archive and the parser see the same bytes,
    so live and replay agree and no parse error can quote a secret."""
    errors: list[str] = []
    batch = []
    for item in module.fetch(client, config.source(source), day):
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
    return batch, errors


def _collect_payloads(
    module: ModuleType,
    source: str,
    day: dt.date,
    config: Config,
    from_archive: Path | None,
    client: PoliteClient | None,
) -> tuple[str, list[tuple[str, bytes, dt.datetime | None]], list[str], list[pl.DataFrame]]:
    """Replay or fetch: (mode, [(name, bytes, fetched_at)], errors, refused-entry quarantine)."""
    if from_archive is not None:
        batch, errors, refused = _replayed(source, day, Path(from_archive))
        return "archive", batch, errors, refused
    client = client or PoliteClient.from_config(config.http)
    batch, errors = _fetched(module, source, day, config, client)
    return "live", batch, errors, []


def _fx_rates(config: Config, day: dt.date, from_archive: Path | None, wait: bool):
    """The ECB rates archived for ``day`` (replay archive or the live one); live, while
    ``ecb_fx`` is enabled, waits up to ``FX_WAIT_SECONDS`` for a concurrent ecb_fx step to
    archive them."""
    root = Path(from_archive) if from_archive is not None else config.archive_dir
    rates = ecb_fx.usd_rates_for_day(root, day)
    if rates is not None or not wait:
        return rates
    try:
        enabled = bool(config.source(ecb_fx.SOURCE_ID).get("enabled", True))
    except KeyError:
        enabled = False
    deadline = time.monotonic() + FX_WAIT_SECONDS
    while enabled and rates is None and time.monotonic() < deadline:
        time.sleep(FX_POLL_SECONDS)
        rates = ecb_fx.usd_rates_for_day(root, day)
    return rates


def _needs_fx(quarantine: pl.DataFrame) -> bool:
    return quarantine.height > 0 and "non_usd_currency" in set(quarantine["reason"].to_list())


def _failure(result: IngestResult, had_payloads: bool) -> SourceFailed:
    mode, source, day = result.mode, result.source, result.day
    if result.kind == registry.GPU_OFFERS:
        q = result.quarantine
        reasons = result.errors or (
            [f"{r}: {d}" for r, d in q.select("reason", "detail").head(3).iter_rows()]
            if q.height
            else ["no payloads"]
        )
        what = "no offers loaded"
    else:
        reasons = result.errors or ["no payloads" if not had_payloads else "no usable rows"]
        what = "nothing loaded"
    return SourceFailed(f"{source} {day} ({mode}): {what}; " + "; ".join(reasons[:5]), result)


def ingest(
    source: str,
    day: dt.date,
    config: Config,
    *,
    from_archive: Path | None = None,
    client: PoliteClient | None = None,
) -> IngestResult:
    """Fetch-or-replay, archive and parse one source (any family) for one date. Problem rows
    go to quarantine; a payload that does not parse is quarantined whole; no rows at all
    raises ``SourceFailed`` (carrying the result, so its quarantine can be recorded)."""
    module = source_module(source)
    kind = registry.spec(source).kind
    mode, batch, errors, refused = _collect_payloads(
        module, source, day, config, from_archive, client
    )
    # reference rates of this date, for offers priced in another currency (Scaleway's EUR):
    # the ECB file archived for the same date, in the replay archive or the live one
    fx_rates = (
        _fx_rates(config, day, from_archive, wait=False) if kind == registry.GPU_OFFERS else None
    )
    tables, quarantine, parse_errors, notes = parse_payloads(
        kind, module, source, day, batch, fx_rates
    )
    if fx_rates is None and from_archive is None and _needs_fx(quarantine):
        fx_rates = _fx_rates(config, day, from_archive, wait=True)
        if fx_rates is not None:  # parse again with the rates a concurrent ecb_fx step archived
            tables, quarantine, parse_errors, notes = parse_payloads(
                kind, module, source, day, batch, fx_rates
            )
    errors.extend(parse_errors)
    if refused:
        quarantine = pl.concat([*refused, quarantine])
    names = [b[0] for b in batch] + [q["payload_name"][0] for q in refused]
    result = IngestResult(source, day, mode, tables, quarantine, names, errors, notes, kind)
    if result.rows == 0:
        raise _failure(result, bool(batch))
    return result


ingest_market = ingest  # the market families take the same path since #11
