"""Candidate records -> one typed column per key, the frame the rules run on.

A parser hands over candidate records as dicts or, columnar, as a polars frame. Either way
``candidate_frame`` gives the same columns: ``_i`` (the record's position), every text key as
Utf8, every numeric key read by ``number_frame`` as Float64 beside ``_amb_<key>`` (its text
was ambiguous), and ``date`` (the record's own date, else the batch's; null when unreadable).
``RawRecords`` keeps the records as they came, for what quarantine must quote of them (the
record as JSON, a value's repr in a detail).

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl

from pipelines.lib.offers.numbers import number_frame

TEXT_KEYS = (
    "provider",
    "segment",
    "upstream_source",
    "gpu_name",
    "gpu_hint",
    "instance_type",
    "region",
    "pricing",
    "reserved_term",
    "price_basis",
    "currency",
    "stock_status",
    "payload_name",
    "quarantine_reason",
    "quarantine_detail",
)
NUM_KEYS = (
    "gpu_memory_gb",
    "gpu_count",
    "price",
    "price_min",
    "price_max",
    "n_offers",
    "available_gpus",
)


class RawRecords:
    """The candidate records as they came (dicts, or the rows of a columnar parser's frame),
    for the few things only the original values can give."""

    def __init__(self, records: Sequence[Mapping[str, Any]] | pl.DataFrame):
        self.records = records

    def rows(self, idx: list[int]) -> list[Mapping[str, Any]]:
        """Records ``idx`` as dicts (a frame's nulls are absent keys, as in a dict record)."""
        if isinstance(self.records, pl.DataFrame):
            return [
                {k: v for k, v in row.items() if v is not None}
                for row in self.records[idx].to_dicts()
            ]
        return [self.records[i] for i in idx]

    def values(self, key: str, idx: list[int]) -> list[Any]:
        """``record.get(key)`` of records ``idx``."""
        if isinstance(self.records, pl.DataFrame):
            if key not in self.records.columns:
                return [None] * len(idx)
            return self.records.get_column(key).gather(idx).to_list()
        return [self.records[i].get(key) for i in idx]


def _constant(value: Any, n: int, dtype: pl.DataType) -> pl.Series:
    """``n`` times ``value`` (without the lazy round trip of ``pl.repeat``)."""
    return pl.Series([value], dtype=dtype).new_from_index(0, n)


def _record_day(value: Any, day: dt.date) -> dt.date | None:
    if not value:
        return day
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value)[:10])
    except ValueError:
        return None  # an accepted record with this date raises (normalise_offers)


def _dates_from_values(values: list[Any], day: dt.date) -> pl.Series:
    """Record dates: few distinct values, each converted once."""
    distinct: dict[Any, dt.date | None] = {}
    keys = [v if isinstance(v, (str, dt.date)) or v is None else str(v) for v in values]
    for key, value in zip(keys, values, strict=True):
        if key not in distinct:
            distinct[key] = _record_day(value, day)
    if len(distinct) == 1:
        return _constant(next(iter(distinct.values())), len(values), pl.Date)
    return pl.Series("date", [distinct[k] for k in keys], dtype=pl.Date)


def _from_dicts(records: Sequence[Mapping[str, Any]], day: dt.date) -> pl.DataFrame:
    """Dict records -> columns: one pass per key, nothing per row."""
    columns: list[pl.Series] = [pl.Series("_i", range(len(records)), dtype=pl.Int64)]
    for key in TEXT_KEYS:
        columns.append(pl.Series(key, [r.get(key) for r in records], dtype=pl.Utf8, strict=False))
    numbers = number_frame({key: [r.get(key) for r in records] for key in NUM_KEYS})
    columns += numbers.get_columns()
    columns.append(_dates_from_values([r.get("date") for r in records], day).alias("date"))
    return pl.DataFrame(columns)


def _number_input(frame: pl.DataFrame, key: str) -> pl.Series:
    """A columnar parser's ``key`` as numbers (Float64) or as text to read (Utf8)."""
    if key not in frame.columns:
        return _constant(None, frame.height, pl.Float64)
    col = frame.get_column(key)
    if col.dtype.is_numeric() or col.dtype == pl.Boolean or col.dtype == pl.Null:
        return col.cast(pl.Float64)
    return col.cast(pl.Utf8, strict=False)


def _from_polars(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """A columnar parser's records -> the same columns, typed."""
    n = frame.height
    columns: list[pl.Series] = [pl.Series("_i", range(n), dtype=pl.Int64)]
    for key in TEXT_KEYS:
        columns.append(
            frame.get_column(key).cast(pl.Utf8, strict=False)
            if key in frame.columns
            else _constant(None, n, pl.Utf8).alias(key)
        )
    columns += number_frame({key: _number_input(frame, key) for key in NUM_KEYS}).get_columns()
    if "date" not in frame.columns:
        dates = _constant(day, n, pl.Date)
    elif frame.schema["date"] == pl.Date:
        dates = frame.get_column("date").fill_null(day)
    else:
        dates = _dates_from_values(frame.get_column("date").to_list(), day)
    columns.append(dates.alias("date"))
    return pl.DataFrame(columns)


def candidate_frame(
    records: Sequence[Mapping[str, Any]] | pl.DataFrame, day: dt.date
) -> pl.DataFrame:
    """The typed candidate columns of ``records`` (dicts or a columnar parser's frame)."""
    if isinstance(records, pl.DataFrame):
        return _from_polars(records, day)
    return _from_dicts(records, day)
