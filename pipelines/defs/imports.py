"""``gpu-tracker import`` as an asset: a third-party price history loaded as its own source.

``raw/imported_offers`` (op ``import_price_history``, group ``imports``) reads a daily
observation log (``obs-log``) or gpuhunt snapshots (``gpuhunt-json``) with
``pipelines.lib.importers``, normalises every date's records into canonical offers and
quarantine (``pipelines.lib.offers``), and replaces the import source's rows for those dates
in one transaction (``warehouse.load_source_day(..., mode="import")``). The import is a
materialization like any other write: the UI shows it, with rows, dates and quarantine
reasons as metadata. ``import_job`` (``pipelines.defs.jobs``) runs it; the CLI then runs the
models.

Parsing and normalising happen before the writer lock is taken (read, compute, then write),
so the asset takes no Dagster pool. Progress lines go to stderr (the CLI's progress; the
compute log when the daemon runs it).
"""

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from pipelines.defs.resources import TrackerResource
from pipelines.lib import importers, warehouse
from pipelines.lib.offers import normalise_offers

IMPORTED_OFFERS = dg.AssetKey(["raw", "imported_offers"])
IMPORTS_GROUP = "imports"
IMPORT_OP = "import_price_history"
DEFAULT_NAMES = {"obs-log": "obs_log", "gpuhunt-json": "gpuhunt"}


class ImportConfig(dg.Config):
    """What to import: ``path`` (a file, or a folder of gpuhunt JSON files), ``format``
    (``obs-log`` or ``gpuhunt-json``) and ``source_name`` ("" = ``obs_log`` / ``gpuhunt``)."""

    path: str
    format: str = "obs-log"
    source_name: str = ""


@dataclass
class ImportSummary:
    """What an import loaded."""

    source: str
    offers: int
    quarantined: int
    days: list = field(default_factory=list)
    reasons: dict[str, int] = field(default_factory=dict)
    corrections: dict[str, int] = field(default_factory=dict)


def _progress(context: dg.AssetExecutionContext | None, message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)
    if context is not None:
        context.log.info(message)


def _read_batches(path: Path, fmt: str) -> list:
    if fmt == "obs-log":
        return [importers.read_obs_log(path)]
    if fmt == "gpuhunt-json":
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        return [importers.read_gpuhunt_json(f) for f in files]
    raise ValueError(f"unknown import format {fmt!r}: obs-log or gpuhunt-json")


def load_import(
    db_path: Path,
    path: Path,
    fmt: str,
    source_name: str | None,
    context: dg.AssetExecutionContext | None = None,
) -> ImportSummary:
    """Read, normalise and load one import; returns what it loaded."""
    import polars as pl

    if fmt not in DEFAULT_NAMES:
        raise ValueError(f"unknown import format {fmt!r}: obs-log or gpuhunt-json")
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    # a slug that is no live source's id: an import replaces its source's rows for its dates
    source = importers.import_source_name(source_name or None, DEFAULT_NAMES[fmt], db_path)
    batches = _read_batches(path, fmt)
    offers_parts, quarantine_parts, days = [], [], []
    total_days = sum(len(b.records_by_date) for b in batches)
    corrections: dict[str, int] = {}
    for batch in batches:
        for k, v in batch.corrections.items():
            corrections[k] = corrections.get(k, 0) + v
        for day in sorted(batch.records_by_date):
            offers, quarantine = normalise_offers(
                batch.records_by_date[day], source=source, day=day
            )
            offers_parts.append(offers)
            quarantine_parts.append(quarantine)
            days.append(day)
            if len(days) % 10 == 0 or len(days) == total_days:
                _progress(context, f"parsed {len(days)}/{total_days} dates ({day})")
    if not days:
        raise ValueError(f"{path}: no dated records to import")
    offers = pl.concat(offers_parts)
    quarantine = pl.concat(quarantine_parts)
    _progress(
        context, f"writing {offers.height} offers, {quarantine.height} quarantined to {db_path}"
    )
    warehouse.load_source_day(
        db_path,
        source=source,
        days=days,
        offers=offers,
        quarantine=quarantine,
        payloads=[path.name],
        mode="import",
    )
    reasons = dict(quarantine.group_by("reason").len().iter_rows()) if quarantine.height else {}
    return ImportSummary(source, offers.height, quarantine.height, days, reasons, corrections)


@dg.multi_asset(
    name=IMPORT_OP,
    specs=[
        dg.AssetSpec(
            IMPORTED_OFFERS,
            group_name=IMPORTS_GROUP,
            description="A third-party price history (daily observation log or gpuhunt "
            "snapshots) loaded into raw.gpu_offers / raw.quarantine under its own source name.",
            kinds={"python", "duckdb"},
            metadata={"table": "raw.gpu_offers"},
        )
    ],
)
def import_price_history(
    context: dg.AssetExecutionContext, config: ImportConfig, tracker: TrackerResource
):
    started = time.monotonic()
    try:
        summary = load_import(
            tracker.db_path(), Path(config.path), config.format, config.source_name, context
        )
    except (
        importers.ImportNameError,
        FileNotFoundError,
        ValueError,
        warehouse.WarehouseWriteError,
    ) as exc:  # said in one line: the step's failure is what the CLI prints
        raise dg.Failure(description=str(exc)) from None
    return dg.MaterializeResult(
        asset_key=IMPORTED_OFFERS,
        metadata={
            "source": summary.source,
            "path": config.path,
            "format": config.format,
            "offers": summary.offers,
            "quarantined": summary.quarantined,
            "dates": len(summary.days),
            "first_date": summary.days[0].isoformat(),
            "last_date": summary.days[-1].isoformat(),
            "quarantine_reasons": dict(summary.reasons),
            "corrections": dict(summary.corrections),
            "seconds": round(time.monotonic() - started, 1),
        },
    )
