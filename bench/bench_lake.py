"""Benchmark: the DuckLake backends against the DuckDB file, measured in the same run.

    python bench/bench_lake.py [--repeat 3] [--writers 4] [--dates-per-writer 6] [--write]

Backends (a fresh warehouse for every repetition):

* ``file``        -- the DuckDB file (the baseline of every ratio);
* ``lake_local``  -- ``ducklake:<tmp>/catalog.ducklake`` with a local data directory;
* ``lake_pg_s3``  -- ``ducklake:postgres:<fresh database>`` with data in a fresh S3 bucket,
  when ``GPU_TRACKER_TEST_PG_DSN`` and ``GPU_TRACKER_TEST_S3_ENDPOINT`` are set (the services
  ``.ci/run`` starts: a local PostgreSQL cluster and moto_server, both on loopback).

Measurements:

1. ``gpu-tracker import`` of the shared observation log (125 days, 26,254 offers) including
   the full model build and publish -- a fresh process, wall time;
2. a multi-writer load: ``--writers`` processes each load ``--dates-per-writer`` dates of the
   same log's real offers (one ``load_source_day`` transaction per source x date), started
   together; wall time from the start signal until the last writer is done, and the number of
   commit-conflict retries the warehouse module made.

Medians over ``--repeat`` runs; ratios are against the file backend of the same run. With
``--write`` a section is appended to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
OBS_LOG = (
    REPO_ROOT.parent
    / "shared"
    / "data"
    / "price_history"
    / "cherielilili_gpu_pricing_tracker"
    / "observations_2026-02-11_to_2026-06-15.csv"
)
PG_ENV, S3_ENV = "GPU_TRACKER_TEST_PG_DSN", "GPU_TRACKER_TEST_S3_ENDPOINT"

WRITER = r"""
import logging, sys, time
from pathlib import Path
import polars as pl
from pipelines.lib import warehouse
from pipelines.lib.config import load_config
from pipelines.lib.offers import QUARANTINE_SCHEMA

logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
frame = pl.read_parquet(sys.argv[1])
start = Path(sys.argv[2])
db = load_config().warehouse_path
with warehouse.writer(db):
    pass
Path(sys.argv[3]).touch()  # ready
while not start.exists():
    time.sleep(0.005)
for day in sorted(frame["date"].unique().to_list()):
    warehouse.load_source_day(db, source="obs_log", days=[day], offers=frame.filter(pl.col("date") == day),
                              quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), payloads=["bench.csv"],
                              mode="import")
print(time.time())
"""


def _pg_admin(sql: str) -> None:
    import psycopg2

    con = psycopg2.connect(os.environ[PG_ENV])
    con.autocommit = True
    try:
        con.cursor().execute(sql)
    finally:
        con.close()


def backend_env(kind: str, root: Path) -> tuple[dict[str, str], str | None]:
    """The environment selecting a fresh ``kind`` warehouse under ``root``; and the Postgres
    database to drop afterwards."""
    root.mkdir(parents=True)
    config = root / "gpu_tracker.toml"
    config.write_text(f'[paths]\narchive = "{root / "raw"}"\ndagster_home = "{root / "dh"}"\n')
    (root / "dh").mkdir()
    (root / "dh" / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GPU_TRACKER_", "AWS_"))}
    env.update(
        GPU_TRACKER_CONFIG=str(config),
        DAGSTER_HOME=str(root / "dh"),
        GPU_TRACKER_PUBLISHED=str(root / "published"),
    )
    if kind == "file":
        env["GPU_TRACKER_WAREHOUSE"] = str(root / "gpu_market.duckdb")
        return env, None
    if kind == "lake_local":
        env["GPU_TRACKER_WAREHOUSE"] = f"ducklake:{root / 'catalog.ducklake'}"
        env["GPU_TRACKER_LAKE_DATA"] = str(root / "lake_data")
        return env, None
    import boto3

    name = f"bench_{uuid.uuid4().hex[:10]}"
    _pg_admin(f"CREATE DATABASE {name}")
    boto3.client(
        "s3",
        endpoint_url=os.environ[S3_ENV],
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
    ).create_bucket(Bucket=name.replace("_", "-"))
    dsn = " ".join(p for p in os.environ[PG_ENV].split() if not p.startswith("dbname="))
    env.update(
        GPU_TRACKER_WAREHOUSE=f"ducklake:postgres:{dsn} dbname={name}",
        GPU_TRACKER_LAKE_DATA=f"s3://{name.replace('_', '-')}/gpu_market",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_REGION="us-east-1",
        AWS_ENDPOINT_URL=os.environ[S3_ENV],
    )
    return env, name


def bench_import(kind: str, tmp: Path) -> float:
    env, pg_db = backend_env(kind, tmp / f"import_{kind}_{uuid.uuid4().hex[:6]}")
    try:
        started = time.monotonic()
        out = subprocess.run(
            [sys.executable, "-m", "pipelines.cli", "import", str(OBS_LOG), "--format", "obs-log"],
            env=env,
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        wall = time.monotonic() - started
        if out.returncode != 0 or "import ok" not in out.stdout:
            raise SystemExit(
                f"import on {kind} failed: {(out.stderr or out.stdout).strip()[-300:]}"
            )
        return wall
    finally:
        if pg_db:
            _pg_admin(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")


def real_offers(n_dates: int):
    import polars as pl

    from pipelines.lib import importers
    from pipelines.lib.offers import normalise_offers

    batch = importers.read_obs_log(OBS_LOG)
    days = sorted(batch.records_by_date)[:n_dates]
    return pl.concat(
        [normalise_offers(batch.records_by_date[d], source="obs_log", day=d)[0] for d in days]
    )


def bench_writers(kind: str, tmp: Path, offers, writers: int, per_writer: int) -> tuple[float, int]:
    import polars as pl

    root = tmp / f"writers_{kind}_{uuid.uuid4().hex[:6]}"
    env, pg_db = backend_env(kind, root)
    try:
        days = sorted(offers["date"].unique().to_list())
        start = root / "start"
        procs = []
        for i in range(writers):
            part = root / f"w{i}.parquet"
            offers.filter(
                pl.col("date").is_in(days[i * per_writer : (i + 1) * per_writer])
            ).write_parquet(part)
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-c", WRITER, str(part), str(start), str(root / f"ready{i}")],
                    env=env,
                    cwd=REPO_ROOT,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
        deadline = time.monotonic() + 300
        while not all((root / f"ready{i}").exists() for i in range(writers)):
            if time.monotonic() > deadline or any(p.poll() not in (None, 0) for p in procs):
                raise SystemExit(
                    f"{kind}: writers did not get ready: "
                    f"{[p.communicate()[1][-300:] for p in procs if p.poll()]}"
                )
            time.sleep(0.05)
        started = time.time()
        start.touch()
        ends, retries = [], 0
        for proc in procs:
            out, err = proc.communicate(timeout=600)
            if proc.returncode != 0:
                raise SystemExit(f"{kind}: a writer failed: {err.strip()[-300:]}")
            ends.append(float(out.strip().splitlines()[-1]))
            retries += err.count("lake commit conflict")
        return max(ends) - started, retries
    finally:
        if pg_db:
            _pg_admin(f"DROP DATABASE IF EXISTS {pg_db} WITH (FORCE)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--dates-per-writer", type=int, default=6)
    parser.add_argument("--write", action="store_true", help="append a section to bench/RESULTS.md")
    args = parser.parse_args(argv)
    kinds = ["file", "lake_local"]
    if os.environ.get(PG_ENV) and os.environ.get(S3_ENV):
        kinds.append("lake_pg_s3")
    else:
        print(f"lake_pg_s3 skipped: {PG_ENV} / {S3_ENV} not set", file=sys.stderr)
    offers = real_offers(args.writers * args.dates_per_writer)
    imports: dict[str, list[float]] = {k: [] for k in kinds}
    loads: dict[str, list[float]] = {k: [] for k in kinds}
    retries: dict[str, list[int]] = {k: [] for k in kinds}
    with tempfile.TemporaryDirectory(prefix="bench_lake_") as tmp_name:
        tmp = Path(tmp_name)
        for rep in range(
            args.repeat
        ):  # interleaved, so load on the machine hits every backend alike
            for kind in kinds:
                imports[kind].append(bench_import(kind, tmp))
                wall, n = bench_writers(kind, tmp, offers, args.writers, args.dates_per_writer)
                loads[kind].append(wall)
                retries[kind].append(n)
                print(
                    f"  rep {rep + 1} {kind}: import {imports[kind][-1]:.1f}s, "
                    f"{args.writers} writers {wall:.1f}s ({n} conflict retries)",
                    file=sys.stderr,
                )

    names = {
        "file": "DuckDB file",
        "lake_local": "DuckLake, DuckDB catalog + local dir",
        "lake_pg_s3": "DuckLake, Postgres catalog + S3 (moto)",
    }
    base_i, base_l = statistics.median(imports["file"]), statistics.median(loads["file"])
    n_parts = args.writers * args.dates_per_writer
    lines = [
        (
            f"## lake backends -- {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC -- {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, repeat={args.repeat}"
        ),
        "",
        (
            f"Written by `python bench/bench_lake.py --write`. Import: `gpu-tracker import` of the shared "
            f"125-day observation log (26,254 offers) incl. model build and publish, fresh process. "
            f"Writers: {args.writers} processes x {args.dates_per_writer} dates ({n_parts} partitions, "
            f"{offers.height:,} real offers of the same log), one transaction per source x date, started "
            "together. Ratios against the DuckDB file in the same run; Postgres and moto run on the same "
            "2 cores (shared with other work), so absolute figures are pessimistic."
        ),
        "",
        (
            "| backend | import median (s) | import runs (s) | vs file | writers median (s) | writer runs (s) "
            "| vs file | rows/s (writers) | conflict retries per run |"
        ),
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for kind in kinds:
        mi, ml = statistics.median(imports[kind]), statistics.median(loads[kind])
        lines.append(
            f"| {names[kind]} | {mi:.1f} | {', '.join(f'{x:.1f}' for x in imports[kind])} | "
            f"{mi / base_i:.2f}x | {ml:.1f} | {', '.join(f'{x:.1f}' for x in loads[kind])} | "
            f"{ml / base_l:.2f}x | {offers.height / ml:,.0f} | {', '.join(map(str, retries[kind]))} |"
        )
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        with open(REPO_ROOT / "bench" / "RESULTS.md", "a") as fh:
            fh.write("\n" + text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
