"""Scale benchmark: load + SQL model build at growing offer volumes (issue #6, part 5).

Synthetic but realistic offers (the real observation log's GPU / provider / pricing mix,
prices drawn around each series' real median) are generated straight into the canonical
offer schema, then for each volume:

* ``load``  -- ``warehouse.load_source_day`` of D days x N offers/day (one transaction per day,
  the production write path);
* ``build`` -- ``dbt_like`` build of every SQL model with its data tests.

Parsing/normalisation is *not* in this benchmark: ``offers.normalise_offers`` still loops
per row in Python and is the next hot path to vectorise (see the issue note). Reported per
volume: wall seconds, rows per second, and peak RSS of a fresh child process, plus the
time ratio to the smallest volume (linear growth = the same ratio as the rows).

Usage: ``python bench/bench_scale.py [--days 7] [--sizes 10000,100000,1000000] [--write]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

CHILD = r"""
import datetime as dt, json, sys, time
from pathlib import Path
import numpy as np, polars as pl
from pipelines.lib import warehouse
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA
from dbt_like import Project

db, n, days = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(42)
series = [("H100-SXM-80GB", "H100", 2.7), ("A100-SXM-80GB", "A100", 1.4), ("H200-SXM-141GB", "H200", 3.2),
          ("B200-180GB", "B200", 5.0), ("L40S-48GB", "L40S", 0.9), ("MI300X-192GB", "MI300X", 2.0),
          ("RTX4090-24GB", "RTX4090", 0.4)]
providers = [("vastai", "marketplace"), ("runpod", "neocloud"), ("lambda", "neocloud"), ("nebius", "neocloud"),
             ("aws", "hyperscaler"), ("azure", "hyperscaler"), ("crusoe", "neocloud"), ("coreweave", "neocloud")]
load_s = 0.0
for d in range(days):
    day = dt.date(2026, 6, 1) + dt.timedelta(days=d)
    gi = rng.integers(0, len(series), n)
    pi = rng.integers(0, len(providers), n)
    base = np.array([s[2] for s in series])[gi] * rng.lognormal(0, 0.25, n)
    frame = pl.DataFrame({
        "date": [day] * n, "source": ["synthetic"] * n,
        "provider": np.array([p[0] for p in providers])[pi], "provider_tier": np.array([p[1] for p in providers])[pi],
        "upstream_source": ["bench"] * n, "gpu_name_raw": np.array([s[0] for s in series])[gi],
        "gpu_model": np.array([s[0] for s in series])[gi], "gpu_family": np.array([s[1] for s in series])[gi],
        "gpu_variant_assumed": [False] * n, "gpu_count": [1] * n,
        "instance_type": [f"i{i}" for i in range(n)], "region": ["r1"] * n,
        "pricing": np.where(rng.random(n) < 0.3, "spot", "on_demand"), "reserved_term": [None] * n,
        "price_original": base, "price_basis": ["per_gpu"] * n, "currency": ["USD"] * n,
        "price_usd_per_gpu_hour": base, "price_min_usd_per_gpu_hour": base, "price_max_usd_per_gpu_hour": base,
        "n_offers": [1] * n, "stock_status": [None] * n, "available_gpus": [None] * n,
        "payload_name": ["bench.json"] * n, "fetched_at": [dt.datetime(2026, 6, 1, tzinfo=dt.UTC)] * n,
    }).cast(OFFER_SCHEMA)
    t = time.perf_counter()
    warehouse.load_source_day(db, source="synthetic", days=[day], offers=frame,
                              quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA), payloads=["bench.json"], mode="live")
    load_s += time.perf_counter() - t
t = time.perf_counter()
with warehouse.writer(db) as con:
    result = Project.load(sys.argv[4]).build(con)
build_s = time.perf_counter() - t
import resource
print(json.dumps({"load_s": load_s, "build_s": build_s, "ok": result.ok,
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--write", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    results = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            print(f"{n} offers/day x {args.days} days ...", file=sys.stderr)
            out = subprocess.run([sys.executable, "-c", CHILD, str(Path(tmp) / "w.duckdb"), str(n), str(args.days),
                                  str(REPO / "sql")], capture_output=True, text=True, cwd=REPO, check=True)
            r = json.loads(out.stdout.strip().splitlines()[-1])
            r["rows"] = n * args.days
            results.append(r)
    base = results[0]
    lines = [(f"## scale -- {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} -- {platform.machine()}, "
             f"{os.cpu_count()} cores, Python {platform.python_version()}, {args.days} days"),
             "", ("| offers/day | rows | load (s) | load rows/s | model build (s) | peak RSS (MB) | "
             "load time vs smallest | build time vs smallest | rows vs smallest | data tests |"),
             "|---|---|---|---|---|---|---|---|---|---|"]
    for n, r in zip(sizes, results, strict=True):
        lines.append(f"| {n:,} | {r['rows']:,} | {r['load_s']:.2f} | {r['rows'] / r['load_s']:,.0f} | "
                     f"{r['build_s']:.2f} | {r['rss_mb']:.0f} | {r['load_s'] / base['load_s']:.1f}x | "
                     f"{r['build_s'] / base['build_s']:.1f}x | {r['rows'] / base['rows']:.0f}x | "
                     f"{'pass' if r['ok'] else 'FAIL'} |")
    lines.append("")
    print("\n".join(lines))
    if args.write:
        with (REPO / "bench" / "RESULTS.md").open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
