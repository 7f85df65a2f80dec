"""Selecting the report's rows from the published marts: typed frames, one day, rankings.

Only rows dated on or before ``as_of`` are ever used, so re-rendering an old day gives that
day's report. A missing, empty or malformed frame becomes a ``Frame`` with ``df=None`` and the
reason, which the section shows as a "No data" note: nothing is dropped silently.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import polars as pl

from pipelines.lib.report.fmt import isnum
from pipelines.lib.report.schemas import DATE_KIND, DTYPES, REQUIRED, SCHEMAS

POPULAR_GPUS = (
    "H100-SXM-80GB",
    "H200-SXM-141GB",
    "B200-180GB",
    "A100-SXM-80GB",
    "MI300X-192GB",
    "L40S-48GB",
    "RTX4090-24GB",
)
# index exclusions that say something about the observed price itself (not_reported has none)
FLAG_REASONS = {
    "constant_floor": "constant floor",
    "not_a_spot_price": "not a spot price",
    "outlier": "outlier",
}


@dataclass
class Frame:
    """A mart ready for the report, or None and why (``note``)."""

    df: pl.DataFrame | None
    note: str = ""


def prepare(frames: dict[str, pl.DataFrame] | None, name: str, as_of: dt.date) -> Frame:
    """The mart with known dtypes, rows up to ``as_of``; or None and a reason."""
    df = (frames or {}).get(name)
    if not isinstance(df, pl.DataFrame):
        return Frame(None, f"marts.{name} is not available.")
    missing = [c for c in REQUIRED[name] if c not in df.columns]
    if missing:
        return Frame(None, f"marts.{name} lacks column(s) {', '.join(missing)}.")
    if df.height == 0:
        return Frame(None, f"marts.{name} is empty.")
    exprs = []
    for col, kind in SCHEMAS[name].items():
        dtype = DTYPES[kind]
        if col not in df.columns:
            exprs.append(pl.lit(None, dtype=dtype).alias(col))
        elif kind == DATE_KIND and df.schema[col] == pl.String:
            exprs.append(pl.col(col).str.to_date(strict=False).alias(col))
        elif df.schema[col] != dtype:
            exprs.append(pl.col(col).cast(dtype, strict=False).alias(col))
    if exprs:
        df = df.with_columns(exprs)
    df = df.filter(pl.col("date").is_not_null() & (pl.col("date") <= as_of))
    if df.height == 0:
        return Frame(None, f"marts.{name} has no rows on or before {as_of.isoformat()}.")
    return Frame(df)


def day_rows(f: Frame, as_of: dt.date) -> pl.DataFrame | None:
    """The as-of day's rows, or None when there are none."""
    if f.df is None:
        return None
    day = f.df.filter(pl.col("date") == as_of)
    return day if day.height else None


def latest(f: Frame) -> dt.date | None:
    """The newest date in the frame (None when it is missing)."""
    return None if f.df is None else f.df["date"].max()


def no_day_text(name: str, f: Frame, as_of: dt.date, what: str = "") -> str:
    """Why a section has nothing for ``as_of``, naming the newest date it does have."""
    newest = latest(f)
    tail = f" Latest date in marts.{name}: {newest.isoformat()}." if newest else ""
    return f"marts.{name} has no {what}rows for {as_of.isoformat()}.{tail}"


def day_or_why(name: str, f: Frame, as_of: dt.date) -> tuple[pl.DataFrame | None, str]:
    """The as-of day's rows of marts.``name``, or None and the note saying why (the mart is
    missing, or has nothing that day: naming its newest date)."""
    if f.df is None:
        return None, f.note
    day = day_rows(f, as_of)
    return (day, "") if day is not None else (None, no_day_text(name, f, as_of))


def methodology_versions(*frames: pl.DataFrame | None) -> list[str]:
    """The methodology versions of the first frame that names any."""
    for frame in frames:
        if frame is not None:
            versions = sorted({v for v in frame["methodology_version"].to_list() if v})
            if versions:
                return versions
    return []


def gpu_sort_key(gpu: str, value: float | None = None) -> tuple:
    """Popular GPUs first in their fixed order, then by ``value`` descending, then by name."""
    pop = POPULAR_GPUS.index(gpu) if gpu in POPULAR_GPUS else len(POPULAR_GPUS)
    v = -float(value) if isnum(value) else math.inf
    return (pop, v, gpu)


def rank_by_providers(today: dict[str, int], history: dict[str, int], n: int) -> list[str]:
    """The ``n`` GPUs with most providers today, then in history, then popular, then name."""
    gpus = sorted(
        set(today) | set(history),
        key=lambda g: (
            -today.get(g, 0),
            -history.get(g, 0),
            POPULAR_GPUS.index(g) if g in POPULAR_GPUS else len(POPULAR_GPUS),
            g,
        ),
    )
    return gpus[:n]


def flagged_observations(
    constituents: Frame, gpu: str, pricing: str = "on_demand"
) -> dict[tuple[str, dt.date], str]:
    """(provider, date) -> why the index left that provider's price out (constant floor,
    outlier, not a spot price), for one GPU and price type, segment ``all``. The price itself
    stays in ``gpu_price_daily`` and on the charts: these are the points to mark."""
    if constituents.df is None:
        return {}
    rows = constituents.df.filter(
        (pl.col("gpu_model") == gpu)
        & (pl.col("pricing") == pricing)
        & (pl.col("segment").is_null() | (pl.col("segment") == "all"))
        & ~pl.col("included").fill_null(True)
        & pl.col("exclusion_reason").is_in(list(FLAG_REASONS))
    )
    return {
        (prov, d): FLAG_REASONS[reason]
        for prov, d, reason in rows.select("provider", "date", "exclusion_reason").iter_rows()
    }
