"""SkyPilot's public per-cloud price catalogs (schema v8 ``vms.csv``), one payload per cloud.

Live: ``GET <base_url>/<cloud>/vms.csv`` for each cloud in ``[sources.skypilot_catalog]
clouds``; on HTTP 429 the same path under ``fallback_url`` (SkyPilot's S3 mirror). Archived
as ``<cloud>.csv``.

SkyPilot is an aggregator *source*: every GPU row becomes an offer of the real provider
(the cloud; for reseller catalogs such as Prime Intellect, the reseller, with the upstream
cloud in ``upstream_source``). Format quirks handled (see shared/data/skypilot_catalog/README):

1. column order differs per cloud -> columns are read by header name;
2. ``GpuInfo`` comes as a Python-repr dict, JSON with CSV-doubled quotes, JSON with single
   quotes and bare ``null``, lower-cased keys, or a plain GPU name -> ``gpu_info_name``;
3. memory fields are wrong in places -> never used; the GPU table in ``gpus.py`` decides;
4. ``AcceleratorCount`` is ``1``, ``1.0`` or ``'1.0'`` -> parsed as a number;
5. ``SpotPrice`` may be empty, equal to ``Price`` (a placeholder, runpod) or the only price
   (primeintellect ``__SPOT`` rows) -> a spot offer is emitted only for a real spot price;
6. float noise (``0.36979999999999996``) -> rounded in ``offers.normalise_offers``;
7. rows repeated per region/zone -> kept (one offer per region); exact duplicate rows are
   passed on, and ingest loads one copy and quarantines the rest as ``duplicate_row``;
8. vast rows are SkyPilot's group medians, not raw bids -> ``upstream_source`` says so.

Rows with an empty ``AcceleratorName`` are CPU instances and are not offers (not quarantined).
"""

from __future__ import annotations

import ast
import csv
import io
import json
import logging
import re
from functools import lru_cache
from typing import Any

import polars as pl

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

SOURCE_ID = "skypilot_catalog"
REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
log = logging.getLogger(__name__)

# catalog folder -> provider name (slugged later). Reseller catalogs keep their own name.
CLOUD_PROVIDER = {"do": "digitalocean", "vast": "vastai", "lambda": "lambda", "ibm": "ibm"}
RESELLER_CLOUDS = {"primeintellect", "shadeform"}


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """Download ``vms.csv`` for every configured cloud. A cloud that fails (404: SkyPilot
    does not publish it; 5xx after retries) becomes a FetchFailure entry, not an abort."""
    base = source_cfg["base_url"].rstrip("/")
    fallback = (source_cfg.get("fallback_url") or "").rstrip("/") or None
    out: list[Payload | FetchFailure] = []
    for cloud in source_cfg.get("clouds", []):
        url = f"{base}/{cloud}/vms.csv"
        try:
            resp = client.get(url, fallback_url=f"{fallback}/{cloud}/vms.csv" if fallback else None)
        except FetchError as exc:
            out.append(FetchFailure(f"{cloud}.csv", url, str(exc)))
            continue
        out.append(Payload(f"{cloud}.csv", resp.content, resp.url, resp.status,
                           resp.content_type, resp.fetched_at))
    return out


@lru_cache(maxsize=4096)
def gpu_info_name(raw: str) -> str:
    """The first GPU name inside a ``GpuInfo`` cell, whatever its encoding ('' if none)."""
    raw = (raw or "").strip()
    if not raw:
        return ""
    if not raw.startswith("{"):
        return raw  # paperspace: a plain name
    obj: Any = None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            # JSON dumped then '"'->"'" : single-quoted strings with bare null/true/false
            fixed = re.sub(r"\bnull\b", "None", raw)
            fixed = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", fixed))
            try:
                obj = ast.literal_eval(fixed)
            except (ValueError, SyntaxError) as exc:
                raise ParseError(f"unreadable GpuInfo {raw[:80]!r}: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseError(f"GpuInfo is not a mapping: {raw[:80]!r}")
    lower = {str(k).lower(): v for k, v in obj.items()}
    gpus = lower.get("gpus") or []
    if not gpus or not isinstance(gpus[0], dict):
        return ""
    first = {str(k).lower(): v for k, v in gpus[0].items()}
    return str(first.get("name") or "")


def _ragged_line(name: str, text: str, n_columns: int) -> ParseError:
    """The first line with more cells than the header, as a ParseError (error path only)."""
    for line_no, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if line_no > 1 and len(cells) > n_columns:
            return ParseError(f"{name} line {line_no}: {len(cells)} cells for {n_columns} columns")
    return ParseError(f"{name}: rows with more cells than the header's {n_columns} columns")


def parse(name: str, content: bytes) -> pl.DataFrame:
    """Candidate offers from one cloud's ``vms.csv`` (``name`` = ``<cloud>.csv``), as columns:
    per GPU row, an on-demand record when ``Price`` is set, then a spot record for a real spot
    price; a GPU row with neither becomes one record without a price (quarantined)."""
    cloud = name.rsplit(".", 1)[0]
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 text ({exc})") from None
    header = next(csv.reader(io.StringIO(text)), [])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ParseError(f"{name}: not a SkyPilot vms.csv (missing columns {missing}; header {header[:12]})")
    try:
        rows = pl.read_csv(io.StringIO(text), infer_schema_length=0, empty_string_is_null=False)
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            raise _ragged_line(name, text, len(header)) from None
        raise ParseError(f"{name}: unreadable CSV ({str(exc).splitlines()[0]})") from None
    has_spot = "SpotPrice" in header
    provider = CLOUD_PROVIDER.get(cloud, cloud)

    def col(column: str) -> pl.Expr:
        return pl.col(column).fill_null("") if column in rows.columns else pl.lit("")

    gpu = rows.with_row_index("_row").with_columns(
        col("AcceleratorName").str.strip_chars().alias("_accel"),
        col("InstanceType").str.strip_chars().alias("_instance"),
        col("Region").str.strip_chars().alias("_region"),
        col("AvailabilityZone").str.strip_chars().alias("_zone"),
        col("Price").str.strip_chars().alias("_price_text"),
        (col("SpotPrice").str.strip_chars() if has_spot else pl.lit("")).alias("_spot_text"),
    ).filter(pl.col("_accel") != "")  # CPU-only instance types are not GPU offers
    if gpu.height == 0:
        return pl.DataFrame(schema={"provider": pl.Utf8, "pricing": pl.Utf8, "price": pl.Utf8})
    infos = gpu.get_column("GpuInfo").fill_null("").unique().to_list() if "GpuInfo" in gpu.columns else []
    info_names = {raw: gpu_info_name(raw) for raw in infos}  # once per distinct cell
    info = (pl.col("GpuInfo").fill_null("").replace_strict(info_names, return_dtype=pl.Utf8)
            if "GpuInfo" in gpu.columns else pl.lit(""))
    nonempty = lambda e: pl.when(e != "").then(e)
    if cloud == "vast":
        upstream = pl.lit("skypilot:vast (group median, not raw bids)")
    elif cloud in RESELLER_CLOUDS:
        upstream = pl.when(pl.col("_instance").str.contains("__", literal=True)).then(
            pl.lit(f"skypilot:{cloud}:") + pl.col("_instance").str.split("__").list.first()
        ).otherwise(pl.lit(f"skypilot:{cloud}"))
    else:
        upstream = pl.lit(f"skypilot:{cloud}")
    price_num = pl.col("_price_text").cast(pl.Float64, strict=False)
    spot_num = pl.col("_spot_text").cast(pl.Float64, strict=False)
    base = gpu.with_columns(
        pl.lit(provider).alias("provider"),
        upstream.alias("upstream_source"),
        pl.col("_accel").alias("gpu_name"),
        pl.concat_str([nonempty(info), nonempty(pl.col("_instance")), nonempty(col("UpstreamCloudId"))],
                      separator=" ", ignore_nulls=True).alias("gpu_hint"),
        (pl.col("AcceleratorCount") if "AcceleratorCount" in gpu.columns else pl.lit(None, pl.Utf8))
        .alias("gpu_count"),
        pl.col("_instance").alias("instance_type"),
        pl.when(pl.col("_zone") == "").then(pl.col("_region"))
        .when(pl.col("_region") == "").then(pl.col("_zone"))
        .otherwise(pl.col("_region") + "/" + pl.col("_zone")).alias("region"),
        pl.lit("per_instance").alias("price_basis"),
        pl.lit("USD").alias("currency"),
        pl.lit(name).alias("payload_name"),
        # a real spot price: set, and not a placeholder equal to the on-demand price
        ((pl.col("_spot_text") != "") & spot_num.is_not_null()
         & (price_num.is_null() | ((spot_num - price_num).abs() > 1e-9))).alias("_has_spot"),
    )
    keep = ["_row", "provider", "upstream_source", "gpu_name", "gpu_hint", "gpu_count", "instance_type",
            "region", "price_basis", "currency", "payload_name"]
    # prices stay text: normalise_offers parses them, and quarantines the ones that are not numbers
    on_demand = base.filter(pl.col("_price_text") != "").select(
        *keep, pl.lit(0).alias("_k"), pl.lit("on_demand").alias("pricing"), pl.col("_price_text").alias("price"))
    spot = base.filter(pl.col("_has_spot")).select(
        *keep, pl.lit(1).alias("_k"), pl.lit("spot").alias("pricing"), pl.col("_spot_text").alias("price"))
    no_price = base.filter((pl.col("_price_text") == "") & ~pl.col("_has_spot")).select(
        *keep, pl.lit(0).alias("_k"), pl.lit("on_demand").alias("pricing"), pl.lit(None, pl.Utf8).alias("price"))
    return pl.concat([on_demand, spot, no_price]).sort("_row", "_k").drop("_row", "_k")
