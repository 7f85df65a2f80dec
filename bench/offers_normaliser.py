"""Speed and output hashes of ``normalise_offers`` on the real payloads (issue #11 item 7).

Runs the SkyPilot parser over every ``../shared/data/skypilot_catalog/*/v8_*.csv`` and
normalises each catalog exactly as ingest does (the parser's frame, ``payload_name`` set),
then the 125-day observation log day by day (what ``gpu-tracker import`` does). Prints one
JSON line: the median of 5 timings of each workload, and a sha256 of every offers and
quarantine frame (CSV bytes, fetched_at fixed), so a rewrite of the normaliser can prove it
changed no output: run it before and after and compare the ``hashes``.

    python bench/offers_normaliser.py > /tmp/after.json
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path

import polars as pl

from pipelines.lib.importers import read_obs_log
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
DAY = dt.date(2026, 5, 24)
FETCHED = dt.datetime(2026, 5, 24, 6, 0, tzinfo=dt.UTC)
REPEATS = 5


def _catalogs() -> list[tuple[str, pl.DataFrame]]:
    out = []
    for path in sorted((SHARED / "skypilot_catalog").glob("*/v8_*.csv")):
        name = f"{path.parent.name}.csv"
        frame = skypilot_catalog.parse(name, path.read_bytes())
        out.append(
            (
                f"{path.parent.name}/{path.name}",
                frame.with_columns(pl.lit(name).alias("payload_name")),
            )
        )
    return out


def _digest(frame: pl.DataFrame) -> str:
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()[:16]


def _median(fn) -> float:
    times = []
    for _ in range(REPEATS):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(statistics.median(times), 4)


def main() -> int:
    catalogs = _catalogs()
    obs_path = next(
        (SHARED / "price_history" / "cherielilili_gpu_pricing_tracker").glob("observations_*.csv")
    )
    obs = read_obs_log(obs_path).records_by_date

    def run_catalogs() -> None:
        for _, frame in catalogs:
            normalise_offers(frame, source="skypilot_catalog", day=DAY, fetched_at=FETCHED)

    def run_obs_log() -> None:
        for day, records in obs.items():
            normalise_offers(records, source="obs_log", day=day)

    hashes = {}
    for label, frame in catalogs:
        offers, quarantine = normalise_offers(
            frame, source="skypilot_catalog", day=DAY, fetched_at=FETCHED
        )
        hashes[label] = {
            "offers": [offers.height, _digest(offers)],
            "quarantine": [quarantine.height, _digest(quarantine)],
        }
    obs_parts = [normalise_offers(r, source="obs_log", day=d) for d, r in sorted(obs.items())]
    hashes["obs_log"] = {
        "offers": [
            sum(o.height for o, _ in obs_parts),
            _digest(pl.concat([o for o, _ in obs_parts])),
        ],
        "quarantine": [
            sum(q.height for _, q in obs_parts),
            _digest(pl.concat([q for _, q in obs_parts])),
        ],
    }
    result = {
        "catalogs": len(catalogs),
        "catalog_rows": sum(f.height for _, f in catalogs),
        "obs_log_days": len(obs),
        "obs_log_rows": sum(len(r) for r in obs.values()),
        "seconds_all_catalogs_median_of_5": _median(run_catalogs),
        "seconds_obs_log_125_days_median_of_5": _median(run_obs_log),
        "hashes": hashes,
    }
    json.dump(result, sys.stdout, sort_keys=True)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
