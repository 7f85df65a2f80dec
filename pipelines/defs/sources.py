"""One daily-partitioned Dagster asset per GPU-offer source, with its checks.

Each asset ingests its source for the partition date(s) (live or replay, see
``pipelines.lib.ingest``), replaces that source's rows for those dates in ``raw.gpu_offers``
and ``raw.quarantine`` in one transaction, logs the load in ``raw.load_log``, and reports
checks computed from what is now *in the warehouse*:

* ``non_empty`` (error)            -- offers were loaded for every date;
* ``prices_positive`` (error)      -- every per-GPU-hour price > 0;
* ``no_duplicate_keys`` (error)    -- no two rows share the offer key;
* ``prices_within_bounds`` (warn)  -- nothing was quarantined as an absurd price;
* ``unmapped_gpu_names`` (warn)    -- nothing was quarantined as an unknown GPU name;
* ``fetch_and_parse_errors`` (warn) -- every payload was fetched and parsed.

A source that yields nothing fails its own asset (after recording the failure and the
quarantined payloads); the other sources are separate steps and still load. Live fetch
failures ask Dagster for a retry; replay failures do not (a retry cannot fix an archive).
Writers share the ``duckdb_warehouse`` pool (limit 1), so they never run concurrently.
"""

import datetime as dt

import dagster as dg

from pipelines.defs.resources import TrackerResource
from pipelines.lib import archive, warehouse
from pipelines.lib.http import UNREACHABLE_KINDS, FetchError
from pipelines.lib.ingest import (
    GPU_SOURCES,
    MARKET_SOURCES,
    SourceFailed,
    ingest,
    ingest_market,
    market_module,
    source_module,
)
from pipelines.lib.offers import empty_quarantine
from pipelines.lib.redact import redact

DAILY = dg.DailyPartitionsDefinition(start_date="2023-01-01", timezone="UTC", end_offset=1)
WAREHOUSE_POOL = "duckdb_warehouse"
SOURCE_GROUP = "gpu_sources"

OFFER_KEY = (
    "date",
    "source",
    "provider",
    "upstream_source",
    "gpu_model",
    "gpu_count",
    "instance_type",
    "region",
    "pricing",
    "reserved_term",
    "price_basis",
    "payload_name",
    "price_usd_per_gpu_hour",
)

CHECKS: dict[str, tuple[dg.AssetCheckSeverity, str]] = {
    "non_empty": (dg.AssetCheckSeverity.ERROR, "offers were loaded for every partition date"),
    "prices_positive": (dg.AssetCheckSeverity.ERROR, "every per-GPU-hour price is > 0"),
    "no_duplicate_keys": (dg.AssetCheckSeverity.ERROR, "no two offers share the offer key"),
    "prices_within_bounds": (
        dg.AssetCheckSeverity.WARN,
        "no price quarantined as outside the family's sane bounds",
    ),
    "unmapped_gpu_names": (dg.AssetCheckSeverity.WARN, "no GPU name quarantined as unknown"),
    "fetch_and_parse_errors": (dg.AssetCheckSeverity.WARN, "every payload was fetched and parsed"),
}


def source_asset_key(source_id: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", source_id])


def _checks_from_warehouse(db_path, source: str, days: list[dt.date], errors: list[str]):
    """Check results for (source, days), computed from the stored rows."""
    with warehouse.reader(db_path) as con:
        per_day = con.execute(
            "SELECT date, count(*) FROM raw.gpu_offers WHERE source = ? AND date IN "
            "(SELECT unnest(?::DATE[])) GROUP BY date",
            [source, days],
        ).fetchall()
        non_positive = con.execute(
            "SELECT count(*) FROM raw.gpu_offers WHERE source = ? AND date IN (SELECT unnest(?::DATE[])) "
            "AND NOT (price_usd_per_gpu_hour > 0)",
            [source, days],
        ).fetchone()[0]
        key = ", ".join(OFFER_KEY)
        dupes = con.execute(
            f"SELECT count(*) FROM (SELECT {key}, count(*) AS n FROM raw.gpu_offers WHERE source = ? "
            f"AND date IN (SELECT unnest(?::DATE[])) GROUP BY ALL HAVING count(*) > 1)",
            [source, days],
        ).fetchone()[0]
        q = con.execute(
            "SELECT reason, count(*), string_agg(DISTINCT gpu_name_raw, ', ') FROM raw.quarantine "
            "WHERE source = ? AND date IN (SELECT unnest(?::DATE[])) GROUP BY reason",
            [source, days],
        ).fetchall()
    loaded = {d: n for d, n in per_day}
    quarantined = {reason: (n, names) for reason, n, names in q}
    empty_days = [d.isoformat() for d in days if not loaded.get(d)]
    oob = quarantined.get("price_out_of_bounds", (0, ""))
    unknown = quarantined.get("unknown_gpu", (0, ""))
    results = {
        "non_empty": (
            not empty_days,
            {"empty_dates": ", ".join(empty_days) or "none", "rows": sum(loaded.values())},
        ),
        "prices_positive": (non_positive == 0, {"non_positive_rows": non_positive}),
        "no_duplicate_keys": (dupes == 0, {"duplicate_keys": dupes}),
        "prices_within_bounds": (oob[0] == 0, {"quarantined_out_of_bounds": oob[0]}),
        "unmapped_gpu_names": (
            unknown[0] == 0,
            {"quarantined_unknown_gpu": unknown[0], "names": (unknown[1] or "")[:1000]},
        ),
        "fetch_and_parse_errors": (
            not errors,
            {"errors": len(errors), "first_errors": "\n".join(errors[:5])[:2000]},
        ),
    }
    return [
        dg.AssetCheckResult(
            check_name=name,
            passed=bool(passed),
            severity=CHECKS[name][0],
            metadata=meta,
        )
        for name, (passed, meta) in results.items()
    ]


def _failure_text(exc: Exception) -> str:
    """A date's failure for load_log and the step's message: the tracker's own errors say what
    failed; anything else is named by its class too (``KeyError: 'x'`` says more than ``'x'``)."""
    if isinstance(exc, (SourceFailed, FetchError, archive.ArchiveError)):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def _replayable_days(context, source_id: str, days: list[dt.date], replay_dir) -> list[dt.date]:
    """In replay mode, the dates the archive holds payloads for: replaying a sparse archive
    (LiteLLM versions, monthly snapshots) over a date range loads what is there and skips the
    rest, with a log line (a source with no payload for any of the dates fails each of them).
    Live, every date is fetched."""
    if replay_dir is None:
        return days
    present = [d for d in days if archive.list_payload_names(replay_dir, source_id, d)]
    if not present:
        # nothing at all for a source that was asked for: every date is attempted, so each
        # fails with "no payloads in archive DIR" and its load_log line instead of "run ok"
        return days
    if len(present) < len(days):
        context.log.info(
            f"{source_id}: archive {replay_dir} has payloads for {len(present)} of "
            f"{len(days)} dates; the others are skipped"
        )
    return present


def build_source_asset(source_id: str) -> dg.AssetsDefinition:
    """The daily asset (with checks) for one GPU-offer source."""
    module = source_module(source_id)
    description = (module.__doc__ or source_id).strip().split("\n\n")[0]
    key = source_asset_key(source_id)

    @dg.asset(
        key=key,
        description=description,
        group_name=SOURCE_GROUP,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        kinds={"python", "duckdb"},
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=desc)
            for name, (_, desc) in CHECKS.items()
        ],
        metadata={"table": "raw.gpu_offers", "partition_expr": "date", "source": source_id},
    )
    def _source_asset(context: dg.AssetExecutionContext, tracker: TrackerResource):
        config = tracker.load()
        db_path = config.warehouse_path
        replay_dir = tracker.archive_dir()
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        errors: list[str] = []
        failures: list[str] = []
        retryable = False
        offers_total = quarantined_total = 0
        days = _replayable_days(context, source_id, days, replay_dir)
        for day in days:
            try:
                result = ingest(source_id, day, config, from_archive=replay_dir)
            except Exception as exc:  # noqa: BLE001 -- one date's failure never stops the next
                partial = getattr(exc, "result", None)
                quarantine = partial.quarantine if partial is not None else empty_quarantine()
                payloads = partial.payloads if partial is not None else []
                warehouse.record_failure(
                    db_path,
                    source=source_id,
                    day=day,
                    quarantine=quarantine,
                    payloads=payloads,
                    mode="archive" if replay_dir else "live",
                    error=redact(_failure_text(exc))[:2000],
                )
                quarantined_total += quarantine.height
                context.log.error(redact(f"{source_id} {day}: {_failure_text(exc)}"))
                failures.append(redact(_failure_text(exc)))
                retryable = retryable or (
                    isinstance(exc, FetchError)
                    and replay_dir is None
                    and exc.kind not in UNREACHABLE_KINDS
                )
                continue
            warehouse.load_source_day(
                db_path,
                source=source_id,
                days=[day],
                offers=result.offers,
                quarantine=result.quarantine,
                payloads=result.payloads,
                mode=result.mode,
                status=result.status,
                error="; ".join(result.errors)[:2000] or None,
            )
            errors.extend(result.errors)
            offers_total += result.offers.height
            quarantined_total += result.quarantine.height
            context.log.info(
                f"{source_id} {day}: {result.offers.height} offers, {result.quarantine.height} "
                f"quarantined from {len(result.payloads)} payloads ({result.mode})"
            )
        if failures:
            retry = config.data.get("schedule", {})
            if retryable and int(retry.get("fetch_retries", 2)) > 0:
                raise dg.RetryRequested(
                    max_retries=int(retry.get("fetch_retries", 2)),
                    seconds_to_wait=float(retry.get("fetch_retry_seconds", 60)),
                )
            raise dg.Failure(
                description=f"{source_id}: {len(failures)} of {len(days)} dates failed: {failures[0]}"[
                    :2000
                ],
                metadata={"failed_dates": len(failures), "quarantined": quarantined_total},
            )
        yield from _checks_from_warehouse(db_path, source_id, days, errors)
        yield dg.MaterializeResult(
            metadata={
                "offers": offers_total,
                "quarantined": quarantined_total,
                "dates": len(days),
                "mode": "archive" if replay_dir else "live",
            }
        )

    return _source_asset


def build_source_assets() -> list[dg.AssetsDefinition]:
    return [build_source_asset(s) for s in GPU_SOURCES]


# ----------------------------------------------------------------------------- market sources
MARKET_GROUP = "market_sources"

# raw table -> columns that identify a row within (source, date)
MARKET_KEYS: dict[str, tuple[str, ...]] = {
    "raw.model_catalog": ("model_id", "payload_name"),
    "raw.api_prices": ("model_id", "payload_name"),
    "raw.sec_facts": (
        "cik",
        "concept",
        "unit",
        "period_start",
        "period_end",
        "accession",
        "fiscal_year",
        "fiscal_period",
        "form",
        "frame",
        "value",
    ),
    "raw.fx_rates": ("currency", "payload_name"),
}

MARKET_CHECKS: dict[str, tuple[dg.AssetCheckSeverity, str]] = {
    "non_empty": (dg.AssetCheckSeverity.ERROR, "rows were loaded for every partition date"),
    "no_duplicate_keys": (
        dg.AssetCheckSeverity.ERROR,
        "no two rows share a key within (source, date)",
    ),
    "problem_rows": (
        dg.AssetCheckSeverity.WARN,
        "no row quarantined (bad price, missing id, bad number)",
    ),
    "fetch_and_parse_errors": (dg.AssetCheckSeverity.WARN, "every payload was fetched and parsed"),
}


def _market_checks(db_path, source: str, days: list[dt.date], errors: list[str]):
    with warehouse.reader(db_path) as con:
        loaded: dict[dt.date, int] = {}
        dupes = 0
        for table, key in MARKET_KEYS.items():
            for day, n in con.execute(
                f"SELECT date, count(*) FROM {table} WHERE source = ? AND date IN "
                "(SELECT unnest(?::DATE[])) GROUP BY date",
                [source, days],
            ).fetchall():
                loaded[day] = loaded.get(day, 0) + n
            dupes += con.execute(
                f"SELECT count(*) FROM (SELECT date, {', '.join(key)} FROM {table} WHERE source = ? "
                "AND date IN (SELECT unnest(?::DATE[])) GROUP BY ALL HAVING count(*) > 1)",
                [source, days],
            ).fetchone()[0]
        problems = con.execute(
            "SELECT reason, count(*) FROM raw.quarantine WHERE source = ? AND date IN "
            "(SELECT unnest(?::DATE[])) GROUP BY reason ORDER BY 2 DESC",
            [source, days],
        ).fetchall()
    empty_days = [d.isoformat() for d in days if not loaded.get(d)]
    n_problems = sum(n for _, n in problems)
    results = {
        "non_empty": (
            not empty_days,
            {"empty_dates": ", ".join(empty_days) or "none", "rows": sum(loaded.values())},
        ),
        "no_duplicate_keys": (dupes == 0, {"duplicate_keys": dupes}),
        "problem_rows": (
            n_problems == 0,
            {
                "quarantined": n_problems,
                "reasons": ", ".join(f"{r}={n}" for r, n in problems) or "none",
            },
        ),
        "fetch_and_parse_errors": (
            not errors,
            {"errors": len(errors), "first_errors": "\n".join(errors[:5])[:2000]},
        ),
    }
    return [
        dg.AssetCheckResult(
            check_name=name, passed=bool(passed), severity=MARKET_CHECKS[name][0], metadata=meta
        )
        for name, (passed, meta) in results.items()
    ]


def build_market_source_asset(source_id: str) -> dg.AssetsDefinition:
    """The daily asset (with checks) for one model-catalog / API-price / SEC source."""
    module = market_module(source_id)
    description = (module.__doc__ or source_id).strip().split("\n\n")[0]
    key = source_asset_key(source_id)

    @dg.asset(
        key=key,
        description=description,
        group_name=MARKET_GROUP,
        partitions_def=DAILY,
        backfill_policy=dg.BackfillPolicy.single_run(),
        pool=WAREHOUSE_POOL,
        kinds={"python", "duckdb"},
        check_specs=[
            dg.AssetCheckSpec(name, asset=key, description=desc)
            for name, (_, desc) in MARKET_CHECKS.items()
        ],
        metadata={"tables": ", ".join(MARKET_KEYS), "partition_expr": "date", "source": source_id},
        # reference rates first: GPU sources priced in EUR (scaleway, ovhcloud) convert with the
        # rates archived for the date, so ecb_fx runs before them without a hard dependency
        # (a failed rate fetch must not skip them; their offers are then quarantined instead)
        op_tags=({"dagster/priority": "10"} if "raw.fx_rates" in module.SPEC.raw_tables else None),
    )
    def _market_asset(context: dg.AssetExecutionContext, tracker: TrackerResource):
        config = tracker.load()
        db_path = config.warehouse_path
        replay_dir = tracker.archive_dir()
        days = [dt.date.fromisoformat(k) for k in context.partition_keys]
        errors: list[str] = []
        failures: list[str] = []
        retryable = False
        rows_total = quarantined_total = 0
        mode = "archive" if replay_dir else "live"
        days = _replayable_days(context, source_id, days, replay_dir)
        for day in days:
            try:
                result = ingest_market(source_id, day, config, from_archive=replay_dir)
            except Exception as exc:  # noqa: BLE001 -- one date's failure never stops the next
                partial = getattr(exc, "result", None)
                quarantine = partial.quarantine if partial is not None else empty_quarantine()
                warehouse.record_failure(
                    db_path,
                    source=source_id,
                    day=day,
                    quarantine=quarantine,
                    payloads=partial.payloads if partial is not None else [],
                    mode=mode,
                    error=redact(_failure_text(exc))[:2000],
                )
                quarantined_total += quarantine.height
                context.log.error(redact(f"{source_id} {day}: {_failure_text(exc)}"))
                failures.append(redact(_failure_text(exc)))
                retryable = retryable or (
                    isinstance(exc, FetchError)
                    and replay_dir is None
                    and exc.kind not in UNREACHABLE_KINDS
                )
                continue
            warehouse.load_market_day(
                db_path,
                source=source_id,
                days=[day],
                tables=result.tables,
                quarantine=result.quarantine,
                payloads=result.payloads,
                mode=result.mode,
                status=result.status,
                error="; ".join(result.errors)[:2000] or None,
            )
            errors.extend(result.errors)
            rows_total += result.rows
            quarantined_total += result.quarantine.height
            context.log.info(
                f"{source_id} {day}: {result.rows} rows, {result.quarantine.height} "
                f"quarantined from {len(result.payloads)} payloads ({result.mode})"
            )
        if failures:
            retry = config.data.get("schedule", {})
            if retryable and int(retry.get("fetch_retries", 2)) > 0:
                raise dg.RetryRequested(
                    max_retries=int(retry.get("fetch_retries", 2)),
                    seconds_to_wait=float(retry.get("fetch_retry_seconds", 60)),
                )
            raise dg.Failure(
                description=f"{source_id}: {len(failures)} of {len(days)} dates failed: {failures[0]}"[
                    :2000
                ],
                metadata={"failed_dates": len(failures), "quarantined": quarantined_total},
            )
        yield from _market_checks(db_path, source_id, days, errors)
        yield dg.MaterializeResult(
            metadata={
                "rows": rows_total,
                "quarantined": quarantined_total,
                "dates": len(days),
                "mode": mode,
            }
        )

    return _market_asset


def build_market_source_assets() -> list[dg.AssetsDefinition]:
    return [build_market_source_asset(s) for s in MARKET_SOURCES]
