"""Importers for third-party price histories: parse a file into candidate records per date.

Two formats (``gpu-tracker import PATH --format ...``):

* ``obs-log``      -- a daily observation log with the columns of
  ``shared/data/price_history/cherielilili_*`` (``date, provider, gpu_model, gpu_count,
  region, rental_type, price_min_usd, price_median_usd, price_max_usd, n_offers,
  source_url, fetched_at``). Each row is already an aggregate of ``n_offers`` offers.
* ``gpuhunt-json`` -- a gpuhunt daily snapshot (``[{"gpuModel", "price": "$x.xx",
  "provider"}]``), one file per day, date from the file name (``YYYY-MM-DD_*``).

Corrections applied to the observation log, each established from the data itself and
listed in ``OBS_LOG_CORRECTIONS`` so a reader can see and test them:

1. *getdeploying.com instance prices.* Rows fetched before 2026-02-18T21:00Z quote the
   price of the whole multi-GPU instance, not per GPU (Lambda 8x H100 SXM 23.92 beside 1x
   3.29 on 2026-02-11; AWS 8x H100 55.04). From the 21:00 fetch on they are per GPU. Rows
   in that window get ``price_basis = per_instance`` and are divided by ``gpu_count``.
2. *nebius.com preemptible prices labelled on_demand.* Until 2026-05-30 the log's
   nebius.com scraper recorded the preemptible column (H100 1.25, H200 1.45 = SkyPilot's
   Nebius ``SpotPrice``; on-demand was 2.95/3.50). Those rows are re-labelled ``spot``.
   From 2026-05-31 it records on-demand (H100 2.15 after Nebius' price cut).

Known and *not* corrected (an aggregate row cannot be split): lambda.ai rows mix Lambda's
8x-cluster per-GPU price (3.99) into the 1x row's minimum (their max, 4.29, is the 1x price).

Pure module apart from reading the given file.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

GETDEPLOYING_PER_GPU_FROM = dt.datetime(2026, 2, 18, 21, 0, tzinfo=dt.UTC)
NEBIUS_ON_DEMAND_FROM = dt.date(2026, 5, 31)

OBS_LOG_CORRECTIONS = {
    "getdeploying_instance_prices": (
        "getdeploying.com rows fetched before 2026-02-18T21:00Z are per-instance prices"
    ),
    "nebius_preemptible_as_on_demand": (
        "nebius.com rows dated before 2026-05-31 are preemptible (spot) prices labelled on_demand"
    ),
}

OBS_LOG_COLUMNS = (
    "date", "provider", "gpu_model", "gpu_count", "region", "rental_type", "price_min_usd",
    "price_median_usd", "price_max_usd", "n_offers", "source_url", "fetched_at",
)


class ImportFormatError(ValueError):
    """The file is not in the format it was imported as."""


@dataclass
class ImportBatch:
    """Candidate records grouped by date, ready for ``normalise_offers`` per date."""

    records_by_date: dict[dt.date, list[dict[str, Any]]]
    corrections: Counter

    @property
    def n_records(self) -> int:
        return sum(len(v) for v in self.records_by_date.values())


def read_obs_log(path: Path) -> ImportBatch:
    """Read an observation log CSV into candidate records per date."""
    path = Path(path)
    try:
        frame = pl.read_csv(path, infer_schema_length=0)  # all text: we parse ourselves
    except (pl.exceptions.ComputeError, pl.exceptions.NoDataError) as exc:
        raise ImportFormatError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in OBS_LOG_COLUMNS if c not in frame.columns]
    if missing:
        raise ImportFormatError(f"{path}: not an obs-log (missing columns {missing})")
    frame = frame.with_columns(
        pl.col("source_url").str.extract(r"^https?://([^/]+)").fill_null("").alias("host"),
        pl.col("fetched_at").str.to_datetime(time_zone="UTC", strict=False).alias("fetched_ts"),
        pl.col("date").str.to_date(strict=False).alias("day"),
    )
    bad_dates = frame.filter(pl.col("day").is_null())
    if bad_dates.height:
        raise ImportFormatError(
            f"{path}: {bad_dates.height} rows with unreadable date, e.g. {bad_dates['date'][0]!r}"
        )
    per_instance = (pl.col("host") == "getdeploying.com") & (
        pl.col("fetched_ts") < GETDEPLOYING_PER_GPU_FROM
    ).fill_null(False)
    nebius_spot = (pl.col("host") == "nebius.com") & (pl.col("day") < NEBIUS_ON_DEMAND_FROM) & (
        pl.col("rental_type") == "on_demand"
    )
    frame = frame.with_columns(
        pl.when(per_instance).then(pl.lit("per_instance")).otherwise(pl.lit("per_gpu")).alias("price_basis"),
        pl.when(nebius_spot).then(pl.lit("spot")).otherwise(pl.col("rental_type")).alias("pricing"),
        per_instance.alias("_c1"),
        nebius_spot.alias("_c2"),
    )
    corrections = Counter(
        {
            "getdeploying_instance_prices": int(frame["_c1"].sum()),
            "nebius_preemptible_as_on_demand": int(frame["_c2"].sum()),
        }
    )
    records: dict[dt.date, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        region = row["region"]
        records.setdefault(row["day"], []).append(
            {
                "date": row["day"],
                "provider": row["provider"],
                "segment": region if region in ("secure", "community") else None,
                "upstream_source": row["host"] or None,
                "gpu_name": row["gpu_model"],
                "gpu_count": row["gpu_count"],
                "region": region,
                "pricing": row["pricing"],
                "price": row["price_median_usd"],
                "price_min": row["price_min_usd"],
                "price_max": row["price_max_usd"],
                "n_offers": row["n_offers"],
                "price_basis": row["price_basis"],
                "currency": "USD",
                "payload_name": path.name,
            }
        )
    return ImportBatch(records, corrections)


_GPUHUNT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def read_gpuhunt_json(path: Path, day: dt.date | None = None) -> ImportBatch:
    """Read one gpuhunt snapshot. gpuhunt records neither GPU count nor price type, so every
    row is an *instance* price with unknown GPU count: it is quarantined as
    ``bad_gpu_count`` unless the count can be read off a known single-GPU price list --
    which it cannot here. Identical rows are collapsed into one record with ``n_offers``."""
    path = Path(path)
    if day is None:
        m = _GPUHUNT_NAME.match(path.name)
        if not m:
            raise ImportFormatError(f"{path}: no date in file name (expected YYYY-MM-DD_...)")
        day = dt.date.fromisoformat(m.group(1))
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(data, list) or (data and not isinstance(data[0], dict)):
        raise ImportFormatError(f"{path}: expected a JSON list of offers")
    counts = Counter()
    for item in data:
        if not {"gpuModel", "price", "provider"} <= set(item):
            raise ImportFormatError(f"{path}: offer without gpuModel/price/provider: {item!r}"[:300])
        counts[(item["provider"], item["gpuModel"], item["price"])] += 1
    records = [
        {
            "date": day,
            "provider": provider,
            "upstream_source": "gpuhunt",
            "gpu_name": gpu,
            "gpu_count": None,
            "pricing": "on_demand",
            "price": price,
            "n_offers": n,
            "price_basis": "per_instance",
            "currency": "USD",
            "payload_name": path.name,
        }
        for (provider, gpu, price), n in sorted(counts.items())
    ]
    return ImportBatch({day: records}, Counter())
