"""``normalise_offers``: candidate records -> (offers, quarantine), by the rules of
``pipelines.lib.offers.rules`` applied to whole columns.

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from pipelines.lib.offers.candidates import RawRecords, candidate_frame
from pipelines.lib.offers.rules import PER_GPU, RULES, derive, first_rule, python_text
from pipelines.lib.offers.schema import (
    INT32_LIMIT,
    OFFER_SCHEMA,
    QUARANTINE_SCHEMA,
    empty_offers,
    empty_quarantine,
)


def _offer_columns(source: str, fetched_at: dt.datetime | None) -> list[pl.Expr]:
    return [
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
        *(pl.col(c) for c in PER_GPU.values()),
        pl.col("n_offers").fill_null(1.0).cast(pl.Int32).alias("n_offers"),
        pl.col("stock_status"),
        # a count beyond Int32 (or infinite) is no count: null, as the definition has it
        pl.when(pl.col("available_gpus").abs() < INT32_LIMIT)
        .then(pl.col("available_gpus"))
        .cast(pl.Int32)
        .alias("available_gpus"),
        pl.col("payload_name"),
        pl.lit(fetched_at, dtype=OFFER_SCHEMA["fetched_at"]).alias("fetched_at"),
    ]


def _refuse_unreadable_dates(accepted: pl.DataFrame, raw: RawRecords) -> None:
    """An offer whose own date cannot be read is an error in its parser, not a quarantine:
    raise the ValueError ``date.fromisoformat`` gives for it."""
    dates = accepted.get_column("date")
    if dates.null_count():
        first = accepted.get_column("_i").gather(dates.is_null().arg_true().head(1)).to_list()
        (value,) = raw.values("date", first)
        dt.date.fromisoformat(str(value)[:10])  # raises
        raise ValueError(f"record date {value!r} is not a date")


def _reasons(rejected: pl.DataFrame, raw: RawRecords) -> pl.DataFrame:
    """(_i, reason, detail) of every quarantined record, by the rule that caught it."""
    parts = []
    for i in sorted(rejected.get_column("_rule").unique().to_list()):
        rule = RULES[i]
        rows = python_text(
            rejected.filter(pl.col("_rule") == i), [rule.reason_expr, rule.detail], raw
        )
        parts.append(
            rows.select(
                "_i",
                rule.reason_expr.cast(pl.Utf8).alias("reason"),
                rule.detail.cast(pl.Utf8).alias("detail"),
            )
        )
    return pl.concat(parts).sort("_i")


def quarantine_row(
    rec: Mapping[str, Any], source: str, day: dt.date, reason: str, detail: str
) -> dict[str, Any]:
    """One quarantine row: the record's names as given, why, and the record itself as JSON
    (so it can be re-processed after a fix)."""
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


def _quarantine(rejected: pl.DataFrame, raw: RawRecords, source: str, day: dt.date) -> pl.DataFrame:
    if rejected.height == 0:
        return empty_quarantine()
    reasons = _reasons(rejected, raw)
    idx = reasons.get_column("_i").to_list()
    rows = [
        quarantine_row(rec, source, day, reason, detail)
        for rec, reason, detail in zip(
            raw.rows(idx), reasons.get_column("reason"), reasons.get_column("detail"), strict=True
        )
    ]
    return pl.DataFrame(rows, schema=QUARANTINE_SCHEMA)


def normalise_offers(
    records: Iterable[Mapping[str, Any]] | pl.DataFrame,
    *,
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None = None,
    fx_rates: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidate records -> (offers, quarantine). Every record lands in exactly one of them,
    in the order given.

    ``fx_rates``: USD per one unit of each currency, from the reference rates of ``day``
    (``pipelines.lib.sources.ecb_fx.usd_rates_for_day``). A non-USD record is converted with
    its currency's rate (``price_original`` and ``currency`` stay the original ones); with no
    rates (``None``) it is quarantined ``non_usd_currency``, with rates lacking its currency
    ``no_fx_rate``. USD records are untouched by it.

    The first of ``rules.RULES`` that holds for a record quarantines it; GPU names and
    providers are resolved once per distinct value.
    """
    if fetched_at is not None and fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=dt.UTC)
    if not isinstance(records, pl.DataFrame) and not isinstance(records, list):
        records = list(records)
    raw = RawRecords(records)
    if len(records) == 0:
        return empty_offers(), empty_quarantine()
    f = derive(candidate_frame(records, day), fx_rates, day).with_columns(
        first_rule().alias("_rule")
    )
    # (the joins of ``derive`` keep the records' order: offers come in the order given)
    accepted = f.filter(pl.col("_rule").is_null())
    _refuse_unreadable_dates(accepted, raw)
    offers = accepted.select(_offer_columns(source, fetched_at))
    return offers, _quarantine(f.filter(pl.col("_rule").is_not_null()), raw, source, day)
