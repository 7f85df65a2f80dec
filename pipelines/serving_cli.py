"""``gpu-tracker serving-cost``: cost per 1M output tokens of a model on a GPU (contract in
ARCHITECTURE.md, "serving cost"; the logic is ``pipelines.lib.serving``).

    gpu-tracker serving-cost --model M --gpu GPU_ID [--usd-per-hour X | --date D]
                             [--scenario Offline] [--pricing on_demand] [--source mlperf_inference]
                             --format json

The benchmark rows come from the warehouse (``raw.serving_benchmarks``), the one code path for
the CLI, the mart and the report. When they are not loaded the command fails with one line
saying how to load them (``gpu-tracker run --sources mlperf_inference`` fetches the summaries
live; ``gpu-tracker stage-shared`` + ``backfill`` replays the copies in ../shared/data).
The price is ``--usd-per-hour``, or the ``MARKET_LEVEL`` of ``--date`` (default: the newest
date of ``marts.daily_summary``) for ``--pricing``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

import duckdb
import polars as pl

NOT_LOADED = (
    "no {source} rows in raw.serving_benchmarks: load them first, e.g. "
    "`gpu-tracker run --sources {source}` (live) or `gpu-tracker stage-shared --out DIR` "
    "then `gpu-tracker backfill --from-archive DIR ...`"
)


def _query(con: duckdb.DuckDBPyConnection, sql: str, params: list) -> pl.DataFrame | None:
    schema, table = sql.split(" from ", 1)[1].split()[0].split(".")
    exists = con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return con.execute(sql, params).pl() if exists else None


def serving_cost_command(args: argparse.Namespace) -> dict:
    """The command's JSON answer; ``ValueError`` (one line) when it cannot be given."""
    from pipelines.lib import serving, warehouse
    from pipelines.lib.config import load_config
    from pipelines.lib.cost_model import EstimateError, resolve_gpu_id

    try:
        gpu = resolve_gpu_id(args.gpu)
    except EstimateError as exc:
        raise ValueError(str(exc)) from None
    if args.usd_per_hour is not None and args.date is not None:
        raise ValueError("give --usd-per-hour or --date, not both")
    db = load_config().warehouse_path
    try:
        with warehouse.reader(db) as con:
            bench = _query(
                con, "select * from raw.serving_benchmarks where source = ?", [args.source]
            )
            summary = None
            if args.usd_per_hour is None:
                level_mart, level_col = serving.MARKET_LEVEL
                summary = _query(
                    con,
                    f"select date, gpu_model, pricing, {level_col} from {level_mart} "
                    "where gpu_model = ? and pricing = ?",
                    [gpu, args.pricing],
                )
    except duckdb.IOException as exc:  # a writer kept the file past the reader's wait
        raise ValueError(f"warehouse {db} is busy, try again: {str(exc).splitlines()[0]}") from None
    if bench is None or bench.height == 0:
        raise ValueError(NOT_LOADED.format(source=args.source))
    if args.usd_per_hour is not None:
        price, basis = args.usd_per_hour, "--usd-per-hour"
    else:
        if summary is None or summary.height == 0:
            raise ValueError(
                f"no {args.pricing} prices for {gpu} in {serving.MARKET_LEVEL[0]}: "
                "give --usd-per-hour or load prices first"
            )
        day = args.date or summary["date"].max()
        price = serving.market_level(summary, gpu_model=gpu, day=day, pricing=args.pricing)
        basis = f"{'.'.join(serving.MARKET_LEVEL)} {args.pricing} {day}"
    out = serving.serving_cost(
        bench,
        model=args.model,
        gpu_model=gpu,
        usd_per_gpu_hour=price,
        scenario=args.scenario,
        source=args.source,
        price_basis=basis,
    )
    return out


def cmd_serving_cost(args: argparse.Namespace) -> int:
    from pipelines.lib.serving import ServingCostError

    try:
        out = serving_cost_command(args)
    except ServingCostError as exc:
        raise ValueError(str(exc)) from None
    print(json.dumps(out, indent=2, default=str))
    return 0


def _positive(value: str) -> float:
    try:
        x = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None
    if not x > 0 or x == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number: {value!r}")
    return x


def add_parser(sub) -> None:
    """Register ``serving-cost`` on the CLI's subparsers."""
    p = sub.add_parser(
        "serving-cost",
        help="USD per 1M output tokens of a model on a GPU, from "
        "measured throughput (MLPerf) and a GPU-hour price",
    )
    p.add_argument(
        "--model",
        required=True,
        help="benchmark or model key: llama2-70b, gpt-oss-120b, deepseek-r1 ...",
    )
    p.add_argument("--gpu", required=True, help="canonical GPU id, e.g. H200-SXM-141GB")
    p.add_argument("--usd-per-hour", type=_positive, help="USD per GPU-hour")
    p.add_argument(
        "--date",
        type=dt.date.fromisoformat,
        help="price = that day's market level (default: newest date)",
    )
    p.add_argument("--pricing", default="on_demand", help="on_demand | spot ... (with --date)")
    p.add_argument("--scenario", default="Offline", help="Offline | Server | Interactive")
    p.add_argument("--source", default="mlperf_inference", help="mlperf_inference | inferencex")
    p.add_argument("--format", choices=["json"], default="json")
    p.set_defaults(func=cmd_serving_cost)
