"""The ``gpu-tracker`` commands that launch Dagster jobs: run, backfill, import, build-models,
alerts, ui.

Every warehouse write is an asset materialization: these commands check their arguments,
launch a job through ``pipelines.launch`` (recorded in DAGSTER_HOME, the same jobs the
schedule and the UI run), and print one summary line from what the run reported. Argument
parsing lives in ``pipelines.cli``.

* ``run`` / ``backfill`` -- ``daily_sources_job`` for the dates, then ``models_job``. A live
  run (``run`` without ``--from-archive``) executes its sources in parallel processes
  (``GPU_TRACKER_SOURCE_PROCESSES``, default 4); a replay stays in this process.
* ``import`` -- ``import_job`` (asset ``raw/imported_offers``), then ``models_job``.
* ``alerts`` -- ``alerts_job`` (asset ``marts/alerts``).
* ``ui`` -- ``dg dev`` in the project root with DAGSTER_HOME set.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from pipelines import cli
from pipelines.cli import CliError, CommandFailed


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


def _choose_sources(
    days: list[dt.date], from_archive: Path | None, sources: list[str] | None
) -> list[str]:
    """The sources a run loads: asked for, else those the archive holds, else every enabled
    one (a live run first checks that their hosts can be reached at all)."""
    if from_archive is not None:
        if not from_archive.is_dir():
            raise CliError(f"--from-archive {from_archive}: not a directory")
        if sources is None:
            sources = _archive_sources(from_archive, days)
            if not sources:
                raise CliError(f"{from_archive} holds no payloads for {days[0]}..{days[-1]}")
        return sources
    from pipelines.lib.config import load_config

    config = load_config()
    sources = list(sources or config.enabled_sources())
    _preflight(config, sources)
    return sources


def _run_sources(days: list[dt.date], from_archive: Path | None, sources: list[str] | None) -> dict:
    """Materialize the source assets for ``days`` in one Dagster run, then the models."""
    from pipelines import launch
    from pipelines.defs.sources import source_asset_key

    sources = _choose_sources(days, from_archive, sources)
    run_config = {"resources": {"tracker": {"config": {"from_archive": str(from_archive or "")}}}}
    if len(days) == 1:
        tags, partition_key = {}, days[0].isoformat()
    else:
        tags = {
            "dagster/asset_partition_range_start": days[0].isoformat(),
            "dagster/asset_partition_range_end": days[-1].isoformat(),
        }
        partition_key = None
    # live sources wait on the network: side by side in processes; a replay is CPU-bound and
    # stays in this process (on two cores a process start-up costs more than it saves)
    live = from_archive is None and len(days) == 1 and len(sources) > 1
    processes = min(launch.source_processes(), len(sources)) if live else 1
    started = time.monotonic()
    launch.progress(
        f"loading {len(sources)} source(s) for {days[0]}"
        + (f"..{days[-1]} ({len(days)} dates)" if len(days) > 1 else "")
        + (f" from archive {from_archive}" if from_archive else " live")
        + (f", {processes} at a time" if processes > 1 else "")
    )
    outcome = launch.run_job(
        "daily_sources_job",
        run_config=run_config,
        partition_key=partition_key,
        tags=tags,
        asset_selection=[source_asset_key(s) for s in sources],
        what="gpu-tracker run/backfill",
        processes=processes,
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

    seconds = float(config.settings.http.preflight_seconds)
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
    """Run the models job (the same job automation runs after a scheduled sources run)."""
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
    today = cli._today()  # through the module: tests pin "today" there
    day = args.date or today
    cli._check_partition_date("--date", day)
    if args.from_archive is None and day != today:
        # a live fetch returns today's prices: stored under another date they would lie
        raise CliError(
            f"--date {day}: a live fetch gets today's ({today}) prices; to load {day}, "
            "replay its payloads with --from-archive DIR"
        )
    out = _run_sources([day], args.from_archive, _sources_arg(args.sources))
    return _report_run(out, [day])


def cmd_backfill(args) -> int:
    cli._check_partition_date("--start", args.start)
    cli._check_partition_date("--end", args.end)
    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    days = [args.start + dt.timedelta(days=i) for i in range((args.end - args.start).days + 1)]
    out = _run_sources(days, args.from_archive, _sources_arg(args.sources))
    return _report_run(out, days)


def _loaded_rows(days: list[dt.date], sources: list[str]) -> tuple[int, int, int]:
    """Offers, quarantined rows and market rows now in the warehouse for the run's scope."""
    from pipelines.lib import warehouse
    from pipelines.lib.config import load_config

    with warehouse.reader(load_config().warehouse_path) as con:
        rows, quarantined = con.execute(
            "SELECT (SELECT count(*) FROM raw.gpu_offers WHERE date BETWEEN ? AND ? "
            "AND source IN (SELECT unnest(?::VARCHAR[]))),"
            " (SELECT count(*) FROM raw.quarantine WHERE date BETWEEN ? AND ? "
            "AND source IN (SELECT unnest(?::VARCHAR[])))",
            [days[0], days[-1], sources, days[0], days[-1], sources],
        ).fetchone()
        market_rows = sum(
            con.execute(
                f"SELECT count(*) FROM {t} WHERE date BETWEEN ? AND ? AND source IN (SELECT unnest(?::VARCHAR[]))",
                [days[0], days[-1], sources],
            ).fetchone()[0]
            for t in ("raw.model_catalog", "raw.api_prices", "raw.sec_facts")
        )
    return rows, quarantined, market_rows


def _report_run(out: dict, days: list[dt.date]) -> int:
    rows, quarantined, market_rows = _loaded_rows(days, out["sources"])
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
    from pipelines import launch
    from pipelines.defs.imports import DEFAULT_NAMES, IMPORT_OP, IMPORTED_OFFERS
    from pipelines.lib import importers
    from pipelines.lib.config import load_config

    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path}: no such file")
    started = time.monotonic()
    # refused before anything is read: a slug that is no live source's id (the asset checks
    # again, for imports launched from the UI)
    source = importers.import_source_name(
        args.source_name, DEFAULT_NAMES[args.format], load_config().warehouse_path
    )
    config = {"path": str(path.resolve()), "format": args.format, "source_name": source}
    outcome = launch.run_job(
        "import_job",
        run_config={"ops": {IMPORT_OP: {"config": config}}},
        what="gpu-tracker import",
    )
    loaded = outcome.materialized.get(IMPORTED_OFFERS.to_user_string())
    if not outcome.success or loaded is None:
        raise CommandFailed(outcome.first_failure() or f"{path}: nothing was imported")
    models = _build_models()
    reasons, corrections = loaded["quarantine_reasons"], loaded["corrections"]
    print(
        f"import {'ok' if models['success'] else 'with model errors'}: source={source} "
        f"{loaded['offers']} offers over {loaded['dates']} dates "
        f"({loaded['first_date']}..{loaded['last_date']}), {loaded['quarantined']} quarantined"
        + (f" ({_summary(reasons)})" if reasons else "")
        + (f", corrections: {_summary(corrections)}" if any(corrections.values()) else "")
        + f", {time.monotonic() - started:.1f}s"
    )
    for line in models["failed_checks"]:
        print(f"  check: {line}", file=sys.stderr)
    return 0 if models["success"] else 1


def cmd_alerts(args) -> int:
    from pipelines import launch
    from pipelines.defs.alerting import ALERTS_KEY, ALERTS_OP
    from pipelines.lib.config import load_config

    config = load_config()
    if not config.warehouse_path.exists():
        raise CliError(f"warehouse {config.warehouse_path} does not exist yet: run or import first")
    day = args.date.isoformat() if args.date else ""
    outcome = launch.run_job(
        "alerts_job",
        run_config={"ops": {ALERTS_OP: {"config": {"date": day}}}},
        what="gpu-tracker alerts",
    )
    result = outcome.materialized.get(ALERTS_KEY.to_user_string())
    if not outcome.success or result is None:
        raise CommandFailed(outcome.first_failure() or "the alerts run failed")
    for line in result["lines"].splitlines():
        print(f"  {line}", file=sys.stderr)
    print(
        f"alerts for {result['date']}: {result['raised']} raised, {result['new']} new, "
        f"{result['delivered']} delivered, {result['still_pending']} still pending "
        "(see marts.alerts)"
    )
    return 0 if result["still_pending"] == 0 else 1


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
    from pipelines.launch import QUIET_ENV, ensure_dagster_home
    from pipelines.lib.config import REPO_ROOT

    home = ensure_dagster_home()
    # dg is installed beside this interpreter (dagster-dg-cli); PATH may not name that bin dir
    beside = Path(sys.executable).with_name("dg")
    dg_cli = str(beside) if beside.exists() else shutil.which("dg")
    if dg_cli is None:
        raise CliError("dg not found: install the dev extras (pip install -e '.[dev]')")
    print(f"DAGSTER_HOME={home}", file=sys.stderr)
    # the UI's own processes log as Dagster does: the CLI's quiet setting stays here
    env = {k: v for k, v in os.environ.items() if k != QUIET_ENV}
    # in the project root: dg finds the code location from [tool.dg] in pyproject.toml
    return subprocess.call([dg_cli, "dev", "--port", str(args.port)], cwd=REPO_ROOT, env=env)
