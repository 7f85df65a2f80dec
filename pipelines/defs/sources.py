"""One daily-partitioned Dagster asset per source (every family), with its checks.

Every source in the registry (``pipelines.lib.registry``) gets the same asset, built by
``build_source_asset``: GPU-offer sources in the ``gpu_sources`` group, the market families
(model catalogs, API prices, SEC facts, serving benchmarks, FX rates) in ``market_sources``.
The asset loads its source for the partition date(s) through ``pipelines.lib.source_load``:
fetch (or replay) and parse with no lock held, then write each date in one transaction
under the warehouse's writer lock, then report the checks (``defs/source_checks.py``)
computed from what is now *in the warehouse*.

Concurrency: source assets take no Dagster pool. Their fetch and parse run side by side
(the multiprocess executor runs one process per source: sources on different hosts fetch
at once); only the writes queue, on ``warehouse.writer_lock`` (cross-process, bounded
wait). The models and marts keep the ``duckdb_warehouse`` pool (limit 1).

Partition status says what was loaded: each date written is recorded as a materialization
of *that* partition (``AssetMaterialization(partition=...)``). When every requested date
loaded, the step's own output materializes them (so in-run downstream assets follow); when
a replay archive holds payloads for only some dates of a backfill, only those dates are
materialized; when a date fails, the dates that did load are still recorded and the step
fails (the others show failed).

A source that yields nothing fails its own asset (after recording the failure and the
quarantined payloads); the other sources are separate steps and still load. Live fetch
failures ask Dagster for a retry; replay failures do not (a retry cannot fix an archive).
"""

import datetime as dt

import dagster as dg

from pipelines.defs.resources import TrackerResource
from pipelines.defs.source_checks import (  # noqa: F401 -- re-exported for importers
    CHECKS,
    MARKET_CHECKS,
    check_results,
    check_specs,
)
from pipelines.lib import registry, source_load
from pipelines.lib.load_checks import MARKET_KEYS, OFFER_KEY  # noqa: F401 -- re-exported

DAILY = dg.DailyPartitionsDefinition(start_date="2023-01-01", timezone="UTC", end_offset=1)
WAREHOUSE_POOL = "duckdb_warehouse"  # the models' and marts' pool; source assets take none
SOURCE_GROUP = "gpu_sources"
MARKET_GROUP = "market_sources"
GROUPS = {registry.GPU_OFFERS: SOURCE_GROUP, registry.MARKET: MARKET_GROUP}


def source_asset_key(source_id: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source_id])


def _op_tags(spec) -> dict[str, str] | None:
    # reference rates first: GPU sources priced in EUR (scaleway, ovhcloud) convert with the
    # rates archived for the date, so ecb_fx starts before them without a hard dependency (a
    # failed rate fetch must not skip them; their offers are then quarantined instead). Live,
    # when they run at once, such a source waits a while for the rates (lib.ingest).
    return {"dagster/priority": "10"} if "raw.fx_rates" in spec.raw_tables else None


def _retry_or_fail(context, source_id: str, failed: list, days: list, quarantined: int, config):
    """After the dates of a step: a retry for a retryable live fetch failure, else Failure."""
    schedule = config.settings.schedule  # typed, validated once per run; defaults there
    if any(f.retryable for f in failed) and schedule.fetch_retries > 0:
        raise dg.RetryRequested(
            max_retries=schedule.fetch_retries,
            seconds_to_wait=float(schedule.fetch_retry_seconds),
        )
    raise dg.Failure(
        description=f"{source_id}: {len(failed)} of {len(days)} dates failed: {failed[0].error}"[
            :2000
        ],
        metadata={"failed_dates": len(failed), "quarantined": quarantined},
    )


def _day_metadata(result) -> dict:
    meta = {
        "rows": result.rows,
        "quarantined": result.quarantine.height,
        "payloads": len(result.payloads),
        "mode": result.mode,
    }
    if result.kind == registry.GPU_OFFERS:
        meta["offers"] = result.offers.height
    if result.notes:
        meta["parser_notes"] = " | ".join(result.notes)[:2000]
    return meta


def _materialize_source(context: dg.AssetExecutionContext, tracker: TrackerResource, source_id):
    """The body of every source asset (see the module docstring)."""
    kind = registry.spec(source_id).kind
    key = source_asset_key(source_id)
    config = tracker.load()
    replay_dir = tracker.archive_dir()
    requested = [dt.date.fromisoformat(k) for k in context.partition_keys]
    days, skipped = source_load.replayable_days(source_id, requested, replay_dir)
    if skipped:
        context.log.info(skipped)
    # every requested date present: the step's output materializes them; otherwise each
    # loaded date is materialized on its own, as it is written
    per_date = len(days) < len(requested)
    loaded, failed, errors = [], [], []
    quarantined = rows = 0
    for event in source_load.load_days(source_id, days, config, replay_dir):
        if isinstance(event, source_load.DayFailed):
            context.log.error(f"{source_id} {event.day}: {event.error}")
            failed.append(event)
            quarantined += event.quarantined
            continue
        result = event.result
        loaded.append(event)
        errors.extend(result.errors)
        rows += result.rows
        quarantined += result.quarantine.height
        context.log.info(
            f"{source_id} {event.day}: {result.rows} rows, {result.quarantine.height} "
            f"quarantined from {len(result.payloads)} payloads ({result.mode})"
        )
        if per_date:
            yield dg.AssetMaterialization(
                asset_key=key, partition=event.day.isoformat(), metadata=_day_metadata(result)
            )
    if failed:
        if not per_date:  # the dates that did load are materialized even though the step fails
            for event in loaded:
                yield dg.AssetMaterialization(
                    asset_key=key,
                    partition=event.day.isoformat(),
                    metadata=_day_metadata(event.result),
                )
        _retry_or_fail(context, source_id, failed, days, quarantined, config)
    results = source_load.check_results(config.warehouse_path, source_id, days, errors)
    yield from check_results(kind, results)
    if not per_date:
        meta = {"rows": rows, "quarantined": quarantined, "dates": len(days)}
        if kind == registry.GPU_OFFERS:
            meta["offers"] = sum(e.result.offers.height for e in loaded)
        meta["mode"] = "archive" if replay_dir else "live"
        yield dg.MaterializeResult(metadata=meta)


def build_source_asset(source_id: str) -> dg.AssetsDefinition:
    """The daily asset (with checks) for one source of any family."""
    spec = registry.spec(source_id)
    module = registry.module(source_id)
    description = (module.__doc__ or source_id).strip().split("\n\n")[0]
    key = source_asset_key(source_id)

    @dg.asset(
        key=key,
        description=description,
        group_name=GROUPS[spec.kind],
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        kinds={"python", "duckdb"},
        check_specs=check_specs(key, spec.kind),
        # the output is left out when only some dates of a range loaded: those dates are
        # materialized one by one instead (honest partition status)
        output_required=False,
        metadata={
            "tables": ", ".join(spec.raw_tables),
            "partition_expr": "date",
            "source": source_id,
        },
        op_tags=_op_tags(spec),
    )
    def _source_asset(context: dg.AssetExecutionContext, tracker: TrackerResource):
        yield from _materialize_source(context, tracker, source_id)

    return _source_asset


build_market_source_asset = build_source_asset  # one builder for every family since #11


def _build(kind: str) -> list[dg.AssetsDefinition]:
    return [build_source_asset(s) for s in registry.ids(kind)]


# module level, for dg's load_from_defs_folder: one asset per source in the registry (ONE
# list, so the loader sees each asset once)
source_assets: list[dg.AssetsDefinition] = [
    *_build(registry.GPU_OFFERS),
    *_build(registry.MARKET),
]


def build_source_assets() -> list[dg.AssetsDefinition]:
    """The GPU-offer source assets (the module-level objects)."""
    return [a for a in source_assets if a.group_names_by_key[a.key] == SOURCE_GROUP]


def build_market_source_assets() -> list[dg.AssetsDefinition]:
    """The market-family source assets (the module-level objects)."""
    return [a for a in source_assets if a.group_names_by_key[a.key] == MARKET_GROUP]
