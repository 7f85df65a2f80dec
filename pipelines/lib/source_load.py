"""Load one source over some dates: ingest each date with no lock held, then write it.

The one loop behind every source asset (any family) and anything else that loads a source:

    for each date:  ingest (fetch or replay, archive, parse)   -- no pool, no lock
                    write the date in ONE transaction           -- under the writer lock only
    after the dates: the checks, from what the warehouse holds  -- one short reader

so sources on different hosts fetch and parse concurrently (in separate processes) and only
their writes queue, on ``warehouse.writer_lock`` (a bounded flock wait across processes).

``load_days`` yields one ``DayLoaded`` or ``DayFailed`` per date as it is written, so the
caller can report each date (the Dagster asset records a materialization per loaded date:
the UI shows what was actually loaded). A date that fails is recorded in ``raw.load_log``
with its quarantined payloads and never stops the next date; the rows a previous good load
stored for it stay. No Dagster here.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipelines.lib import archive, load_checks, registry, warehouse
from pipelines.lib.config import Config
from pipelines.lib.http import UNREACHABLE_KINDS, FetchError
from pipelines.lib.ingest import IngestResult, SourceFailed, ingest
from pipelines.lib.offers import empty_quarantine
from pipelines.lib.redact import redact

log = logging.getLogger(__name__)

MESSAGE_CHARS = 2000  # raw.load_log.error


@dataclass
class DayLoaded:
    """A date written: its result (rows per table, quarantine, notes)."""

    day: dt.date
    result: IngestResult


@dataclass
class DayFailed:
    """A date that loaded nothing: the one-line reason, and whether a live retry may help."""

    day: dt.date
    error: str
    quarantined: int
    retryable: bool


def failure_text(exc: Exception) -> str:
    """A date's failure for load_log and the step's message: the tracker's own errors say what
    failed; anything else is named by its class too (``KeyError: 'x'`` says more than ``'x'``)."""
    if isinstance(exc, (SourceFailed, FetchError, archive.ArchiveError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def load_message(result: IngestResult) -> str | None:
    """raw.load_log's ``error`` column for a load: the errors first (never cut by notes), then
    the parsers' notes (``notes: pricing.html: not_priced=2 (...)``), or None."""
    parts = ["; ".join(result.errors)] if result.errors else []
    if result.notes:
        parts.append("notes: " + " | ".join(result.notes))
    return "; ".join(parts)[:MESSAGE_CHARS] or None


def store(db_path: Path, result: IngestResult) -> None:
    """Write one ingested (source, date) in ONE transaction under the writer lock: its rows in
    every raw table of its family, its quarantine rows and its raw.load_log line."""
    common = dict(
        source=result.source,
        days=[result.day],
        quarantine=result.quarantine,
        payloads=result.payloads,
        mode=result.mode,
        status=result.status,
        error=load_message(result),
    )
    # looked up at call time (warehouse.load_*): a test or tool may wrap the writer
    if result.kind == registry.GPU_OFFERS:
        warehouse.load_source_day(db_path, offers=result.offers, **common)
    else:
        warehouse.load_market_day(db_path, tables=result.tables, **common)


def replayable_days(
    source: str, days: list[dt.date], replay_dir: Path | None
) -> tuple[list[dt.date], str | None]:
    """The dates to load, and a log line when some are skipped. Live: every date. In replay
    mode, the dates the archive holds payloads for: replaying a sparse archive (LiteLLM
    versions, monthly snapshots) over a date range loads what is there and skips the rest.
    A source with no payload for any of the dates attempts every date, so each fails with
    "no payloads in archive DIR" and its load_log line instead of "run ok"."""
    if replay_dir is None:
        return days, None
    present = [d for d in days if archive.list_payload_names(replay_dir, source, d)]
    if not present:
        return days, None
    if len(present) < len(days):
        return present, (
            f"{source}: archive {replay_dir} has payloads for {len(present)} of "
            f"{len(days)} dates; the others are skipped"
        )
    return present, None


def _record_failure(
    config: Config, source: str, day: dt.date, exc: Exception, replay_dir: Path | None
) -> DayFailed:
    partial = getattr(exc, "result", None)
    quarantine = partial.quarantine if partial is not None else empty_quarantine()
    text = redact(failure_text(exc))
    warehouse.record_failure(
        config.warehouse_path,
        source=source,
        day=day,
        quarantine=quarantine,
        payloads=partial.payloads if partial is not None else [],
        mode="archive" if replay_dir else "live",
        error=text[:MESSAGE_CHARS],
    )
    retryable = (
        isinstance(exc, FetchError) and replay_dir is None and exc.kind not in UNREACHABLE_KINDS
    )
    return DayFailed(day, text, quarantine.height, retryable)


def load_days(
    source: str, days: list[dt.date], config: Config, replay_dir: Path | None = None
) -> Iterator[DayLoaded | DayFailed]:
    """Ingest and write ``source`` for each of ``days`` (see the module docstring)."""
    for day in days:
        try:
            result = ingest(source, day, config, from_archive=replay_dir)
        except Exception as exc:  # noqa: BLE001 -- one date's failure never stops the next
            yield _record_failure(config, source, day, exc, replay_dir)
            continue
        # a write that cannot be made (disk full, read-only) is not the source's fault: it
        # ends the step with the warehouse's one-line error instead of a failed date
        store(config.warehouse_path, result)
        log.info(
            "%s %s: %d rows, %d quarantined from %d payloads (%s)",
            source,
            day,
            result.rows,
            result.quarantine.height,
            len(result.payloads),
            result.mode,
        )
        yield DayLoaded(day, result)


def check_results(
    db_path: Path, source: str, days: list[dt.date], errors: list[str]
) -> dict[str, tuple[bool, dict]]:
    """The checks of ``source`` over ``days`` from the stored rows, under one short reader."""
    with warehouse.reader(db_path) as con:
        stats = load_checks.load_stats(con, source, days)
    return load_checks.evaluate(registry.spec(source).kind, stats, errors)
