"""The scalar definition of what becomes an offer: the ORACLE of the rules.

``offer_from_record`` is the one-record version of ``pipelines.lib.offers.rules.RULES``, as
the normaliser was written before its rules became (reason, polars expression) pairs: it
checks one record in the rules' order and raises ``Quarantined`` with the first reason (and
its detail), or returns the offer. ``reference`` runs it over a batch and gives the two
frames ``normalise_offers`` must give, row for row and value for value
(tests/unit/test_offers_vectorised.py). It reads numbers with the production
``read_number`` / ``parse_price_text`` (the strict reader is not what is being checked here:
tests/unit/test_numbers.py checks it).

Kept apart from the production code on purpose: a change to a rule has to be made here too,
in plain Python, and the comparison shows whether the two agree.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from pipelines.lib.gpus import UnmappedGpu, price_bounds, resolve_gpu
from pipelines.lib.offers import (
    MAX_GPU_COUNT,
    MAX_N_OFFERS,
    OFFER_SCHEMA,
    PRICE_BASES,
    PRICING_TYPES,
    QUARANTINE_SCHEMA,
)
from pipelines.lib.offers.numbers import AmbiguousNumber, read_number
from pipelines.lib.offers.schema import INT32_LIMIT as _INT32_LIMIT
from pipelines.lib.providers import provider_slug, provider_tier


class Quarantined(Exception):
    """The oracle's verdict on a record it does not accept: reason and detail."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _field(rec: Mapping[str, Any], key: str) -> float | None:
    """``read_number`` of one field; an ambiguous text quarantines the record, naming the field."""
    try:
        return read_number(rec.get(key))
    except AmbiguousNumber as exc:
        raise Quarantined("ambiguous_number", f"{key}: {exc}") from None


def _usd_per_unit(currency: str, day: dt.date, fx_rates: Mapping[str, float] | None) -> float:
    if currency == "USD":
        return 1.0
    # converted only with a reference rate of the ingest date (ecb_fx); never guessed
    if fx_rates is None:
        raise Quarantined(
            "non_usd_currency",
            f"currency {currency}: no reference rates loaded for {day} (ecb_fx), so no USD price",
        )
    rate = fx_rates.get(currency)
    if rate is None or not (isinstance(rate, (int, float)) and math.isfinite(rate) and rate > 0):
        raise Quarantined(
            "no_fx_rate",
            f"currency {currency}: the reference rates of {day} "
            "have no rate for it, so no USD price",
        )
    return float(rate)


def _gpu_count(rec: Mapping[str, Any], basis: str) -> int:
    count_f = _field(rec, "gpu_count")
    if count_f is None and basis == "per_instance":
        raise Quarantined("unknown_gpu_count", "instance price with no GPU count: no per-GPU price")
    if count_f is None or not 0 < count_f <= MAX_GPU_COUNT or count_f != int(count_f):
        raise Quarantined("bad_gpu_count", f"gpu_count {rec.get('gpu_count')!r}")
    return int(count_f)


def _prices(
    rec: Mapping[str, Any], usd_per_unit: float, divisor: int, match: Any
) -> tuple[float, float, float, float]:
    """(price, per-GPU price, per-GPU min, per-GPU max), each inside the family's bounds."""
    price = _field(rec, "price")
    if price is None:
        raise Quarantined("missing_price", f"price {rec.get('price')!r}")
    if price <= 0:
        raise Quarantined("non_positive_price", f"price {price}")
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
            raise Quarantined(
                "price_out_of_bounds",
                f"{label} {value} USD/GPU-h for {match.gpu_model} outside [{lo}, {hi}]",
            )
    return price, per_gpu, per_gpu_min, per_gpu_max


def offer_from_record(
    rec: Mapping[str, Any],
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None,
    fx_rates: Mapping[str, float] | None = None,
) -> dict[str, Any]:
    """One candidate record -> one canonical offer dict, or raise Quarantined. ``fx_rates``:
    see ``normalise_offers``."""
    provider = provider_slug(str(rec.get("provider") or ""))
    if not provider:
        raise Quarantined("missing_provider", "record names no provider")
    gpu_name = str(rec.get("gpu_name") or "").strip()
    try:
        match = resolve_gpu(gpu_name, str(rec.get("gpu_hint") or ""), _field(rec, "gpu_memory_gb"))
    except UnmappedGpu as exc:
        raise Quarantined("unknown_gpu", str(exc)) from None
    if rec.get("quarantine_reason"):
        raise Quarantined(str(rec["quarantine_reason"]), str(rec.get("quarantine_detail") or ""))

    pricing = str(rec.get("pricing") or "").strip().lower().replace("-", "_")
    if pricing not in PRICING_TYPES:
        raise Quarantined(
            "bad_pricing_type", f"pricing {rec.get('pricing')!r} not in {PRICING_TYPES}"
        )
    basis = str(rec.get("price_basis") or "")
    if basis not in PRICE_BASES:
        raise Quarantined("bad_price_basis", f"price basis {basis!r} not in {PRICE_BASES}")
    currency = str(rec.get("currency") or "USD").upper()
    usd_per_unit = _usd_per_unit(currency, day, fx_rates)
    gpu_count = _gpu_count(rec, basis)
    price, per_gpu, per_gpu_min, per_gpu_max = _prices(
        rec, usd_per_unit, gpu_count if basis == "per_instance" else 1, match
    )
    n_offers = _field(rec, "n_offers")
    if n_offers is not None and not (1 <= n_offers <= MAX_N_OFFERS and n_offers == int(n_offers)):
        raise Quarantined(
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


def quarantine_row(
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


def reference(
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None = None,
    fx_rates: Mapping[str, float] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(offers, quarantine) of ``records`` by the oracle, one record at a time."""
    if fetched_at is not None and fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=dt.UTC)
    good, bad = [], []
    for rec in records:
        try:
            good.append(offer_from_record(rec, source, day, fetched_at, fx_rates))
        except Quarantined as q:
            bad.append(quarantine_row(rec, source, day, q.reason, q.detail))
    return pl.DataFrame(good, schema=OFFER_SCHEMA), pl.DataFrame(bad, schema=QUARANTINE_SCHEMA)
