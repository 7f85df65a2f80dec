"""The canonical offer and quarantine schemas, the keys a candidate record may carry, and the
limits the rules hold records to (``pipelines.lib.offers.rules``).

Pure module: no I/O, no Dagster.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

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
INT32_LIMIT = 2**31  # counts stored as Int32: a larger or non-finite one is not a count

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
