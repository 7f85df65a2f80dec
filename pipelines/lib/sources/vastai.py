"""Vast.ai marketplace offers from the public offer search (``/api/v0/bundles/``).

Live: ``POST <base_url>`` (``https://console.vast.ai/api/v0/bundles/``) with a JSON search
body -- the filter syntax of Vast's own CLI (``vast.py search offers``) and of gpuhunt::

    {"verified": {"eq": true}, "external": {"eq": false}, "rentable": {"eq": true},
     "rented": {"eq": false}, "type": "on-demand", "order": [["dph_total", "asc"]],
     "limit": <max_offers>}

Archived as ``bundles.json``. The search needs no key (gpuhunt sends none); if
``VAST_API_KEY`` is set it is sent as a Bearer token, never logged. The answer is
``{"offers": [{id, machine_id, gpu_name, num_gpus, gpu_ram (MiB per GPU), dph_total,
min_bid, geolocation, rentable, rented, verified, ...}, ...]}``.

Every offer is one machine's bundle of ``num_gpus`` GPUs, priced for the whole bundle:

* ``on_demand`` at ``dph_total`` (USD/h, the all-in rate Vast shows: GPU + host share +
  the storage of the search's default allocation), ``price_basis`` ``per_instance`` with
  ``gpu_count`` = ``num_gpus`` -- ``normalise_offers`` divides;
* ``spot`` at ``min_bid`` when it is > 0: Vast's *interruptible* (bid) floor for the same
  bundle -- the lowest bid the host accepts right now, not a clearing price. Also
  ``per_instance``. A missing/0 ``min_bid`` means no interruptible price: no spot offer.

Availability = offer counts: one record per offer (``n_offers`` 1), ``available_gpus`` =
``num_gpus`` for a rentable, unrented offer (0 otherwise), ``stock_status``
``available``/``unavailable``. ``instance_type`` carries the offer and machine ids, so
two identical bundles on different machines stay two offers. ``region`` is Vast's
``geolocation`` text (``"Texas, US"``); ``gpu_memory_gb`` = ``gpu_ram`` / 1024 (it tells
A100 40 from 80 GB). Unknown GPU names and 0 prices are passed through for
``normalise_offers`` to quarantine (``unknown_gpu``, ``non_positive_price``).

No real Vast response body is stored anywhere we could reach; the tests use a
hand-written fixture in this shape (tests/fixtures/vastai/README.md).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import polars as pl

from pipelines.lib.config import secret
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.offers import round_like_python
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "vastai"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=("vastai",),
    defaults={
        "enabled": True,
        "base_url": "https://console.vast.ai/api/v0/bundles/",
        "max_offers": 5000,
    },
    secrets=("VAST_API_KEY",),
    terms=Terms(
        url="https://vast.ai/terms",
        verdict="unknown",
        checked="2026-12-01",
        quote="Vast.ai Terms of Use Agreement (version date 2023-12-15) covers 'your access to and use "
        "of the https://vast.ai website'; the clause on automated use of the offer search, or on "
        "reuse of listed prices, could not be established from the copies available to us.",
        licence="proprietary; marketplace listings",
    ),
    description="Vast.ai marketplace offers (per-GPU price = total / GPUs; availability = offer counts)",
)
PROVIDER = "vastai"
PAYLOAD_NAME = "bundles.json"
DEFAULT_MAX_OFFERS = 5000
log = logging.getLogger(__name__)


def search_body(max_offers: int = DEFAULT_MAX_OFFERS) -> dict[str, Any]:
    """The offer-search body: verified, rentable, unrented on-demand offers, cheapest first."""
    return {
        "verified": {"eq": True},
        "external": {"eq": False},
        "rentable": {"eq": True},
        "rented": {"eq": False},
        "type": "on-demand",
        "order": [["dph_total", "asc"]],
        "limit": int(max_offers),
    }


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One POST of the search body; a failure becomes a FetchFailure entry."""
    url = source_cfg["base_url"]
    body = search_body(source_cfg.get("max_offers") or DEFAULT_MAX_OFFERS)
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    key = secret("VAST_API_KEY")
    if key:
        headers["Authorization"] = f"Bearer {key}"
    try:
        resp = client.post(url, json=body, headers=headers)
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    try:
        n = len(json.loads(resp.content).get("offers") or [])
    except (ValueError, AttributeError):
        n = -1  # parse will say what is wrong
    if n >= body["limit"]:
        log.warning("vastai: %d offers = the search limit; raise [sources.vastai] max_offers", n)
    return [
        Payload(
            PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at
        )
    ]


_FIELDS = (
    "id",
    "machine_id",
    "gpu_name",
    "num_gpus",
    "gpu_ram",
    "dph_total",
    "min_bid",
    "geolocation",
    "rentable",
    "rented",
)


def _column(offers: list[dict[str, Any]], key: str) -> pl.Series:
    """One offer field as a column; mixed types (a price sent as text) become text, kept."""
    return pl.Series(key, [o.get(key) for o in offers], strict=False)


def _number(col: pl.Series) -> pl.Series:
    """A numeric field as Float64: numbers as they are, text parsed, anything else null."""
    if col.dtype == pl.Boolean or col.dtype == pl.Null:
        return pl.Series(col.name, [None] * len(col), dtype=pl.Float64)
    if col.dtype.is_numeric():
        return col.cast(pl.Float64)
    return col.cast(pl.Utf8, strict=False).str.strip_chars().cast(pl.Float64, strict=False)


def _flag(col: pl.Series) -> pl.Series:
    """A yes/no field: booleans as they are, text "true"/"false" read, anything else null."""
    if col.dtype == pl.Boolean:
        return col
    if col.dtype.is_numeric():
        return col != 0
    t = pl.col("t")
    return (
        pl.DataFrame({"t": col.cast(pl.Utf8, strict=False).str.to_lowercase()})
        .select(
            pl.when(t.is_in(["true", "1"])).then(True).when(t.is_in(["false", "0"])).then(False)
        )
        .to_series()
        .alias(col.name)
    )


def _text(col: pl.Series, null: str = "None") -> pl.Series:
    """A field as Python's ``str()`` would print it inside the instance label."""
    return col.cast(pl.Utf8, strict=False).fill_null(null)


def parse(name: str, content: bytes) -> pl.DataFrame:
    """Candidate offers from one ``bundles`` answer, as columns (see ``RAW_OFFER_KEYS``):
    one on-demand record per offer, then its spot record when it has a bid floor."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if not isinstance(doc, dict) or "offers" not in doc:
        detail = (
            (doc.get("msg") or doc.get("error")) if isinstance(doc, dict) else type(doc).__name__
        )
        raise ParseError(f"{name}: not a Vast bundles answer (no 'offers'; {str(detail)[:200]})")
    offers = doc["offers"]
    if isinstance(offers, dict):  # a single offer comes back unwrapped
        offers = [offers]
    if not isinstance(offers, list):
        raise ParseError(f"{name}: 'offers' is {type(offers).__name__}, not a list")
    bad = next(
        (
            i
            for i, o in enumerate(offers)
            if not isinstance(o, dict) or "gpu_name" not in o or "num_gpus" not in o
        ),
        None,
    )
    if bad is not None:
        raise ParseError(f"{name}: offer {bad} lacks gpu_name/num_gpus: {str(offers[bad])[:200]}")
    if not offers:
        return pl.DataFrame(schema={"provider": pl.Utf8, "pricing": pl.Utf8, "price": pl.Float64})
    raw = pl.DataFrame([_column(offers, key) for key in _FIELDS])
    n = raw.height
    bid, gpu_ram = _number(raw["min_bid"]), _number(raw["gpu_ram"])
    # the price as Vast sent it: numbers stay numbers; a payload with text prices keeps every
    # price as text, and normalise_offers parses it or quarantines the record
    price = raw["dph_total"]
    if not price.dtype.is_numeric():
        price = price.cast(pl.Utf8, strict=False)
    spot_price = bid if price.dtype.is_numeric() else bid.cast(pl.Utf8)
    available = _flag(raw["rentable"]).fill_null(True) & ~_flag(raw["rented"]).fill_null(False)
    gpu_name = raw["gpu_name"].cast(pl.Utf8, strict=False).fill_null("")
    num_gpus = raw["num_gpus"]
    region = raw["geolocation"].cast(pl.Utf8, strict=False)
    frame = (
        pl.DataFrame(
            {
                "_offer": pl.Series(range(n), dtype=pl.Int64),
                "provider": pl.repeat(PROVIDER, n, eager=True),
                "segment": pl.repeat("marketplace", n, eager=True),
                "upstream_source": pl.repeat(None, n, dtype=pl.Utf8, eager=True),
                "gpu_name": gpu_name,
                "gpu_hint": pl.repeat("", n, eager=True),
                "gpu_memory_gb": round_like_python(gpu_ram / 1024, 1).fill_nan(None),
                "gpu_count": num_gpus,
                "instance_type": (
                    _text(num_gpus)
                    + "x "
                    + gpu_name
                    + " (offer "
                    + _text(raw["id"])
                    + ", machine "
                    + _text(raw["machine_id"])
                    + ")"
                ),
                "region": region,
                "price_basis": pl.repeat("per_instance", n, eager=True),
                "currency": pl.repeat("USD", n, eager=True),
                "n_offers": pl.repeat(1, n, dtype=pl.Int64, eager=True),
                "_available": available,
            }
        )
        .with_columns(
            pl.when(pl.col("gpu_memory_gb") != 0)
            .then(pl.col("gpu_memory_gb"))
            .alias("gpu_memory_gb"),
            pl.when(pl.col("region") != "").then(pl.col("region")).alias("region"),
            pl.when(pl.col("_available"))
            .then(pl.lit("available"))
            .otherwise(pl.lit("unavailable"))
            .alias("stock_status"),
            pl.when(pl.col("_available"))
            .then(pl.col("gpu_count"))
            .otherwise(pl.lit("0" if num_gpus.dtype == pl.Utf8 else 0))
            .alias("available_gpus"),
        )
        .drop("_available")
    )
    on_demand = frame.with_columns(
        pl.lit(0).alias("_k"), pl.lit("on_demand").alias("pricing"), price.alias("price")
    )
    spot = frame.with_columns(
        pl.lit(1).alias("_k"), pl.lit("spot").alias("pricing"), spot_price.alias("price")
    ).filter(bid.fill_null(0) > 0)
    return pl.concat([on_demand, spot]).sort("_offer", "_k").drop("_offer", "_k")
