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
3. ``GpuInfo``'s per-GPU memory (``SizeInMiB``) tells an 80 GB A100 from a 40 GB one, but is
   wrong in places: GiB written into the MiB field (runpod ``80``), the instance *total* in
   the per-GPU field (verda 538675a, primeintellect) -> ``gpu_memory_gb`` is the reading that
   names a real variant of the family (``gpus.snap_memory``); where both the per-GPU and the
   total reading name one (2x A100: 80 GB each, or 2x 40 GB written as a total), the
   catalog's own convention decides, learned from its rows where only one reading fits;
   without such evidence no memory is passed and the variant stays ``gpu_variant_assumed``;
4. ``AcceleratorCount`` is ``1``, ``1.0`` or ``'1.0'`` -> parsed as a number (``GpuInfo``'s
   ``Count`` is never used: yotta says 1 on 8-GPU rows);
5. ``SpotPrice`` may be empty or ``0.00`` (no spot offer: no spot record, nothing
   quarantined), equal to ``Price`` (a placeholder, runpod) or the only price (primeintellect
   ``__SPOT`` rows) -> a spot offer is emitted only for a real spot price; a spot price that
   is not a number is passed on as text and quarantined;
6. float noise (``0.36979999999999996``) -> rounded in ``offers.normalise_offers``;
7. rows repeated per region/zone -> kept (one offer per region); exact duplicate rows are
   passed on, and ingest loads one copy and quarantines the rest as ``duplicate_row``;
8. vast rows are SkyPilot's group medians, not raw bids -> ``upstream_source`` says so.

9. the form: ``AcceleratorName`` decides where it names one (``H100-SXM``); where it does
   not, the instance name does (``epyc-genoa-a100-pcie_1x2v4gb``, ``...-a100-pci_...``,
   ``gpu_1x_a100_sxm4``) -- it is passed as ``gpu_hint`` and ``gpus.resolve_gpu`` reads it;
10. placeholder prices: the same whole-dollar per-GPU price for different GPU families of
   one cloud (every H100 and H200 at exactly 1.00) is not a price list. Such records carry
   ``quarantine_reason = "placeholder_price"`` and are quarantined by ``normalise_offers``,
   not loaded (computed per upstream cloud: a reseller's catalog mixes clouds).

Rows with an empty ``AcceleratorName`` are CPU instances and are not offers (not quarantined).

Terms (checked 2026-12-01): the catalog is github.com/skypilot-org/skypilot-catalog, fetched
the way SkyPilot itself fetches it (raw.githubusercontent.com, S3 mirror on 429). No LICENSE
file could be found for that repository in the public file archive we read (its README states
none); the parent project skypilot-org/skypilot is "Licensed under the Apache License,
Version 2.0". The rows are the providers' own published list prices, collected by SkyPilot's
fetchers, i.e. factual price data; each provider's own terms on reuse of its prices were not
established here. Verdict: ``unknown``.

Clouds (``defaults['clouds']``): the 20 clouds with a ``catalogs/v8/<cloud>/vms.csv`` in the
public file archive of the repository (read 2026-12-01). ``config.DEFAULTS`` listed 29 and
``gpu_tracker.toml`` 23; both named clouds with no v8 file (azure, fluidstack, paperspace, do,
ibm, scp, ovhcloud, scaleway, simplepod: v5-v7 only), which would 404 every day, and the TOML
missed daytona, which has one.

Layout: this module is the source (SPEC, fetch, parse); the ``GpuInfo`` decoding and the
per-catalog memory readings live in ``_skypilot_gpuinfo`` (``gpu_info`` and ``gpu_info_name``
stay importable from here), the placeholder-price flags (quirk 10) in
``_skypilot_placeholders``.
"""

from __future__ import annotations

import csv
import io
import logging
from typing import Any

import polars as pl

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources._skypilot_gpuinfo import catalog_memory, gpu_info, gpu_info_name
from pipelines.lib.sources._skypilot_placeholders import PLACEHOLDER_MIN_FAMILIES, flag_placeholders
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "skypilot_catalog"
V8_CLOUDS = (
    "aws",
    "gcp",
    "oci",
    "lambda",
    "runpod",
    "verda",
    "nebius",
    "hyperstack",
    "jarvislabs",
    "cudo",
    "primeintellect",
    "hyperbolic",
    "vast",
    "seeweb",
    "shadeform",
    "mithril",
    "lium",
    "yotta",
    "spheron",
    "daytona",
)
SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=("*",),  # an aggregator: every row is an offer of the cloud (or reseller) it lists
    defaults={
        "enabled": True,
        "base_url": "https://raw.githubusercontent.com/skypilot-org/skypilot-catalog/master/catalogs/v8",
        "fallback_url": "https://skypilot-catalog.s3.us-east-1.amazonaws.com/catalogs/v8",
        "clouds": list(V8_CLOUDS),
    },
    terms=Terms(
        url="https://github.com/skypilot-org/skypilot-catalog",
        verdict="unknown",
        checked="2026-12-01",
        quote="No LICENSE file found for skypilot-org/skypilot-catalog; its parent project "
        "skypilot-org/skypilot is 'Licensed under the Apache License, Version 2.0'. The rows "
        "are providers' published list prices gathered by SkyPilot's fetchers.",
        licence="unknown (catalog repo: no licence file; SkyPilot: Apache-2.0); providers' published prices",
    ),
    description="SkyPilot's public per-cloud price catalogs (v8 vms.csv): on-demand and spot per instance",
)
REQUIRED_COLUMNS = ("InstanceType", "AcceleratorName", "AcceleratorCount", "Price", "Region")
log = logging.getLogger(__name__)
# the GpuInfo readers, importable from here as before (tests, importers)
__all__ = [
    "CLOUD_PROVIDER",
    "PLACEHOLDER_MIN_FAMILIES",
    "REQUIRED_COLUMNS",
    "RESELLER_CLOUDS",
    "SOURCE_ID",
    "SPEC",
    "V8_CLOUDS",
    "fetch",
    "gpu_info",
    "gpu_info_name",
    "parse",
]

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
        out.append(
            Payload(
                f"{cloud}.csv",
                resp.content,
                resp.url,
                resp.status,
                resp.content_type,
                resp.fetched_at,
            )
        )
    return out


def _ragged_line(name: str, text: str, n_columns: int) -> ParseError:
    """The first line with more cells than the header, as a ParseError (error path only)."""
    for line_no, cells in enumerate(csv.reader(io.StringIO(text)), start=1):
        if line_no > 1 and len(cells) > n_columns:
            return ParseError(f"{name} line {line_no}: {len(cells)} cells for {n_columns} columns")
    return ParseError(f"{name}: rows with more cells than the header's {n_columns} columns")


def _read_catalog(name: str, content: bytes) -> tuple[pl.DataFrame, list[str]]:
    """Every cell of the catalog as text, and its header; ParseError when it is no vms.csv."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 text ({exc})") from None
    header = next(csv.reader(io.StringIO(text)), [])
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ParseError(
            f"{name}: not a SkyPilot vms.csv (missing columns {missing}; header {header[:12]})"
        )
    try:
        rows = pl.read_csv(io.StringIO(text), infer_schema_length=0, empty_string_is_null=False)
    except pl.exceptions.ComputeError as exc:
        if "more fields" in str(exc):
            raise _ragged_line(name, text, len(header)) from None
        raise ParseError(f"{name}: unreadable CSV ({str(exc).splitlines()[0]})") from None
    return rows, header


def _text(frame: pl.DataFrame, column: str) -> pl.Expr:
    """A text column with nulls as '' (an absent column reads as '')."""
    return pl.col(column).fill_null("") if column in frame.columns else pl.lit("")


def _gpu_rows(rows: pl.DataFrame, has_spot: bool) -> pl.DataFrame:
    """The GPU rows (CPU-only instance types are not GPU offers) with their cells stripped,
    ``GpuInfo``'s GPU name (``_info_name``) and the per-GPU memory the catalog supports."""
    gpu = (
        rows.with_row_index("_row")
        .with_columns(
            _text(rows, "AcceleratorName").str.strip_chars().alias("_accel"),
            _text(rows, "InstanceType").str.strip_chars().alias("_instance"),
            _text(rows, "Region").str.strip_chars().alias("_region"),
            _text(rows, "AvailabilityZone").str.strip_chars().alias("_zone"),
            _text(rows, "Price").str.strip_chars().alias("_price_text"),
            (_text(rows, "SpotPrice").str.strip_chars() if has_spot else pl.lit("")).alias(
                "_spot_text"
            ),
        )
        .filter(pl.col("_accel") != "")
    )
    if gpu.height == 0:
        return gpu
    has_info = "GpuInfo" in gpu.columns
    infos = gpu.get_column("GpuInfo").fill_null("").unique().to_list() if has_info else []
    info_names = {raw: gpu_info_name(raw) for raw in infos}  # once per distinct cell
    gpu = gpu.with_columns(
        (pl.col("GpuInfo").fill_null("") if has_info else pl.lit("")).alias("_info_raw"),
        (
            pl.col("GpuInfo").fill_null("").replace_strict(info_names, return_dtype=pl.Utf8)
            if has_info
            else pl.lit("")
        ).alias("_info_name"),
        _text(gpu, "AcceleratorCount").str.strip_chars().alias("_count_text"),
    )
    combos = gpu.select("_accel", "_info_raw", "_count_text").unique()
    memory = catalog_memory(list(combos.iter_rows()))  # once per distinct combination
    return gpu.join(
        combos.with_columns(
            pl.Series("gpu_memory_gb", [memory[k] for k in combos.iter_rows()], dtype=pl.Float64)
        ),
        on=["_accel", "_info_raw", "_count_text"],
        how="left",
        nulls_equal=True,
    ).sort("_row")


def _upstream(cloud: str) -> pl.Expr:
    """``upstream_source``: the catalog, for a reseller the cloud it resells (quirk 8 for vast)."""
    if cloud == "vast":
        return pl.lit("skypilot:vast (group median, not raw bids)")
    if cloud in RESELLER_CLOUDS:
        return (
            pl.when(pl.col("_instance").str.contains("__", literal=True))
            .then(pl.lit(f"skypilot:{cloud}:") + pl.col("_instance").str.split("__").list.first())
            .otherwise(pl.lit(f"skypilot:{cloud}"))
        )
    return pl.lit(f"skypilot:{cloud}")


def _nonempty(e: pl.Expr) -> pl.Expr:
    return pl.when(e != "").then(e)


def _offer_base(gpu: pl.DataFrame, cloud: str, name: str) -> pl.DataFrame:
    """The columns every record of a GPU row shares, and whether it has a real spot price."""
    price_num = pl.col("_price_text").cast(pl.Float64, strict=False)
    spot_num = pl.col("_spot_text").cast(pl.Float64, strict=False)
    return gpu.with_columns(
        pl.lit(CLOUD_PROVIDER.get(cloud, cloud)).alias("provider"),
        _upstream(cloud).alias("upstream_source"),
        pl.col("_accel").alias("gpu_name"),
        pl.concat_str(
            [
                _nonempty(pl.col("_info_name")),
                _nonempty(pl.col("_instance")),
                _nonempty(_text(gpu, "UpstreamCloudId")),
            ],
            separator=" ",
            ignore_nulls=True,
        ).alias("gpu_hint"),
        (
            pl.col("AcceleratorCount")
            if "AcceleratorCount" in gpu.columns
            else pl.lit(None, pl.Utf8)
        ).alias("gpu_count"),
        pl.col("_instance").alias("instance_type"),
        pl.when(pl.col("_zone") == "")
        .then(pl.col("_region"))
        .when(pl.col("_region") == "")
        .then(pl.col("_zone"))
        .otherwise(pl.col("_region") + "/" + pl.col("_zone"))
        .alias("region"),
        pl.lit("per_instance").alias("price_basis"),
        pl.lit("USD").alias("currency"),
        pl.lit(name).alias("payload_name"),
        # a real spot price: set, not 0.00 ("no spot offer"), and not a placeholder equal to
        # the on-demand price; text that is no number is passed on, to be quarantined
        (
            (pl.col("_spot_text") != "")
            & (spot_num.is_null() | (spot_num != 0))
            & (spot_num.is_null() | price_num.is_null() | ((spot_num - price_num).abs() > 1e-9))
        ).alias("_has_spot"),
    )


_KEEP = (
    "_row",
    "provider",
    "upstream_source",
    "gpu_name",
    "gpu_hint",
    "gpu_memory_gb",
    "gpu_count",
    "instance_type",
    "region",
    "price_basis",
    "currency",
    "payload_name",
)


def parse(name: str, content: bytes) -> pl.DataFrame:
    """Candidate offers from one cloud's ``vms.csv`` (``name`` = ``<cloud>.csv``), as columns:
    per GPU row, an on-demand record when ``Price`` is set, then a spot record for a real spot
    price; a GPU row with neither becomes one record without a price (quarantined)."""
    cloud = name.rsplit(".", 1)[0]
    rows, header = _read_catalog(name, content)
    gpu = _gpu_rows(rows, "SpotPrice" in header)
    if gpu.height == 0:
        return pl.DataFrame(schema={"provider": pl.Utf8, "pricing": pl.Utf8, "price": pl.Utf8})
    base = _offer_base(gpu, cloud, name)
    # prices stay text: normalise_offers parses them, and quarantines the ones that are not numbers
    on_demand = base.filter(pl.col("_price_text") != "").select(
        *_KEEP,
        pl.lit(0).alias("_k"),
        pl.lit("on_demand").alias("pricing"),
        pl.col("_price_text").alias("price"),
    )
    spot = base.filter(pl.col("_has_spot")).select(
        *_KEEP,
        pl.lit(1).alias("_k"),
        pl.lit("spot").alias("pricing"),
        pl.col("_spot_text").alias("price"),
    )
    no_price = base.filter((pl.col("_price_text") == "") & ~pl.col("_has_spot")).select(
        *_KEEP,
        pl.lit(0).alias("_k"),
        pl.lit("on_demand").alias("pricing"),
        pl.lit(None, pl.Utf8).alias("price"),
    )
    records = pl.concat([on_demand, spot, no_price]).sort("_row", "_k").drop("_row", "_k")
    return flag_placeholders(records)
