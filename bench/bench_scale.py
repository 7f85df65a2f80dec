"""Scale benchmark: parse + normalise + load + SQL model build at 1x, 10x and 100x today's
offer volume over 90 days (issue #6, part 5).

Today's volume is about 10,000 candidate offers a day (Vast.ai's search returns up to 5,000
bundles, ~1.7 records each with the interruptible price; the SkyPilot catalogs, RunPod and
Azure add a few thousand). The benchmark runs 10k, 100k and 1M offers a day.

Each day's payloads are synthetic but built the way the real ones are, then go through the
production replay path:

* a Vast.ai ``bundles.json`` (60% of the day's records): the offer fields Vast returns, the
  GPU names and memory sizes of real Vast listings, a few percent of cards the tracker does
  not price (``Titan Xp``) that must be quarantined, a bid floor on ~70% of offers;
* four SkyPilot ``vms.csv`` catalogs (40%): rows resampled from the real catalogs in
  ``../shared/data/skypilot_catalog`` (nebius, lambda, verda, hyperstack), prices drifted
  day to day, regions suffixed so every row is a distinct offer.

Untimed: writing the payloads to a temporary raw archive. Timed, per source and day:
``ingest.ingest(..., from_archive=...)`` (read, parse, normalise, de-duplicate -- the code
behind ``gpu-tracker run --from-archive``) and ``warehouse.load_source_day`` (one transaction
per source and day). After the last day: the ``dbt_like`` build of every SQL model with its
data tests, in full (the first build); then one more day is loaded and the daily build runs
(``marts.gpu_price_daily`` is incremental: it rebuilds the new date only). Each volume runs
in a fresh child process so its peak RSS is its own.

Reported per volume: median per-day parse+normalise and load seconds and rows/s, load time
over the first vs the last 10 days (a load must not slow down as history grows), model
build seconds over all rows, peak RSS, warehouse size, and the ratio of each time to the
smallest volume next to the ratio of rows (linear growth = the same ratio).

Usage: ``python bench/bench_scale.py [--days 90] [--sizes 10000,100000,1000000] [--memory-limit 4GB] [--write]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"

CHILD = r"""
import datetime as dt, json, resource, sys, time
from pathlib import Path
import numpy as np, polars as pl
from pipelines.lib import archive, ingest, warehouse
from pipelines.lib.config import load_config
from dbt_like import Project

db, n, days, sql_dir, shared = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], Path(sys.argv[5])
arch = db.parent / "archive"
config = load_config(None)
rng = np.random.default_rng(42)

# ---- Vast.ai: (name, MiB per GPU, USD per GPU-hour around which offers sit, weight)
VAST = [("RTX 4090", 24564, 0.38, 30), ("RTX 3090", 24576, 0.20, 20), ("A100 SXM4", 81920, 1.10, 10),
        ("A100 PCIE", 40960, 0.80, 6), ("H100 SXM", 81920, 2.10, 12), ("H100 NVL", 95830, 2.30, 5),
        ("L40S", 46068, 0.75, 8), ("RTX A6000", 49140, 0.45, 6), ("Titan Xp", 12288, 0.08, 3)]
v_names = np.array([v[0] for v in VAST]); v_ram = np.array([v[1] for v in VAST])
v_price = np.array([v[2] for v in VAST]); v_w = np.array([v[3] for v in VAST], float); v_w /= v_w.sum()
GEOS = np.array(["Texas, US", "Quebec, CA", "Sweden, SE", "Oregon, US", "Bavaria, DE", "Taiwan, TW", "Ohio, US"])

def vast_payload(n_offers, day_index):
    g = rng.choice(len(VAST), n_offers, p=v_w)
    num = rng.choice([1, 1, 1, 2, 4, 8], n_offers)
    dph = np.round(v_price[g] * num * rng.lognormal(0, 0.25, n_offers), 4)
    bid = np.where(rng.random(n_offers) < 0.7, np.round(dph * rng.uniform(0.4, 0.8, n_offers), 4), 0.0)
    ids = np.arange(n_offers) + day_index * 10_000_000
    offers = pl.DataFrame({
        "id": ids, "machine_id": ids // 3, "gpu_name": v_names[g], "num_gpus": num, "gpu_ram": v_ram[g],
        "dph_total": dph, "min_bid": bid, "geolocation": GEOS[rng.integers(0, len(GEOS), n_offers)],
        "rentable": np.ones(n_offers, bool), "rented": rng.random(n_offers) < 0.1,
        "verified": np.ones(n_offers, bool), "reliability2": np.round(rng.uniform(0.9, 1, n_offers), 4),
    })
    return b'{"offers": ' + offers.write_json().encode() + b"}"

# ---- SkyPilot catalogs: real rows, resampled
COLS = [
    "InstanceType", "AcceleratorName", "AcceleratorCount", "vCPUs", "MemoryGiB",
    "Price", "Region", "GpuInfo", "SpotPrice",
]
templates = {}
for cloud in ("nebius", "lambda", "verda", "hyperstack"):
    path = sorted((shared / "skypilot_catalog" / cloud).glob("v8_*.csv"))[-1]
    t = pl.read_csv(path, infer_schema_length=0)
    for c in COLS:
        if c not in t.columns:
            t = t.with_columns(pl.lit(None, dtype=pl.Utf8).alias(c))
    t = t.select(COLS).filter(pl.col("AcceleratorName").is_not_null() & pl.col("Price").is_not_null())
    templates[cloud] = t.with_columns(
        pl.col("Price").cast(pl.Float64), pl.col("SpotPrice").cast(pl.Float64, strict=False)
    )

def sky_payloads(n_rows):
    out, per_cloud = {}, n_rows // len(templates)
    for cloud, t in templates.items():
        idx = rng.integers(0, t.height, per_cloud)
        drift = rng.lognormal(0, 0.05, per_cloud)
        rows = t[idx].with_columns(
            (pl.col("Price") * drift).round(4).cast(pl.Utf8),
            (pl.col("SpotPrice") * drift).round(4).cast(pl.Utf8),
            (pl.col("Region") + "-z" + pl.Series(np.arange(per_cloud)).cast(pl.Utf8)),
        )
        out[f"{cloud}.csv"] = rows.write_csv().encode()
    return out

def one_day(d):
    day = dt.date(2026, 3, 1) + dt.timedelta(days=d)
    n_vast = int(n * 0.6 / 1.7)
    payloads = {"vastai": {"bundles.json": vast_payload(n_vast, d)},
                "skypilot_catalog": sky_payloads(int(n * 0.4 / 1.6))}
    for source, files in payloads.items():
        for name, content in files.items():
            archive.write_payload(arch, source, day, name, content, url="synthetic://bench", status=200)
    rec = {"day": d, "records": 0, "offers": 0, "quarantined": 0, "parse_s": 0.0, "load_s": 0.0}
    for source in payloads:
        t0 = time.perf_counter()
        result = ingest.ingest(source, day, config, from_archive=arch)
        t1 = time.perf_counter()
        warehouse.load_source_day(db, source=source, days=[day], offers=result.offers,
                                  quarantine=result.quarantine, payloads=result.payloads, mode=result.mode,
                                  status=result.status, error=None)
        t2 = time.perf_counter()
        rec["parse_s"] += t1 - t0
        rec["load_s"] += t2 - t1
        rec["offers"] += result.offers.height
        rec["quarantined"] += result.quarantine.height
    rec["records"] = rec["offers"] + rec["quarantined"]
    for source in payloads:  # keep the disk bounded: replay already read them
        for p in archive.date_dir(arch, source, day).glob("*"):
            p.unlink()
    if d % 10 == 0 or d == days - 1:
        print(f"  day {d + 1}/{days}: {rec['records']:,} records, parse {rec['parse_s']:.2f} s, "
              f"load {rec['load_s']:.2f} s, rss {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB",
              file=sys.stderr, flush=True)
    return rec

project = Project.load(sql_dir)

def build():
    t = time.perf_counter()
    with warehouse.writer(db) as con:
        con.execute("set enable_progress_bar = false")
        result = project.build(con)
    return time.perf_counter() - t, result

per_day = [one_day(d) for d in range(days)]
build_s, result = build()  # the first build: every model in full over all days
ok = result.ok
one_day(days)  # the next day's load, then the daily build: the mart rebuilds that date only
inc_build_s, result = build()
ok = ok and result.ok
with warehouse.reader(db) as con:
    rows = con.sql("select count(*) from raw.gpu_offers").fetchone()[0]
    quarantined = con.sql("select count(*) from raw.quarantine").fetchone()[0]
    mart_rows = con.sql("select count(*) from marts.gpu_price_daily").fetchone()[0]
print(json.dumps({"per_day": per_day, "build_s": build_s, "inc_build_s": inc_build_s,
                  "inc_message": result.models["marts.gpu_price_daily"].message, "ok": ok, "rows": rows,
                  "quarantined": quarantined, "mart_rows": mart_rows, "db_mb": db.stat().st_size / 2**20,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def run_volume(n: int, days: int, memory_limit: str | None) -> dict:
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        print(f"{n:,} offers/day x {days} days ...", file=sys.stderr, flush=True)
        t = time.perf_counter()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                str(Path(tmp) / "w.duckdb"),
                str(n),
                str(days),
                str(REPO / "sql"),
                str(SHARED),
            ],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            check=True,
            env={**os.environ, "GPU_TRACKER_DUCKDB_MEMORY_LIMIT": memory_limit or ""},
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["wall_s"] = time.perf_counter() - t
    pd = r["per_day"]
    r["records_day"] = _median([d["records"] for d in pd])
    r["parse_s"] = _median([d["parse_s"] for d in pd])
    r["load_s"] = _median([d["load_s"] for d in pd])
    r["load_first10"] = _median([d["load_s"] for d in pd[:10]])
    r["load_last10"] = _median([d["load_s"] for d in pd[-10:]])
    r["quarantined_day"] = _median([d["quarantined"] for d in pd])
    return r


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument(
        "--memory-limit",
        help="DuckDB memory_limit for the run, e.g. 4GB (default: DuckDB's 80%% of RAM)",
    )
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = [run_volume(n, args.days, args.memory_limit) for n in sizes]
    b = results[0]
    lines = [
        (
            f"## scale: parse + normalise + load + build -- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} -- "
            f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, {args.days} days, "
            f"DuckDB memory_limit {args.memory_limit or 'default (80% of RAM)'}"
        ),
        "",
        "Per-day figures are medians over the days. Ratios are against the smallest volume in the same run.",
        "",
        (
            "| offers/day | records/day (median) | quarantined/day | parse+normalise s/day | records/s | "
            "load s/day | rows/s | load first 10 d / last 10 d | rows in warehouse | full model build s | "
            "daily (incremental) build s | peak RSS MB | warehouse MB | data tests |"
        ),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for n, r in zip(sizes, results, strict=True):
        lines.append(
            f"| {n:,} | {r['records_day']:,.0f} | {r['quarantined_day']:,.0f} | {r['parse_s']:.2f} | "
            f"{r['records_day'] / r['parse_s']:,.0f} | {r['load_s']:.2f} | {r['records_day'] / r['load_s']:,.0f} | "
            f"{r['load_first10']:.2f} / {r['load_last10']:.2f} | {r['rows']:,} | {r['build_s']:.1f} | "
            f"{r['inc_build_s']:.1f} | "
            f"{r['rss_mb']:,.0f} | {r['db_mb']:,.0f} | {'pass' if r['ok'] else 'FAIL'} |"
        )
    lines += [
        "",
        (
            "| offers/day | rows vs smallest | parse+normalise time vs smallest | load time vs smallest | "
            "full build time vs smallest | daily build time vs smallest | wall (s) |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for n, r in zip(sizes, results, strict=True):
        lines.append(
            f"| {n:,} | {r['records_day'] / b['records_day']:.1f}x | {r['parse_s'] / b['parse_s']:.1f}x | "
            f"{r['load_s'] / b['load_s']:.1f}x | {r['build_s'] / b['build_s']:.1f}x | "
            f"{r['inc_build_s'] / b['inc_build_s']:.1f}x | {r['wall_s']:.0f} |"
        )
    lines.append("")
    print("\n".join(lines))
    if args.write:
        with (REPO / "bench" / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
