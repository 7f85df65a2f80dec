"""The canonical offer schema and the one place raw source records become offers.

Every source's ``parse`` yields *candidate records* (plain dicts, see ``RawOffer`` keys
below) straight from its payload. ``normalise_offers`` turns them into two polars frames:

* ``offers``      -- canonical offers (``OFFER_SCHEMA``): provider slug and tier, canonical
  GPU id, per-GPU-hour USD price beside the original price, its basis and currency;
* ``quarantine``  -- every record that could not become a trustworthy offer, with the
  reason (``QUARANTINE_SCHEMA``): unknown GPU name, non-USD currency, missing/zero/negative
  price, per-GPU price outside the family's sane bounds, bad GPU count, a number written in a
  form that is not positively understood (``ambiguous_number``: ``2,49``, ``1_0``), an
  offer count that is not a count (``bad_n_offers``).

Nothing is dropped silently: ``len(offers) + len(quarantine) == len(records)``.

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from pipelines.lib.gpus import UnmappedGpu, price_bounds, resolve_gpu
from pipelines.lib.providers import provider_slug, provider_tier

PRICING_TYPES = ("on_demand", "spot", "reserved")
# How the original price relates to GPUs: one GPU, the whole instance (divide by gpu_count),
# or a published multi-GPU cluster rate already quoted per GPU (kept apart: DOMAIN.md).
PRICE_BASES = ("per_gpu", "per_instance", "cluster_per_gpu")
# More GPUs than this in one priced unit is a broken record, not a cluster listing.
MAX_GPU_COUNT = 100_000
# Offers behind one pre-aggregated row (an observation log's ``n_offers``). The real 125-day
# log's largest is 45, and a whole marketplace (Vast.ai) lists a few thousand GPUs of one
# model: 100,000 leaves two orders of magnitude of headroom while a broken count (2e9 made the
# weighted median of the model build allocate 32 GiB) is refused here, before any mart.
MAX_N_OFFERS = 100_000
_INT32_LIMIT = 2**31  # counts stored as Int32: a larger or non-finite one is not a count

OFFER_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "source": pl.Utf8,
    "provider": pl.Utf8,
    "provider_tier": pl.Utf8,
    "upstream_source": pl.Utf8,  # where the source itself got it (aggregators, logs)
    "gpu_name_raw": pl.Utf8,
    "gpu_model": pl.Utf8,
    "gpu_family": pl.Utf8,
    "gpu_variant_assumed": pl.Boolean,
    "gpu_count": pl.Int32,  # GPUs in the priced unit (instance / cluster)
    "instance_type": pl.Utf8,
    "region": pl.Utf8,
    "pricing": pl.Utf8,
    "reserved_term": pl.Utf8,
    "price_original": pl.Float64,
    "price_basis": pl.Utf8,
    "currency": pl.Utf8,
    "price_usd_per_gpu_hour": pl.Float64,  # the offer's price; for a pre-aggregated log row, its median
    "price_min_usd_per_gpu_hour": pl.Float64,
    "price_max_usd_per_gpu_hour": pl.Float64,
    "n_offers": pl.Int32,  # offers behind this row: 1, or the log's own count
    "stock_status": pl.Utf8,
    "available_gpus": pl.Int32,
    "payload_name": pl.Utf8,
    "fetched_at": pl.Datetime("us", "UTC"),
}

QUARANTINE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "source": pl.Utf8,
    "payload_name": pl.Utf8,
    "provider": pl.Utf8,
    "gpu_name_raw": pl.Utf8,
    "reason": pl.Utf8,
    "detail": pl.Utf8,
    "record": pl.Utf8,  # the candidate record as JSON, so it can be re-processed after a fix
}

# Keys a candidate record may carry (everything else is kept only in quarantine's JSON).
RAW_OFFER_KEYS = (
    "provider",
    "segment",
    "upstream_source",
    "gpu_name",
    "gpu_hint",
    "gpu_memory_gb",
    "gpu_count",
    "instance_type",
    "region",
    "pricing",
    "reserved_term",
    "price",
    "price_basis",
    "currency",
    "price_min",
    "price_max",
    "n_offers",
    "stock_status",
    "available_gpus",
    "payload_name",
    "date",
)
# Optional keys of a parser that knows a record is not trustworthy although it looks valid
# (a catalog's placeholder price): the record is quarantined with this reason and detail.
FLAG_KEYS = ("quarantine_reason", "quarantine_detail")


def empty_offers() -> pl.DataFrame:
    """An empty frame with the offer schema."""
    return pl.DataFrame(schema=OFFER_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    """An empty frame with the quarantine schema."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


class AmbiguousNumber(ValueError):
    """A text holds digits, but not in a form that says one number for certain."""


# What a price (or count) written as text may look like -- everything else with a digit in it
# is ambiguous and quarantined, never guessed:
#   2.49  .5  2.  1e-05  +3  -1.5     plain decimals (Python/polars float syntax without "_")
#   $2.49  -$2.49  $ 2.49             a dollar sign before the number
#   1,234.56  12,345  1,234,567       commas only as thousands separators: groups of exactly
#                                     three digits after the first group of one to three
# Refused: "2,49" (a decimal comma: 249 or 2.49?), "1_0" (Python's float() reads 10),
# "1.234,56", "1 0", "2.49/hr", "1,2345". The one form left open to a decimal-comma misreading,
# "2,490" (2490 or 2.490), reads as 2490 -- for a per-GPU-hour price that is far outside every
# family's bounds (price_out_of_bounds), so it cannot be accepted as a plausible price either.
# ASCII digits only: "\d" would also take other scripts' digits, which polars cannot cast.
_NUMBER_TEXT = (
    r"(?:[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?"
    r"|\.[0-9]+(?:[eE][+-]?[0-9]+)?"
    r"|[0-9]{1,3}(?:,[0-9]{3})+(?:\.[0-9]+)?)"
)
PRICE_TEXT_PATTERN = rf"^(?:[+-]\$?|\$[+-]?)?\s*{_NUMBER_TEXT}$"
_PRICE_TEXT = re.compile(PRICE_TEXT_PATTERN)
_STRIP_FROM_PRICE_TEXT = r"[$,\s]"  # what is removed from an accepted text before float()


def parse_price_text(text: str) -> float:
    """A price (or count) written as text -> float, strictly: the forms above only.

    Raises ``AmbiguousNumber`` (a ``ValueError``) for text with digits in any other form, and
    ``ValueError`` for text with no digit at all ("", "N/A", "nan", "-"). For parsers of
    pages and catalogs that turn text into numbers themselves: use this, not ``float()`` or
    ``.replace(",", "")``, so that every source reads "2,49" and "1_0" the same way."""
    stripped = text.strip()
    if not re.search(r"[0-9]", stripped):
        raise ValueError(f"no number in {text!r}")
    if not _PRICE_TEXT.match(stripped):
        raise AmbiguousNumber(
            f"{text!r} is not a number in a form read without guessing "
            "(plain decimal, optional $, thousands separators 1,234.56)"
        )
    return float(re.sub(_STRIP_FROM_PRICE_TEXT, "", stripped))


def _num(value: Any) -> float | None:
    """A price/count as float; '' / None / NaN / text without digits -> None. Text is read by
    ``parse_price_text`` ('$2.49', '1,234.56'), which raises ``AmbiguousNumber`` for text it
    does not positively understand ('2,49', '1_0'). An integer too large for a float is +/-inf
    (out of every bound), not an error."""
    if value is None:
        return None
    if isinstance(value, str):
        try:
            f = parse_price_text(value)
        except AmbiguousNumber:
            raise
        except ValueError:
            return None
        return None if math.isnan(f) else f
    try:
        f = float(value)
    except OverflowError:  # an int beyond float range (a 400-digit JSON number)
        return math.inf if value > 0 else -math.inf
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


class _Quarantined(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _field(rec: Mapping[str, Any], key: str) -> float | None:
    """``_num`` of one field; an ambiguous text quarantines the record, naming the field."""
    try:
        return _num(rec.get(key))
    except AmbiguousNumber as exc:
        raise _Quarantined("ambiguous_number", f"{key}: {exc}") from None


def _offer_from_record(
    rec: Mapping[str, Any],
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None,
    fx_rates: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One candidate record -> one canonical offer dict, or raise _Quarantined. ``fx_rates``:
    see ``normalise_offers``."""
    provider = provider_slug(str(rec.get("provider") or ""))
    if not provider:
        raise _Quarantined("missing_provider", "record names no provider")
    gpu_name = str(rec.get("gpu_name") or "").strip()
    try:
        match = resolve_gpu(gpu_name, str(rec.get("gpu_hint") or ""), _field(rec, "gpu_memory_gb"))
    except UnmappedGpu as exc:
        raise _Quarantined("unknown_gpu", str(exc)) from None
    if rec.get("quarantine_reason"):
        raise _Quarantined(str(rec["quarantine_reason"]), str(rec.get("quarantine_detail") or ""))

    pricing = str(rec.get("pricing") or "").strip().lower().replace("-", "_")
    if pricing not in PRICING_TYPES:
        raise _Quarantined(
            "bad_pricing_type", f"pricing {rec.get('pricing')!r} not in {PRICING_TYPES}"
        )
    basis = str(rec.get("price_basis") or "")
    if basis not in PRICE_BASES:
        raise _Quarantined("bad_price_basis", f"price basis {basis!r} not in {PRICE_BASES}")
    currency = str(rec.get("currency") or "USD").upper()
    usd_per_unit = 1.0
    if currency != "USD":
        # converted only with a reference rate of the ingest date (ecb_fx); never guessed
        if fx_rates is None:
            raise _Quarantined(
                "non_usd_currency",
                f"currency {currency}: no reference rates "
                f"loaded for {day} (ecb_fx), so no USD price",
            )
        rate = fx_rates.get(currency)
        if rate is None or not (
            isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0
        ):
            raise _Quarantined(
                "no_fx_rate",
                f"currency {currency}: the reference rates of {day} "
                "have no rate for it, so no USD price",
            )
        usd_per_unit = float(rate)

    count_f = _field(rec, "gpu_count")
    if count_f is None and basis == "per_instance":
        raise _Quarantined(
            "unknown_gpu_count", "instance price with no GPU count: no per-GPU price"
        )
    if count_f is None or not 0 < count_f <= MAX_GPU_COUNT or count_f != int(count_f):
        raise _Quarantined("bad_gpu_count", f"gpu_count {rec.get('gpu_count')!r}")
    gpu_count = int(count_f)

    price = _field(rec, "price")
    if price is None:
        raise _Quarantined("missing_price", f"price {rec.get('price')!r}")
    if price <= 0:
        raise _Quarantined("non_positive_price", f"price {price}")
    divisor = gpu_count if basis == "per_instance" else 1
    # rounding removes float noise (0.36979999999999996); usd_per_unit is 1.0 for USD (exact)
    per_gpu = round(price * usd_per_unit / divisor, 6)
    pmin = _field(rec, "price_min")
    pmax = _field(rec, "price_max")
    per_gpu_min = round(pmin * usd_per_unit / divisor, 6) if pmin is not None else per_gpu
    per_gpu_max = round(pmax * usd_per_unit / divisor, 6) if pmax is not None else per_gpu
    lo, hi = price_bounds(match.gpu_family)
    for label, value in (
        ("price", per_gpu),
        ("price_min", per_gpu_min),
        ("price_max", per_gpu_max),
    ):
        if not (lo <= value <= hi):
            raise _Quarantined(
                "price_out_of_bounds",
                f"{label} {value} USD/GPU-h for {match.gpu_model} outside [{lo}, {hi}]",
            )
    n_offers = _field(rec, "n_offers")
    if n_offers is not None and not (1 <= n_offers <= MAX_N_OFFERS and n_offers == int(n_offers)):
        raise _Quarantined(
            "bad_n_offers",
            f"n_offers {rec.get('n_offers')!r} is not a count of offers in 1..{MAX_N_OFFERS}",
        )
    available = _field(rec, "available_gpus")
    rec_day = rec.get("date") or day
    if isinstance(rec_day, str):
        rec_day = dt.date.fromisoformat(rec_day[:10])
    return {
        "date": rec_day,
        "source": source,
        "provider": provider,
        "provider_tier": provider_tier(provider, rec.get("segment")),
        "upstream_source": rec.get("upstream_source"),
        "gpu_name_raw": gpu_name,
        "gpu_model": match.gpu_model,
        "gpu_family": match.gpu_family,
        "gpu_variant_assumed": match.variant_assumed,
        "gpu_count": gpu_count,
        "instance_type": rec.get("instance_type"),
        "region": rec.get("region"),
        "pricing": pricing,
        "reserved_term": rec.get("reserved_term"),
        "price_original": price,
        "price_basis": basis,
        "currency": currency,
        "price_usd_per_gpu_hour": per_gpu,
        "price_min_usd_per_gpu_hour": per_gpu_min,
        "price_max_usd_per_gpu_hour": per_gpu_max,
        "n_offers": int(n_offers) if n_offers is not None else 1,
        "stock_status": rec.get("stock_status"),
        "available_gpus": int(available)
        if available is not None and abs(available) < _INT32_LIMIT
        else None,
        "payload_name": rec.get("payload_name"),
        "fetched_at": fetched_at,
    }


_TEXT_KEYS = (
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
)
_NUM_KEYS = (
    "gpu_memory_gb",
    "gpu_count",
    "price",
    "price_min",
    "price_max",
    "n_offers",
    "available_gpus",
)


class _FrameRows:
    """Row ``i`` of a candidate frame as a dict, for the few records the scalar path sees."""

    def __init__(self, frame: pl.DataFrame):
        self.frame = frame

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.rows([i])[0]

    def rows(self, idx: list[int]) -> list[dict[str, Any]]:
        return [
            {k: v for k, v in row.items() if v is not None} for row in self.frame[idx].to_dicts()
        ]


_Rows = list[Mapping[str, Any]] | _FrameRows


def _num_series(name: str, values: list[Any]) -> tuple[pl.Series, pl.Series]:
    """``_num`` over a column, vectorised -> (values, ambiguous): numbers convert in one step;
    text (``"8"`` from a CSV, ``"$2.49"`` from a page) is matched against the forms of
    ``parse_price_text`` and cast by polars; text with digits in any other form is null and
    flagged ambiguous (the record then goes to ``_offer_from_record``, which names it). Values
    that are neither numbers nor text (``True`` in a mixed column) take ``_num`` one by one."""
    try:
        return (
            pl.Series(name, values, dtype=pl.Float64, strict=True).fill_nan(None),
            pl.repeat(False, len(values), dtype=pl.Boolean, eager=True),
        )
    except (TypeError, ValueError, OverflowError, pl.exceptions.PolarsError):
        pass
    text = pl.Series(name, [v if isinstance(v, str) else None for v in values], dtype=pl.Utf8)
    read = pl.DataFrame({"t": text.str.strip_chars()}).select(
        pl.when(pl.col("t").str.contains(PRICE_TEXT_PATTERN))
        .then(
            pl.col("t").str.replace_all(_STRIP_FROM_PRICE_TEXT, "").cast(pl.Float64, strict=False)
        )
        .alias("v"),
        pl.col("t").str.contains("[0-9]").fill_null(False).alias("digit"),
    )
    parsed = read.get_column("v").alias(name)
    ambiguous = parsed.is_null() & read.get_column("digit")
    other = [i for i, v in enumerate(values) if v is not None and not isinstance(v, str)]
    if other:
        fixed = pl.Series(name, [_num(values[i]) for i in other], dtype=pl.Float64)
        parsed = parsed.scatter(other, fixed)
    return parsed.fill_nan(None), ambiguous


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
        return None  # the scalar path quarantines or raises, as before


def _dates_from_values(values: list[Any], day: dt.date) -> pl.Series:
    """Record dates: few distinct values, each converted once."""
    distinct: dict[Any, dt.date | None] = {}
    keys = [v if isinstance(v, (str, dt.date)) or v is None else str(v) for v in values]
    for key, value in zip(keys, values, strict=True):
        if key not in distinct:
            distinct[key] = _record_day(value, day)
    if len(distinct) == 1:
        return pl.repeat(next(iter(distinct.values())), len(values), dtype=pl.Date, eager=True)
    return pl.Series("date", [distinct[k] for k in keys], dtype=pl.Date)


def _candidate_frame(records: list[Mapping[str, Any]], day: dt.date) -> pl.DataFrame:
    """Candidate records (dicts) -> one column per key: one pass per key, nothing per row."""
    columns: list[pl.Series] = [pl.Series("_i", range(len(records)), dtype=pl.Int64)]
    for key in _TEXT_KEYS:
        columns.append(pl.Series(key, [r.get(key) for r in records], dtype=pl.Utf8, strict=False))
    ambiguous = pl.repeat(False, len(records), dtype=pl.Boolean, eager=True)
    for key in _NUM_KEYS:
        values, unclear = _num_series(key, [r.get(key) for r in records])
        columns.append(values)
        ambiguous = ambiguous | unclear
    columns.append(ambiguous.alias("_ambiguous"))
    columns.append(_dates_from_values([r.get("date") for r in records], day).alias("date"))
    return pl.DataFrame(columns)


def _candidate_frame_from_polars(frame: pl.DataFrame, day: dt.date) -> pl.DataFrame:
    """Candidate records already in columns (a columnar parser): the same columns, typed."""
    n = frame.height
    columns: list[pl.Series] = [pl.Series("_i", range(n), dtype=pl.Int64)]
    for key in _TEXT_KEYS:
        columns.append(
            frame.get_column(key).cast(pl.Utf8, strict=False)
            if key in frame.columns
            else pl.Series(key, [None] * n, dtype=pl.Utf8)
        )
    ambiguous = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    for key in _NUM_KEYS:
        if key not in frame.columns:
            columns.append(pl.Series(key, [None] * n, dtype=pl.Float64))
            continue
        col = frame.get_column(key)
        if col.dtype.is_numeric() or col.dtype == pl.Boolean or col.dtype == pl.Null:
            columns.append(col.cast(pl.Float64).fill_nan(None))
        else:
            values, unclear = _num_series(key, col.cast(pl.Utf8, strict=False).to_list())
            columns.append(values)
            ambiguous = ambiguous | unclear
    columns.append(ambiguous.alias("_ambiguous"))
    if "date" not in frame.columns:
        dates = pl.repeat(day, n, dtype=pl.Date, eager=True)
    elif frame.schema["date"] == pl.Date:
        dates = frame.get_column("date").fill_null(day)
    else:
        dates = _dates_from_values(frame.get_column("date").to_list(), day)
    columns.append(dates.alias("date"))
    return pl.DataFrame(columns)


def _lookup(frame: pl.DataFrame, keys: list[str], fn, out: dict[str, pl.DataType]) -> pl.DataFrame:
    """Join ``fn(*key values)`` -> dict of ``out`` columns, called once per distinct key."""
    distinct = frame.select(keys).unique()
    rows = [fn(*vals) for vals in distinct.iter_rows()]
    table = distinct.hstack(pl.DataFrame(rows, schema=out, orient="row"))
    return frame.join(table, on=keys, how="left", nulls_equal=True)


def round_like_python(values: pl.Series, digits: int) -> pl.Series:
    """``round(v, digits)`` over a column, exactly as Python rounds: polars rounds the scaled
    value, which can land the other side of a tie (11.7655 / 8 = 1.47068749999... -> Python
    1.470687, polars 1.470688), so the values within reach of a tie are rounded by Python."""
    out = values.round(digits)
    scaled = values * 10.0**digits
    near_tie = ((scaled - scaled.floor()) - 0.5).abs() < 1e-6
    idx = near_tie.arg_true()
    if len(idx):
        exact = [None if v is None else round(v, digits) for v in values.gather(idx).to_list()]
        out = out.scatter(idx, pl.Series(exact, dtype=pl.Float64))
    return out


def _round6(values: pl.Series) -> pl.Series:
    return round_like_python(values, 6)


def _resolve(name: str, hint: str, memory: float | None) -> tuple:
    try:
        m = resolve_gpu(name, hint, memory)
    except UnmappedGpu as exc:
        return (None, None, None, None, None, str(exc))
    lo, hi = price_bounds(m.gpu_family)
    return (m.gpu_model, m.gpu_family, m.variant_assumed, float(lo), float(hi), None)


# Below this many records the one-record definition is faster than the vectorised path,
# whose polars steps cost ~10 ms a call whatever the size (125 days of a 200-offer log: 1.5 s
# vectorised, 0.26 s one by one). Both give identical results (tests/unit/test_offers_vectorised.py).
SMALL_BATCH = 2000


def _quarantine_row(
    rec: Mapping[str, Any], source: str, day: dt.date, reason: str, detail: str
) -> dict[str, Any]:
    return {
        "date": day,
        "source": source,
        "payload_name": rec.get("payload_name"),
        "provider": str(rec.get("provider") or ""),
        "gpu_name_raw": str(rec.get("gpu_name") or ""),
        "reason": reason,
        "detail": detail,
        "record": json.dumps(dict(rec), default=str, sort_keys=True),
    }


def _normalise_one_by_one(
    recs: list[Mapping[str, Any]],
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None,
    fx_rates: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``normalise_offers`` for a small batch: ``_offer_from_record`` on each record."""
    offers: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    for rec in recs:
        try:
            offers.append(_offer_from_record(rec, source, day, fetched_at, fx_rates))
        except _Quarantined as q:
            quarantined.append(_quarantine_row(rec, source, day, q.reason, q.detail))
    return (
        pl.DataFrame(offers, schema=OFFER_SCHEMA) if offers else empty_offers(),
        pl.DataFrame(quarantined, schema=QUARANTINE_SCHEMA) if quarantined else empty_quarantine(),
    )


def normalise_offers(
    records: Iterable[Mapping[str, Any]] | pl.DataFrame,
    *,
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None = None,
    fx_rates: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidate records -> (offers, quarantine). Every record lands in exactly one of them.

    ``fx_rates``: USD per one unit of each currency, from the reference rates of ``day``
    (``pipelines.lib.sources.ecb_fx.usd_rates_for_day``). A non-USD record is converted with
    its currency's rate (``price_original`` and ``currency`` stay the original ones); with no
    rates (``None``) it is quarantined ``non_usd_currency``, with rates lacking its currency
    ``no_fx_rate``. USD records are untouched by it.

    Vectorised: the checks of ``_offer_from_record`` run as polars expressions, GPU names and
    providers are resolved once per distinct value. Records the vectorised checks reject go
    through ``_offer_from_record`` itself, which names the reason and detail (and stays the
    single definition of what is accepted: a record it accepts is kept). Batches smaller
    than ``SMALL_BATCH`` go through ``_offer_from_record`` one by one (faster there).
    """
    if fetched_at is not None and fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=dt.UTC)
    if isinstance(records, pl.DataFrame):
        if records.height < SMALL_BATCH:
            return _normalise_one_by_one(
                _FrameRows(records).rows(list(range(records.height))),
                source,
                day,
                fetched_at,
                fx_rates,
            )
        recs: _Rows = _FrameRows(records)
        candidates = _candidate_frame_from_polars(records, day)
    else:
        recs = records if isinstance(records, list) else list(records)
        if len(recs) < SMALL_BATCH:
            return _normalise_one_by_one(recs, source, day, fetched_at, fx_rates)
        candidates = _candidate_frame(recs, day)

    f = candidates.with_columns(
        pl.col("provider").fill_null("").alias("_provider_in"),
        pl.col("gpu_name").fill_null("").str.strip_chars().alias("gpu_name_raw"),
        pl.col("gpu_hint").fill_null("").alias("_hint"),
        pl.col("pricing")
        .fill_null("")
        .str.strip_chars()
        .str.to_lowercase()
        .str.replace_all("-", "_", literal=True)
        .alias("_pricing"),
        pl.col("price_basis").fill_null("").alias("_basis"),
        pl.when(pl.col("currency").fill_null("") == "")
        .then(pl.lit("USD"))
        .otherwise(pl.col("currency").str.to_uppercase())
        .alias("_currency"),
    )
    f = _lookup(f, ["_provider_in"], lambda p: (provider_slug(p),), {"_provider": pl.Utf8})
    f = _lookup(
        f,
        ["_provider", "segment"],
        lambda p, seg: (provider_tier(p, seg) if p else None,),
        {"provider_tier": pl.Utf8},
    )
    f = _lookup(
        f,
        ["gpu_name_raw", "_hint", "gpu_memory_gb"],
        _resolve,
        {
            "gpu_model": pl.Utf8,
            "gpu_family": pl.Utf8,
            "gpu_variant_assumed": pl.Boolean,
            "_lo": pl.Float64,
            "_hi": pl.Float64,
            "_gpu_error": pl.Utf8,
        },
    )
    divisor = pl.when(pl.col("_basis") == "per_instance").then(pl.col("gpu_count")).otherwise(1.0)
    quotients = f.select(
        (pl.col(c) / divisor).alias(c) for c in ("price", "price_min", "price_max")
    )
    per_gpu = _round6(quotients["price"])
    f = f.with_columns(
        per_gpu.alias("price_usd_per_gpu_hour"),
        pl.coalesce(_round6(quotients["price_min"]), per_gpu).alias("price_min_usd_per_gpu_hour"),
        pl.coalesce(_round6(quotients["price_max"]), per_gpu).alias("price_max_usd_per_gpu_hour"),
    )
    in_bounds = pl.lit(True)
    for col in (
        "price_usd_per_gpu_hour",
        "price_min_usd_per_gpu_hour",
        "price_max_usd_per_gpu_hour",
    ):
        in_bounds = in_bounds & pl.col(col).is_between(pl.col("_lo"), pl.col("_hi"))
    ok = (
        (pl.col("_provider") != "")
        & pl.col("gpu_model").is_not_null()
        & pl.col("_pricing").is_in(PRICING_TYPES)
        & pl.col("_basis").is_in(PRICE_BASES)
        & (pl.col("_currency") == "USD")
        & (pl.col("gpu_count") > 0)
        & (pl.col("gpu_count") == pl.col("gpu_count").floor())
        & (pl.col("gpu_count") <= MAX_GPU_COUNT)
        & (pl.col("price") > 0)
        & in_bounds
        & ~pl.col("_ambiguous")
        & (
            pl.col("n_offers").is_null()
            | (
                pl.col("n_offers").is_between(1, MAX_N_OFFERS)
                & (pl.col("n_offers") == pl.col("n_offers").floor())
            )
        )
        & pl.col("date").is_not_null()
        & (pl.col("quarantine_reason").fill_null("") == "")
    ).fill_null(False)
    f = f.with_columns(ok.alias("_ok"))

    good = f.filter(pl.col("_ok")).select(
        pl.col("_i"),
        pl.col("date"),
        pl.lit(source, dtype=pl.Utf8).alias("source"),
        pl.col("_provider").alias("provider"),
        pl.col("provider_tier"),
        pl.col("upstream_source"),
        pl.col("gpu_name_raw"),
        pl.col("gpu_model"),
        pl.col("gpu_family"),
        pl.col("gpu_variant_assumed"),
        pl.col("gpu_count").cast(pl.Int32),
        pl.col("instance_type"),
        pl.col("region"),
        pl.col("_pricing").alias("pricing"),
        pl.col("reserved_term"),
        pl.col("price").alias("price_original"),
        pl.col("_basis").alias("price_basis"),
        pl.col("_currency").alias("currency"),
        pl.col("price_usd_per_gpu_hour"),
        pl.col("price_min_usd_per_gpu_hour"),
        pl.col("price_max_usd_per_gpu_hour"),
        pl.col("n_offers").fill_null(1.0).cast(pl.Int32).alias("n_offers"),
        pl.col("stock_status"),
        pl.when(pl.col("available_gpus").abs() < _INT32_LIMIT)
        .then(pl.col("available_gpus"))
        .cast(pl.Int32)
        .alias("available_gpus"),
        pl.col("payload_name"),
        pl.lit(fetched_at, dtype=OFFER_SCHEMA["fetched_at"]).alias("fetched_at"),
    )
    # unknown GPU names (the common rejection at volume: a marketplace lists many consumer
    # cards) are quarantined here with the resolver's message; every other rejected record
    # goes through the scalar definition, which names why (or, rarely, accepts one the
    # vectorised checks could not, e.g. a price written "1_000")
    # (a record with an ambiguous number may have had its GPU memory read as null: the scalar
    # definition names the number, so it goes there)
    unknown_gpu = (
        (pl.col("_provider") != "") & pl.col("gpu_model").is_null() & ~pl.col("_ambiguous")
    )
    rejected = f.filter(~pl.col("_ok"))
    unknown = rejected.filter(unknown_gpu)
    unknown_idx = unknown.get_column("_i").to_list()
    unknown_recs = (
        recs.rows(unknown_idx) if isinstance(recs, _FrameRows) else [recs[i] for i in unknown_idx]
    )
    quarantined: list[dict[str, Any]] = [
        {"_i": i, **_quarantine_row(rec, source, day, "unknown_gpu", detail)}
        for i, rec, detail in zip(
            unknown_idx, unknown_recs, unknown.get_column("_gpu_error"), strict=True
        )
    ]
    offers_late: list[dict[str, Any]] = []
    other_idx = rejected.filter(~unknown_gpu).get_column("_i").to_list()
    other_recs = (
        recs.rows(other_idx) if isinstance(recs, _FrameRows) else [recs[i] for i in other_idx]
    )
    for i, rec in zip(other_idx, other_recs, strict=True):
        try:
            offers_late.append(
                {"_i": i, **_offer_from_record(rec, source, day, fetched_at, fx_rates)}
            )
        except _Quarantined as q:
            quarantined.append({"_i": i, **_quarantine_row(rec, source, day, q.reason, q.detail)})
    if offers_late:
        late = pl.DataFrame(offers_late, schema={"_i": pl.Int64, **OFFER_SCHEMA})
        good = pl.concat([good, late.select(good.columns)]).sort("_i")
    return (
        good.drop("_i"),
        pl.DataFrame(
            sorted(quarantined, key=lambda q: q["_i"]), schema={"_i": pl.Int64, **QUARANTINE_SCHEMA}
        ).drop("_i")
        if quarantined
        else empty_quarantine(),
    )


def quarantine_payload(
    *, source: str, day: dt.date, payload_name: str, reason: str, detail: str
) -> pl.DataFrame:
    """A one-row quarantine frame for a whole payload that could not be parsed."""
    return pl.DataFrame(
        [
            {
                "date": day,
                "source": source,
                "payload_name": payload_name,
                "provider": "",
                "gpu_name_raw": "",
                "reason": reason,
                "detail": detail,
                "record": "",
            }
        ],
        schema=QUARANTINE_SCHEMA,
    )
