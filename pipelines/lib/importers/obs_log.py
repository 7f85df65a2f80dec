"""The ``obs-log`` importer: a daily observation log CSV (the columns of
``shared/data/price_history/cherielilili_*``), each row already an aggregate of ``n_offers``
offers, read into candidate records per date with the corrections of
``obs_log_corrections`` applied (and counted)."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl

from pipelines.lib.importers.base import ImportBatch, ImportFormatError
from pipelines.lib.importers.obs_log_corrections import (
    GETDEPLOYING_PER_GPU_FROM,
    NEBIUS_ON_DEMAND_FROM,
    _drop_out_of_bounds_statistics,
    _per_statistic_basis,
)

OBS_LOG_COLUMNS = (
    "date",
    "provider",
    "gpu_model",
    "gpu_count",
    "region",
    "rental_type",
    "price_min_usd",
    "price_median_usd",
    "price_max_usd",
    "n_offers",
    "source_url",
    "fetched_at",
)


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
    nebius_spot = (
        (pl.col("host") == "nebius.com")
        & (pl.col("day") < NEBIUS_ON_DEMAND_FROM)
        & (pl.col("rental_type") == "on_demand")
    )
    frame = frame.with_columns(
        pl.when(nebius_spot).then(pl.lit("spot")).otherwise(pl.col("rental_type")).alias("pricing"),
        nebius_spot.alias("_c2"),
    )
    frame, n_mixed = _per_statistic_basis(frame, per_instance)
    frame, stat_quarantine = _drop_out_of_bounds_statistics(frame)
    corrections = Counter(
        {
            "getdeploying_instance_prices": int(frame["_c1"].sum()),
            "nebius_preemptible_as_on_demand": int(frame["_c2"].sum()),
            "getdeploying_mixed_fetch_statistics": n_mixed,
            "statistic_out_of_bounds": len(stat_quarantine),
        }
    )
    records: dict[dt.date, list[dict[str, Any]]] = {}
    for row in frame.iter_rows(named=True):
        records.setdefault(row["day"], []).append(_candidate(row, path.name))
    for row in stat_quarantine:
        # a copy of the row that can only be quarantined: quarantine_reason names the
        # statistic, and with no price it is refused by any version of normalise_offers
        records.setdefault(row["day"], []).append(
            _candidate(row, path.name)
            | {
                "price": None,
                "price_min": None,
                "price_max": None,
                "quarantine_reason": "statistic_out_of_bounds",
                "quarantine_detail": row["_stat_detail"],
            }
        )
    return ImportBatch(records, corrections)


def _candidate(row: dict[str, Any], payload_name: str) -> dict[str, Any]:
    """One log row as a candidate record for ``normalise_offers`` (the median is the price)."""
    region = row["region"]
    return {
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
        "payload_name": payload_name,
    }
