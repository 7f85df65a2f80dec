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

from pipelines.lib.gpus import gpu_family, snap_memory
from pipelines.lib.http import FetchError, PoliteClient
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
# a placeholder: the same whole-dollar per-GPU price for this many different GPU families
PLACEHOLDER_MIN_FAMILIES = 2
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


@lru_cache(maxsize=4096)
def gpu_info(raw: str) -> tuple[str, float | None]:
    """The first GPU's name and its ``MemoryInfo.SizeInMiB`` inside a ``GpuInfo`` cell,
    whatever its encoding (``('', None)`` if none; the size as written, units unchecked)."""
    raw = (raw or "").strip()
    if not raw:
        return "", None
    if not raw.startswith("{"):
        return raw, None  # paperspace: a plain name
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
    if not isinstance(gpus, list) or not gpus or not isinstance(gpus[0], dict):
        return "", None
    first = {str(k).lower(): v for k, v in gpus[0].items()}
    memory = first.get("memoryinfo")
    size: Any = (
        {str(k).lower(): v for k, v in memory.items()}.get("sizeinmib")
        if isinstance(memory, dict)
        else None
    )
    try:
        size_mib = float(size) if size is not None and not isinstance(size, bool) else None
    except (TypeError, ValueError):
        size_mib = None  # an unreadable size is no evidence; the name and hints still count
    if size_mib is not None and not 0 < size_mib < 1e9:
        size_mib = None
    return str(first.get("name") or ""), size_mib


def gpu_info_name(raw: str) -> str:
    """The first GPU name inside a ``GpuInfo`` cell, whatever its encoding ('' if none)."""
    return gpu_info(raw)[0]


def _memory_readings(
    family: str | None, size_mib: float | None, count: float | None
) -> tuple[int | None, int | None]:
    """The variant sizes (GB) two readings of ``SizeInMiB`` name: as the per-GPU memory, and
    as the instance total written into the per-GPU field (divided by the GPU count). A
    value below 1024 is GiB written into the MiB field (runpod: ``80``)."""
    if family is None or size_mib is None:
        return None, None
    gb = size_mib / 1024 if size_mib >= 1024 else size_mib
    per_gpu = snap_memory(family, gb)
    total = (
        snap_memory(family, gb / count) if count and count > 1 and count == int(count) else per_gpu
    )
    return per_gpu, total


def _catalog_memory(combos: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], float | None]:
    """Per-GPU memory (GB) for each distinct (AcceleratorName, GpuInfo, AcceleratorCount).

    A row where only one reading names a variant settles it, and counts as evidence of the
    catalog's convention; where both do and disagree, the convention decides when every
    piece of evidence agrees, else no memory is given (the variant stays assumed)."""
    readings: dict[tuple[str, str, str], tuple[int | None, int | None]] = {}
    evidence = {"per_gpu": 0, "total": 0}
    for accel, info_raw, count_text in combos:
        try:
            count = float(count_text) if count_text else None
        except ValueError:
            count = None
        family = gpu_family(accel) or gpu_family(gpu_info(info_raw)[0])
        per_gpu, total = _memory_readings(family, gpu_info(info_raw)[1], count)
        readings[(accel, info_raw, count_text)] = (per_gpu, total)
        if count and count > 1 and (per_gpu is None) != (total is None):
            evidence["per_gpu" if per_gpu is not None else "total"] += 1
    convention = None
    if (evidence["per_gpu"] > 0) != (evidence["total"] > 0):
        convention = "per_gpu" if evidence["per_gpu"] else "total"
    out: dict[tuple[str, str, str], float | None] = {}
    for key, (per_gpu, total) in readings.items():
        if per_gpu == total or total is None:
            out[key] = per_gpu
        elif per_gpu is None:
            out[key] = total
        else:
            out[key] = {"per_gpu": per_gpu, "total": total}.get(convention or "")
    return {k: (float(v) if v is not None else None) for k, v in out.items()}


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
        raise ParseError(
            f"{name}: not a SkyPilot vms.csv (missing columns {missing}; header {header[:12]})"
        )
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

    gpu = (
        rows.with_row_index("_row")
        .with_columns(
            col("AcceleratorName").str.strip_chars().alias("_accel"),
            col("InstanceType").str.strip_chars().alias("_instance"),
            col("Region").str.strip_chars().alias("_region"),
            col("AvailabilityZone").str.strip_chars().alias("_zone"),
            col("Price").str.strip_chars().alias("_price_text"),
            (col("SpotPrice").str.strip_chars() if has_spot else pl.lit("")).alias("_spot_text"),
        )
        .filter(pl.col("_accel") != "")
    )  # CPU-only instance types are not GPU offers
    if gpu.height == 0:
        return pl.DataFrame(schema={"provider": pl.Utf8, "pricing": pl.Utf8, "price": pl.Utf8})
    infos = (
        gpu.get_column("GpuInfo").fill_null("").unique().to_list()
        if "GpuInfo" in gpu.columns
        else []
    )
    info_names = {raw: gpu_info_name(raw) for raw in infos}  # once per distinct cell
    info = (
        pl.col("GpuInfo").fill_null("").replace_strict(info_names, return_dtype=pl.Utf8)
        if "GpuInfo" in gpu.columns
        else pl.lit("")
    )
    gpu = gpu.with_columns(
        (pl.col("GpuInfo").fill_null("") if "GpuInfo" in gpu.columns else pl.lit("")).alias(
            "_info_raw"
        ),
        col("AcceleratorCount").str.strip_chars().alias("_count_text"),
    )
    combos = gpu.select("_accel", "_info_raw", "_count_text").unique()
    memory = _catalog_memory(list(combos.iter_rows()))  # once per distinct combination
    gpu = gpu.join(
        combos.with_columns(
            pl.Series("gpu_memory_gb", [memory[k] for k in combos.iter_rows()], dtype=pl.Float64)
        ),
        on=["_accel", "_info_raw", "_count_text"],
        how="left",
        nulls_equal=True,
    ).sort("_row")

    def nonempty(e):
        return pl.when(e != "").then(e)

    if cloud == "vast":
        upstream = pl.lit("skypilot:vast (group median, not raw bids)")
    elif cloud in RESELLER_CLOUDS:
        upstream = (
            pl.when(pl.col("_instance").str.contains("__", literal=True))
            .then(pl.lit(f"skypilot:{cloud}:") + pl.col("_instance").str.split("__").list.first())
            .otherwise(pl.lit(f"skypilot:{cloud}"))
        )
    else:
        upstream = pl.lit(f"skypilot:{cloud}")
    price_num = pl.col("_price_text").cast(pl.Float64, strict=False)
    spot_num = pl.col("_spot_text").cast(pl.Float64, strict=False)
    base = gpu.with_columns(
        pl.lit(provider).alias("provider"),
        upstream.alias("upstream_source"),
        pl.col("_accel").alias("gpu_name"),
        pl.concat_str(
            [nonempty(info), nonempty(pl.col("_instance")), nonempty(col("UpstreamCloudId"))],
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
    keep = [
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
    ]
    # prices stay text: normalise_offers parses them, and quarantines the ones that are not numbers
    on_demand = base.filter(pl.col("_price_text") != "").select(
        *keep,
        pl.lit(0).alias("_k"),
        pl.lit("on_demand").alias("pricing"),
        pl.col("_price_text").alias("price"),
    )
    spot = base.filter(pl.col("_has_spot")).select(
        *keep,
        pl.lit(1).alias("_k"),
        pl.lit("spot").alias("pricing"),
        pl.col("_spot_text").alias("price"),
    )
    no_price = base.filter((pl.col("_price_text") == "") & ~pl.col("_has_spot")).select(
        *keep,
        pl.lit(0).alias("_k"),
        pl.lit("on_demand").alias("pricing"),
        pl.lit(None, pl.Utf8).alias("price"),
    )
    records = pl.concat([on_demand, spot, no_price]).sort("_row", "_k").drop("_row", "_k")
    return _flag_placeholders(records)


def _flag_placeholders(records: pl.DataFrame) -> pl.DataFrame:
    """Mark placeholder prices: one whole-dollar per-GPU price shared by GPUs of different
    families within one upstream cloud and pricing type (``quarantine_reason`` /
    ``quarantine_detail``; ``normalise_offers`` quarantines them). Real list prices of
    different chips are practically never the same round figure; a fetcher's stand-in is."""
    names = records.get_column("gpu_name").unique().to_list()
    families = {n: gpu_family(n) or n.strip().upper() for n in names}
    per_gpu = pl.col("price").cast(pl.Float64, strict=False) / pl.col("gpu_count").cast(
        pl.Float64, strict=False
    )
    f = records.with_columns(
        pl.col("gpu_name").replace_strict(families, return_dtype=pl.Utf8).alias("_family"),
        per_gpu.round(6).alias("_per_gpu"),
    )
    whole = (pl.col("_per_gpu") >= 1) & (
        (pl.col("_per_gpu") - pl.col("_per_gpu").round(0)).abs() < 1e-9
    )
    groups = (
        f.filter(whole.fill_null(False))
        .group_by("upstream_source", "pricing", "_per_gpu")
        .agg(pl.col("_family").unique().sort().alias("_families"))
        .filter(pl.col("_families").list.len() >= PLACEHOLDER_MIN_FAMILIES)
    )
    if groups.height == 0:
        return records.with_columns(
            pl.lit(None, pl.Utf8).alias("quarantine_reason"),
            pl.lit(None, pl.Utf8).alias("quarantine_detail"),
        )
    groups = groups.with_columns(
        pl.lit("placeholder_price").alias("quarantine_reason"),
        pl.format(
            "{} price of exactly {} USD per GPU-hour for every one of {} in {}: a placeholder, "
            "not a price list",
            pl.col("pricing"),
            pl.col("_per_gpu").cast(pl.Utf8),
            pl.col("_families").list.join(", "),
            pl.col("upstream_source"),
        ).alias("quarantine_detail"),
    ).drop("_families")
    return f.join(
        groups,
        on=["upstream_source", "pricing", "_per_gpu"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    ).drop("_family", "_per_gpu")
