"""The canonical offer schema and the one place raw source records become offers.

Every source's ``parse`` yields *candidate records* (plain dicts, see ``RawOffer`` keys
below) straight from its payload. ``normalise_offers`` turns them into two polars frames:

* ``offers``      -- canonical offers (``OFFER_SCHEMA``): provider slug and tier, canonical
  GPU id, per-GPU-hour USD price beside the original price, its basis and currency;
* ``quarantine``  -- every record that could not become a trustworthy offer, with the
  reason (``QUARANTINE_SCHEMA``): unknown GPU name, non-USD currency, missing/zero/negative
  price, per-GPU price outside the family's sane bounds, bad GPU count.

Nothing is dropped silently: ``len(offers) + len(quarantine) == len(records)``.

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import polars as pl

from pipelines.lib.gpus import UnmappedGpu, price_bounds, resolve_gpu
from pipelines.lib.providers import provider_slug, provider_tier

PRICING_TYPES = ("on_demand", "spot", "reserved")
# How the original price relates to GPUs: one GPU, the whole instance (divide by gpu_count),
# or a published multi-GPU cluster rate already quoted per GPU (kept apart: DOMAIN.md).
PRICE_BASES = ("per_gpu", "per_instance", "cluster_per_gpu")

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
    "provider", "segment", "upstream_source", "gpu_name", "gpu_hint", "gpu_memory_gb",
    "gpu_count", "instance_type", "region", "pricing", "reserved_term", "price",
    "price_basis", "currency", "price_min", "price_max", "n_offers", "stock_status",
    "available_gpus", "payload_name", "date",
)


def empty_offers() -> pl.DataFrame:
    """An empty frame with the offer schema."""
    return pl.DataFrame(schema=OFFER_SCHEMA)


def empty_quarantine() -> pl.DataFrame:
    """An empty frame with the quarantine schema."""
    return pl.DataFrame(schema=QUARANTINE_SCHEMA)


def _num(value: Any) -> float | None:
    """A price/count as float; '' / None / NaN -> None. Strings like '$2.49' are accepted."""
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip().replace("$", "").replace(",", "")
        if value == "":
            return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


class _Quarantined(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason, self.detail = reason, detail


def _offer_from_record(
    rec: Mapping[str, Any], source: str, day: dt.date, fetched_at: dt.datetime | None
) -> dict[str, Any]:
    """One candidate record -> one canonical offer dict, or raise _Quarantined."""
    provider = provider_slug(str(rec.get("provider") or ""))
    if not provider:
        raise _Quarantined("missing_provider", "record names no provider")
    gpu_name = str(rec.get("gpu_name") or "").strip()
    try:
        match = resolve_gpu(gpu_name, str(rec.get("gpu_hint") or ""), _num(rec.get("gpu_memory_gb")))
    except UnmappedGpu as exc:
        raise _Quarantined("unknown_gpu", str(exc)) from None

    pricing = str(rec.get("pricing") or "").strip().lower().replace("-", "_")
    if pricing not in PRICING_TYPES:
        raise _Quarantined("bad_pricing_type", f"pricing {rec.get('pricing')!r} not in {PRICING_TYPES}")
    basis = str(rec.get("price_basis") or "")
    if basis not in PRICE_BASES:
        raise _Quarantined("bad_price_basis", f"price basis {basis!r} not in {PRICE_BASES}")
    currency = str(rec.get("currency") or "USD").upper()
    if currency != "USD":
        raise _Quarantined("non_usd_currency", f"currency {currency} (no FX conversion configured)")

    count_f = _num(rec.get("gpu_count"))
    if count_f is None and basis == "per_instance":
        raise _Quarantined("unknown_gpu_count", "instance price with no GPU count: no per-GPU price")
    if count_f is None or count_f <= 0 or count_f != int(count_f):
        raise _Quarantined("bad_gpu_count", f"gpu_count {rec.get('gpu_count')!r}")
    gpu_count = int(count_f)

    price = _num(rec.get("price"))
    if price is None:
        raise _Quarantined("missing_price", f"price {rec.get('price')!r}")
    if price <= 0:
        raise _Quarantined("non_positive_price", f"price {price}")
    divisor = gpu_count if basis == "per_instance" else 1
    per_gpu = round(price / divisor, 6)  # rounding removes float noise (0.36979999999999996)
    pmin = _num(rec.get("price_min"))
    pmax = _num(rec.get("price_max"))
    per_gpu_min = round(pmin / divisor, 6) if pmin is not None else per_gpu
    per_gpu_max = round(pmax / divisor, 6) if pmax is not None else per_gpu
    lo, hi = price_bounds(match.gpu_family)
    for label, value in (("price", per_gpu), ("price_min", per_gpu_min), ("price_max", per_gpu_max)):
        if not (lo <= value <= hi):
            raise _Quarantined(
                "price_out_of_bounds",
                f"{label} {value} USD/GPU-h for {match.gpu_model} outside [{lo}, {hi}]",
            )
    n_offers = _num(rec.get("n_offers"))
    available = _num(rec.get("available_gpus"))
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
        "n_offers": int(n_offers) if n_offers and n_offers > 0 else 1,
        "stock_status": rec.get("stock_status"),
        "available_gpus": int(available) if available is not None else None,
        "payload_name": rec.get("payload_name"),
        "fetched_at": fetched_at,
    }


def normalise_offers(
    records: Iterable[Mapping[str, Any]],
    *,
    source: str,
    day: dt.date,
    fetched_at: dt.datetime | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Candidate records -> (offers, quarantine). Every record lands in exactly one of them."""
    offers: list[dict[str, Any]] = []
    quarantined: list[dict[str, Any]] = []
    if fetched_at is not None and fetched_at.tzinfo is None:
        fetched_at = fetched_at.replace(tzinfo=dt.UTC)
    for rec in records:
        try:
            offers.append(_offer_from_record(rec, source, day, fetched_at))
        except _Quarantined as q:
            quarantined.append(
                {
                    "date": day,
                    "source": source,
                    "payload_name": rec.get("payload_name"),
                    "provider": str(rec.get("provider") or ""),
                    "gpu_name_raw": str(rec.get("gpu_name") or ""),
                    "reason": q.reason,
                    "detail": q.detail,
                    "record": json.dumps(dict(rec), default=str, sort_keys=True),
                }
            )
    return (
        pl.DataFrame(offers, schema=OFFER_SCHEMA) if offers else empty_offers(),
        pl.DataFrame(quarantined, schema=QUARANTINE_SCHEMA) if quarantined else empty_quarantine(),
    )


def quarantine_payload(
    *, source: str, day: dt.date, payload_name: str, reason: str, detail: str
) -> pl.DataFrame:
    """A one-row quarantine frame for a whole payload that could not be parsed."""
    return pl.DataFrame(
        [{"date": day, "source": source, "payload_name": payload_name, "provider": "",
          "gpu_name_raw": "", "reason": reason, "detail": detail, "record": ""}],
        schema=QUARANTINE_SCHEMA,
    )
