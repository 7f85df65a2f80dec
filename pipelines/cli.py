"""``gpu-tracker``: the command-line interface (contract in ARCHITECTURE.md).

    gpu-tracker run [--date D] [--from-archive DIR] [--sources a,b]
    gpu-tracker backfill --from-archive DIR --start D --end D [--sources a,b]
    gpu-tracker import PATH --format obs-log|gpuhunt-json [--source-name NAME]
    gpu-tracker sql "QUERY" [--format table|csv|json]
    gpu-tracker build-models [--full-refresh]
    gpu-tracker alerts [--date D]
    gpu-tracker ui

This module parses arguments and reports errors; the commands live in ``pipelines.cli_run``
(the ones that launch Dagster jobs: run, backfill, import, build-models, alerts, ui -- every
warehouse write is an asset materialization, recorded in DAGSTER_HOME), ``pipelines.cli_tools``
(sql, backup, restore, stage-shared, estimate), ``pipelines.cli_sources`` (sources, doctor)
and ``pipelines.serving_cli`` (serving-cost). Every command exits non-zero with a one-line
reason on error, prints progress to stderr and one summary line to stdout; Dagster's DEBUG
and BetaWarning lines only with ``-v``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import sys
from pathlib import Path

log = logging.getLogger("gpu_tracker")


class CliError(Exception):
    """An error reported as one line, exit code 2."""


class CommandFailed(Exception):
    """The run a command launched failed: its first error, one line after the command's name
    (as the same error raised in this process was), exit code 2."""


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


def build_parser() -> argparse.ArgumentParser:
    from pipelines.cli_run import (
        cmd_alerts,
        cmd_backfill,
        cmd_build_models,
        cmd_import,
        cmd_run,
        cmd_ui,
    )
    from pipelines.cli_tools import (
        _number,
        cmd_backup,
        cmd_estimate,
        cmd_restore,
        cmd_sql,
        cmd_stage_shared,
    )

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

    p = sub.add_parser("ui", help="start the Dagster UI (dg dev) on this project")
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
    except (WarehouseWriteError, CommandFailed) as exc:
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
