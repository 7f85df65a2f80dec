"""``gpu-tracker``: the command-line interface (contract in ARCHITECTURE.md).

    gpu-tracker run [--date D] [--from-archive DIR] [--sources a,b]
    gpu-tracker backfill --from-archive DIR --start D --end D [--sources a,b]
    gpu-tracker import PATH --format obs-log|gpuhunt-json [--source-name NAME]
    gpu-tracker sql "QUERY" [--format table|csv|json]
    gpu-tracker build-models
    gpu-tracker ui

``run`` and ``backfill`` go through Dagster (the same job the schedule runs, in-process,
recorded in DAGSTER_HOME), then build the models; ``pipelines.launch`` does the launching.
Every command exits non-zero with a one-line reason on error, prints progress to stderr and
one summary line to stdout; Dagster's DEBUG and BetaWarning lines only with ``-v``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

log = logging.getLogger("gpu_tracker")


class CliError(Exception):
    """An error reported as one line, exit code 2."""


# The daily partitions (pipelines/defs/sources.py DAILY): from 2023-01-01 to today (UTC) + 1.
PARTITION_START = dt.date(2023, 1, 1)
PARTITION_END_OFFSET_DAYS = 1


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {value!r}") from None


def _today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


def _check_partition_date(flag: str, day: dt.date) -> None:
    """A date the daily partitions hold: not before their start, not after today + offset."""
    last = _today() + dt.timedelta(days=PARTITION_END_OFFSET_DAYS)
    if day < PARTITION_START:
        raise CliError(f"{flag} {day} is before the first partition {PARTITION_START}")
    if day > last:
        raise CliError(
            f"{flag} {day} is in the future: the last partition is {last} (today UTC + "
            f"{PARTITION_END_OFFSET_DAYS})"
        )


class _Parser(argparse.ArgumentParser):
    """argparse with usage errors in one line (not usage + error on two)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _sources_arg(value: str | None) -> list[str] | None:
    if not value:
        return None
    from pipelines.lib.ingest import ALL_SOURCES

    names = [s.strip() for s in value.split(",") if s.strip()]
    unknown = [s for s in names if s not in ALL_SOURCES]
    if unknown:
        raise CliError(f"unknown source(s) {unknown}; known: {', '.join(ALL_SOURCES)}")
    return names


def _archive_sources(archive_dir: Path, days: list[dt.date]) -> list[str]:
    """Sources that have a folder for any of the days in a replay archive."""
    from pipelines.lib.archive import list_payload_names
    from pipelines.lib.ingest import ALL_SOURCES

    return [s for s in ALL_SOURCES if any(list_payload_names(archive_dir, s, d) for d in days)]


def _run_sources(days: list[dt.date], from_archive: Path | None, sources: list[str] | None) -> dict:
    """Materialize the source assets for ``days`` in one Dagster run, then the models."""
    from pipelines import launch
    from pipelines.defs.sources import source_asset_key

    if from_archive is not None:
        if not from_archive.is_dir():
            raise CliError(f"--from-archive {from_archive}: not a directory")
        if sources is None:
            sources = _archive_sources(from_archive, days)
            if not sources:
                raise CliError(f"{from_archive} holds no payloads for {days[0]}..{days[-1]}")
    else:
        from pipelines.lib.config import load_config

        config = load_config()
        enabled = config.enabled_sources()
        sources = [s for s in (sources or enabled)]
        _preflight(config, sources)
    run_config = {"resources": {"tracker": {"config": {"from_archive": str(from_archive or "")}}}}
    if len(days) == 1:
        tags = {}
        partition_key = days[0].isoformat()
    else:
        tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        }
        partition_key = None
    started = time.monotonic()
    launch.progress(
        f"loading {len(sources)} source(s) for {days[0]}"
        + (f"..{days[-1]} ({len(days)} dates)" if len(days) > 1 else "")
        + (f" from archive {from_archive}" if from_archive else " live")
    )
    outcome = launch.run_job(
        "daily_sources_job",
        run_config=run_config,
        partition_key=partition_key,
        tags=tags,
        asset_selection=[source_asset_key(s) for s in sources],
        what="gpu-tracker run/backfill",
    )
    full = [f for f in outcome.failed_steps if "disk full (" in f or "file size limit reached" in f]
    if full:  # the models could not be written either: say it once, not once per step
        raise CliError(
            f"{full[0][full[0].find('warehouse ') :]} ({len(full)} of {len(sources)} source step(s) "
            "failed on it; models not built)"
        )
    models = _build_models()
    return {
        "sources": sources,
        "failed": outcome.failed_steps,
        "models": models,
        "run_id": outcome.run_id,
        "seconds": round(time.monotonic() - started, 1),
    }


def _preflight(config, sources: list[str]) -> None:
    """Live runs only: stop at once when no source host can be reached (offline machine),
    instead of every source retrying through minutes of backoff; a partial outage goes on."""
    from pipelines.lib.netcheck import NetworkUnreachable, preflight

    seconds = float(config.http.get("preflight_seconds", 10))
    try:
        checks = preflight(config.data.get("sources", {}), sources, seconds)
    except NetworkUnreachable as exc:
        raise CliError(str(exc)) from None
    for check in checks:
        if not check.ok:
            print(
                f"  {check.host}:{check.port} unreachable ({check.error}): "
                f"{', '.join(check.sources)} will fail",
                file=sys.stderr,
                flush=True,
            )


def _build_models(full_refresh: bool = False) -> dict:
    """Run the models job (same path as the sensor after a scheduled run)."""
    from pipelines import launch

    launch.progress("building models")
    run_config = (
        {"ops": {"sql_models": {"config": {"full_refresh": True}}}} if full_refresh else None
    )
    outcome = launch.run_job("models_job", run_config=run_config, what="gpu-tracker build-models")
    return {
        "success": outcome.success,
        "failed_checks": outcome.failed_checks,
        "failed": outcome.failed_steps,
    }


def _summary(rows_by_status: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in rows_by_status.items())


def cmd_run(args) -> int:
    today = _today()
    day = args.date or today
    _check_partition_date("--date", day)
    if args.from_archive is None and day != today:
        # a live fetch returns today's prices: stored under another date they would lie
        raise CliError(
            f"--date {day}: a live fetch gets today's ({today}) prices; to load {day}, "
            "replay its payloads with --from-archive DIR"
        )
    out = _run_sources([day], args.from_archive, _sources_arg(args.sources))
    return _report_run(out, [day])


def cmd_backfill(args) -> int:
    _check_partition_date("--start", args.start)
    _check_partition_date("--end", args.end)
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    days = [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]
    out = _run_sources(days, args.from_archive, _sources_arg(args.sources))
    return _report_run(out, days)


def _report_run(out: dict, days: list[dt.date]) -> int:
    from pipelines.lib import warehouse
    from pipelines.lib.config import load_config

    db = load_config().warehouse_path
    with warehouse.reader(db) as con:
        rows, quarantined = con.execute(
            "SELECT (SELECT count(*) FROM raw.gpu_offers WHERE date BETWEEN ? AND ? "
            "AND source IN (SELECT unnest(?::VARCHAR[]))),"
            " (SELECT count(*) FROM raw.quarantine WHERE date BETWEEN ? AND ? "
            "AND source IN (SELECT unnest(?::VARCHAR[])))",
            [days[0], days[-1], out["sources"], days[0], days[-1], out["sources"]],
        ).fetchone()
        market_rows = sum(
            con.execute(
                f"SELECT count(*) FROM {t} WHERE date BETWEEN ? AND ? AND source IN (SELECT unnest(?::VARCHAR[]))",
                [days[0], days[-1], out["sources"]],
            ).fetchone()[0]
            for t in ("raw.model_catalog", "raw.api_prices", "raw.sec_facts")
        )
    status = "ok" if not out["failed"] and out["models"]["success"] else "with errors"
    print(
        f"run {status}: {len(days)} date(s), {len(out['sources'])} source(s), {rows} offers loaded, "
        + (f"{market_rows} model/API-price/SEC rows loaded, " if market_rows else "")
        + f"{quarantined} quarantined, {len(out['failed'])} failed step(s), "
        f"{len(out['models']['failed_checks'])} failing model check(s), {out['seconds']}s"
    )
    for line in out["failed"]:
        print(f"  failed: {line}", file=sys.stderr)
    for line in out["models"]["failed"]:
        print(f"  model step failed: {line}", file=sys.stderr)
    for line in out["models"]["failed_checks"]:
        print(f"  check: {line}", file=sys.stderr)
    return 0 if status == "ok" else 1


def cmd_import(args) -> int:
    from pipelines.lib import importers, warehouse
    from pipelines.lib.config import load_config
    from pipelines.lib.offers import normalise_offers

    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path}: no such file")
    db = load_config().warehouse_path
    started = time.monotonic()
    # a slug that is no live source's id: an import replaces its source's rows for its dates
    source = importers.import_source_name(
        args.source_name, "obs_log" if args.format == "obs-log" else "gpuhunt", db
    )
    if args.format == "obs-log":
        batches = [importers.read_obs_log(path)]
    else:
        files = sorted(path.glob("*.json")) if path.is_dir() else [path]
        batches = [importers.read_gpuhunt_json(f) for f in files]
    import polars as pl

    offers_parts, quarantine_parts, days = [], [], []
    total_days = sum(len(b.records_by_date) for b in batches)
    done = 0
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
            done += 1
            if done % 10 == 0 or done == total_days:
                print(f"  parsed {done}/{total_days} dates ({day})", file=sys.stderr)
    offers = pl.concat(offers_parts)
    quarantine = pl.concat(quarantine_parts)
    print(
        f"  writing {offers.height} offers, {quarantine.height} quarantined to {db}",
        file=sys.stderr,
    )
    warehouse.load_source_day(
        db,
        source=source,
        days=days,
        offers=offers,
        quarantine=quarantine,
        payloads=[path.name],
        mode="import",
    )
    print("  building models", file=sys.stderr)
    models = _build_models()
    reasons = dict(quarantine.group_by("reason").len().iter_rows()) if quarantine.height else {}
    print(
        f"import {'ok' if models['success'] else 'with model errors'}: source={source} "
        f"{offers.height} offers over {len(days)} dates ({days[0]}..{days[-1]}), "
        f"{quarantine.height} quarantined"
        + (f" ({_summary(reasons)})" if reasons else "")
        + (f", corrections: {_summary(corrections)}" if any(corrections.values()) else "")
        + f", {time.monotonic() - started:.1f}s"
    )
    for line in models["failed_checks"]:
        print(f"  check: {line}", file=sys.stderr)
    return 0 if models["success"] else 1


def cmd_sql(args) -> int:
    from pipelines.lib import sql_console
    from pipelines.lib.config import load_config

    # one read-only query in a sandbox that cannot change any file (pipelines/lib/sql_console.py)
    try:
        out = sql_console.run_query(
            load_config().warehouse_path,
            args.query,
            args.format,
            max_rows=args.max_rows,
            timeout=args.timeout,
        )
    except sql_console.SqlConsoleError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(out)
    return 0


def cmd_alerts(args) -> int:
    from pipelines.lib.alerts import evaluate_and_deliver
    from pipelines.lib.config import load_config

    config = load_config()
    if not config.warehouse_path.exists():
        raise CliError(f"warehouse {config.warehouse_path} does not exist yet: run or import first")
    try:
        result = evaluate_and_deliver(
            config.warehouse_path, args.date, config.data.get("alerts", {})
        )
    except ValueError as exc:
        raise CliError(str(exc)) from None
    for line in result.lines:
        print(f"  {line}", file=sys.stderr)
    print(
        f"alerts for {result.day}: {result.evaluated} raised, {result.new} new, {result.delivered} delivered, "
        f"{result.still_pending} still pending (see marts.alerts)"
    )
    return 0 if result.still_pending == 0 else 1


def cmd_backup(args) -> int:
    from pipelines.lib.backup import BackupError, backup
    from pipelines.lib.config import load_config

    try:
        manifest = backup(load_config().warehouse_path, args.out)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"backup ok: {args.out / manifest['folder'] / manifest['file']} ({manifest['bytes']} bytes, "
        f"{len(manifest['tables'])} tables, {sum(manifest['tables'].values())} rows)"
    )
    return 0


def cmd_restore(args) -> int:
    from pipelines.lib.backup import BackupError, restore
    from pipelines.lib.config import load_config

    db = load_config().warehouse_path
    try:
        manifest = restore(args.backup_dir, db)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"restore ok: {db} from backup of {manifest['created_at']} "
        f"({sum(manifest['tables'].values())} rows verified)"
    )
    return 0


def cmd_stage_shared(args) -> int:
    from pipelines.lib.config import REPO_ROOT
    from pipelines.lib.shared_history import stage

    shared = args.shared or REPO_ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        raise CliError(f"{shared}: no such folder (pass --shared)")
    staged = stage(shared, args.out)
    if not staged:
        raise CliError(f"{shared}: no market payloads found")
    by_source: dict[str, list] = {}
    for item in staged:
        by_source.setdefault(item.source, []).append(item.day)
    for source, days in sorted(by_source.items()):
        print(f"  {source}: {len(days)} date(s) {min(days)}..{max(days)}", file=sys.stderr)
    start, end = min(s.day for s in staged), max(s.day for s in staged)
    print(
        f"staged {len(staged)} payloads into {args.out}; replay with:\n"
        f"  gpu-tracker backfill --from-archive {args.out} --start {start} --end {end}"
    )
    return 0


def _number(value: str) -> float:
    try:
        return float(value.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def cmd_estimate(args) -> int:
    from pipelines.lib.config import load_config
    from pipelines.lib.cost_model import EstimateError, estimate

    defaults = load_config().data.get("estimate", {})
    try:
        out = estimate(
            params=args.params,
            active_params=args.active_params,
            tokens=args.tokens,
            train_tokens=args.train_tokens,
            gpu=args.gpu,
            usd_per_hour=args.usd_per_hour,
            mfu=args.mfu,
            precision=args.precision,
            defaults=defaults,
        )
    except EstimateError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(out, indent=2))
    return 0


def cmd_build_models(args) -> int:
    models = _build_models(full_refresh=args.full_refresh)
    print(
        f"models {'ok' if models['success'] else 'failed'}: "
        f"{len(models['failed_checks'])} failing check(s)"
        + (f", failed: {models['failed'][0]}" if models["failed"] else "")
    )
    for line in models["failed_checks"]:
        print(f"  check: {line}", file=sys.stderr)
    return 0 if models["success"] else 1


def cmd_ui(args) -> int:
    from pipelines.launch import ensure_dagster_home

    home = ensure_dagster_home()
    print(f"DAGSTER_HOME={home}", file=sys.stderr)
    os.execvp("dagster", ["dagster", "dev", "-m", "pipelines.definitions", "-p", str(args.port)])
    return 0  # pragma: no cover


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gpu-tracker", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="debug logging, Dagster's event log and warnings, tracebacks",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="materialize the daily graph for one date")
    p.add_argument("--date", type=_date, help="YYYY-MM-DD (default: today, UTC)")
    p.add_argument("--from-archive", type=Path, help="replay raw payloads from this archive dir")
    p.add_argument("--sources", help="comma-separated source ids (default: all enabled)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("backfill", help="replay a date range from an archive in one Dagster run")
    p.add_argument("--from-archive", type=Path, required=True)
    p.add_argument("--start", type=_date, required=True)
    p.add_argument("--end", type=_date, required=True)
    p.add_argument("--sources")
    p.set_defaults(func=cmd_backfill)

    p = sub.add_parser("import", help="load a third-party price history, then rebuild models")
    p.add_argument("path")
    p.add_argument("--format", choices=["obs-log", "gpuhunt-json"], required=True)
    p.add_argument(
        "--source-name",
        help="source id to tag the rows with (default: obs_log / gpuhunt); "
        "lower-case letters, digits, underscore; not a live source's id",
    )
    p.set_defaults(func=cmd_import)

    p = sub.add_parser("sql", help="run a read-only query against the warehouse")
    p.add_argument("query")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--max-rows", type=int, default=50)
    p.add_argument(
        "--timeout",
        type=float,
        help="statement timeout in seconds (default: GPU_TRACKER_SQL_TIMEOUT_SECONDS or 60)",
    )
    p.set_defaults(func=cmd_sql)

    p = sub.add_parser("build-models", help="rebuild the SQL models and run their tests")
    p.add_argument(
        "--full-refresh",
        action="store_true",
        help="rebuild incremental models (marts.gpu_price_daily) from scratch, not just the new dates",
    )
    p.set_defaults(func=cmd_build_models)

    p = sub.add_parser(
        "alerts", help="evaluate alert rules for a date and deliver undelivered alerts"
    )
    p.add_argument(
        "--date", type=_date, help="YYYY-MM-DD (default: newest date in marts.gpu_price_daily)"
    )
    p.set_defaults(func=cmd_alerts)

    p = sub.add_parser(
        "backup", help="consistent copy of the warehouse + manifest (row counts, sha256)"
    )
    p.add_argument("--out", type=Path, required=True)
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="replace the warehouse with a verified backup")
    p.add_argument("backup_dir", type=Path)
    p.set_defaults(func=cmd_restore)

    p = sub.add_parser(
        "stage-shared", help="lay out ../shared/data's real market payloads as a replay archive"
    )
    p.add_argument("--out", type=Path, required=True, help="archive directory to write")
    p.add_argument(
        "--shared", type=Path, help="shared data folder (default: ../shared/data beside the repo)"
    )
    p.set_defaults(func=cmd_stage_shared)

    p = sub.add_parser(
        "estimate", help="compute-cost model: inference (and training) FLOPs, time, cost"
    )
    p.add_argument("--params", type=_number, required=True, help="parameters N (e.g. 70e9)")
    p.add_argument(
        "--active-params", type=_number, help="active parameters of a mixture-of-experts model"
    )
    p.add_argument(
        "--tokens", type=_number, required=True, help="inference tokens (input + output)"
    )
    p.add_argument(
        "--train-tokens", type=_number, help="training tokens D (adds the training estimate)"
    )
    p.add_argument("--gpu", required=True, help="canonical GPU id, e.g. H100-SXM-80GB")
    p.add_argument("--usd-per-hour", type=_number, required=True, help="USD per GPU-hour")
    p.add_argument(
        "--mfu", type=_number, help="model FLOP utilization (default: config [estimate] mfu)"
    )
    p.add_argument("--precision", help="fp64|fp32|tf32|bf16|fp16|fp8|int8 (default: config, bf16)")
    p.add_argument("--format", choices=["json"], default="json")
    p.set_defaults(func=cmd_estimate)

    from pipelines.serving_cli import add_parser as add_serving_cost_parser

    add_serving_cost_parser(sub)  # serving-cost: cost per 1M tokens (pipelines.lib.serving)

    from pipelines.cli_sources import cmd_doctor, cmd_sources

    p = sub.add_parser("sources", help="every source with its kind, providers and terms of use")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_sources)

    p = sub.add_parser(
        "doctor", help="fetch, archive and parse one live payload per enabled source"
    )
    p.add_argument("--sources", help="comma-separated source ids (default: all enabled)")
    p.add_argument(
        "--out",
        type=Path,
        help="archive dir for the fetched payloads (default: <warehouse dir>/doctor/<time>)",
    )
    p.add_argument("--format", choices=["table", "json"], default="table")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("ui", help="start the Dagster UI (dagster dev) on this project")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    return parser


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())  # DuckDB and Dagster messages span lines
    return text[:500] or type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import duckdb

    from pipelines.launch import LaunchError, configure_output
    from pipelines.lib.redact import install_log_redaction
    from pipelines.lib.warehouse import WarehouseWriteError

    configure_output(args.verbose)  # Dagster's DEBUG events and BetaWarnings only with -v
    install_log_redaction()  # no secret from the environment in any log line (even -v DEBUG)
    try:
        return args.func(args)
    except (CliError, LaunchError) as exc:
        print(f"gpu-tracker: {_one_line(exc)}", file=sys.stderr)
        return 2
    except WarehouseWriteError as exc:
        print(f"gpu-tracker {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, TimeoutError) as exc:
        print(f"gpu-tracker {args.command}: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"gpu-tracker {args.command}: interrupted", file=sys.stderr)
        return 130
    except (OSError, duckdb.Error) as exc:  # disk full, permissions, a file DuckDB cannot use
        if args.verbose:
            raise
        print(
            f"gpu-tracker {args.command}: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr
        )
        return 2
    except Exception as exc:  # anything else: one line, the traceback with -v
        if args.verbose:
            raise
        print(
            f"gpu-tracker {args.command}: unexpected {type(exc).__name__}: {_one_line(exc)} "
            "(-v shows the traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
