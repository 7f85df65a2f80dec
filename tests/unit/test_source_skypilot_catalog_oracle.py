"""``skypilot_catalog.parse`` (columnar, polars) against the per-row ``csv.DictReader`` loop
it replaced, written the slow way as an oracle: on all 15 real catalogs in
../shared/data/skypilot_catalog and hand-written ones, ``normalise_offers`` must give the
same offers and quarantine from both."""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
from polars.testing import assert_frame_equal

from pipelines.lib.gpus import gpu_family, snap_memory
from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog as sky
from tests.unit.test_source_skypilot_catalog import VARIANTS

DAY = dt.date(2026, 5, 24)


def _price_of(value):
    value = (value or "").strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _readings(row):
    """(per-GPU reading, total reading, count) of one row's ``SizeInMiB``, the slow way."""
    accel = (row.get("AcceleratorName") or "").strip()
    info_name, size = sky.gpu_info(row.get("GpuInfo") or "")
    family = gpu_family(accel) or gpu_family(info_name)
    count = _price_of(row.get("AcceleratorCount"))
    if family is None or size is None:
        return None, None, count
    gb = size / 1024 if size >= 1024 else size
    per_gpu = snap_memory(family, gb)
    total = (
        snap_memory(family, gb / count) if count and count > 1 and count == int(count) else per_gpu
    )
    return per_gpu, total, count


def _convention(rows):
    """The catalog's memory convention from a first pass: rows where only one reading fits."""
    votes = set()
    for row in rows:
        if (row.get("AcceleratorName") or "").strip():
            per_gpu, total, count = _readings(row)
            if count and count > 1 and (per_gpu is None) != (total is None):
                votes.add("per_gpu" if per_gpu is not None else "total")
    return votes.pop() if len(votes) == 1 else None


def _row_memory(row, convention):
    per_gpu, total, _ = _readings(row)
    if per_gpu == total or total is None:
        memory = per_gpu
    elif per_gpu is None:
        memory = total
    else:
        memory = {"per_gpu": per_gpu, "total": total}.get(convention or "")
    return float(memory) if memory is not None else None


def _row_upstream(cloud, instance):
    upstream = f"skypilot:{cloud}"
    if cloud in sky.RESELLER_CLOUDS and "__" in instance:
        upstream = f"skypilot:{cloud}:{instance.split('__', 1)[0]}"
    if cloud == "vast":
        upstream = "skypilot:vast (group median, not raw bids)"
    return upstream


def _row_base(name, cloud, row, convention):
    """The fields every record of one GPU row shares."""
    instance = (row.get("InstanceType") or "").strip()
    info_name = sky.gpu_info_name(row.get("GpuInfo") or "")
    region = (row.get("Region") or "").strip()
    zone = (row.get("AvailabilityZone") or "").strip()
    if zone:
        region = f"{region}/{zone}" if region else zone
    return {
        "provider": sky.CLOUD_PROVIDER.get(cloud, cloud),
        "upstream_source": _row_upstream(cloud, instance),
        "gpu_name": (row.get("AcceleratorName") or "").strip(),
        "gpu_hint": " ".join(
            x for x in (info_name, instance, row.get("UpstreamCloudId") or "") if x
        ),
        "gpu_memory_gb": _row_memory(row, convention),
        "gpu_count": row.get("AcceleratorCount"),
        "instance_type": instance,
        "region": region,
        "price_basis": "per_instance",
        "currency": "USD",
        "payload_name": name,
    }


def _row_records(base, row, has_spot):
    """On-demand when priced, spot when a real spot price, else one record without a price."""
    price = _price_of(row.get("Price"))
    raw_spot = (row.get("SpotPrice") or "").strip() if has_spot else ""
    spot = _price_of(raw_spot)
    raw_price = (row.get("Price") or "").strip()
    out = []
    if raw_price:
        out.append(
            {**base, "pricing": "on_demand", "price": price if price is not None else raw_price}
        )
    if raw_spot and spot != 0 and (spot is None or price is None or abs(spot - price) > 1e-9):
        out.append({**base, "pricing": "spot", "price": spot if spot is not None else raw_spot})
    return out or [{**base, "pricing": "on_demand", "price": None}]


def _per_gpu_key(rec):
    count = _price_of(rec["gpu_count"])
    if isinstance(rec["price"], float) and count:
        return (rec["upstream_source"], rec["pricing"], round(rec["price"] / count, 6))
    return None


def _mark_placeholders(records):
    """One whole-dollar per-GPU price for GPUs of different families of one cloud."""
    groups: dict[tuple, set] = {}
    for rec in records:
        key = _per_gpu_key(rec)
        if key is not None and key[2] >= 1 and key[2] == int(key[2]):
            groups.setdefault(key, set()).add(
                gpu_family(rec["gpu_name"]) or rec["gpu_name"].upper()
            )
    for rec in records:
        key = _per_gpu_key(rec)
        if key is not None and len(groups.get(key, ())) >= 2:
            rec["quarantine_reason"] = "placeholder_price"
            rec["quarantine_detail"] = "x"


def _reference_records(name: str, content: bytes) -> list[dict]:
    """The per-row ``csv.DictReader`` loop ``sky.parse`` was before it returned columns, with
    the variant rules of issue #13.2 written the slow way: memory readings per row and the
    catalog's convention from a first pass, zero spot prices, placeholder prices by group."""
    cloud = name.rsplit(".", 1)[0]
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))
    has_spot = "SpotPrice" in (rows[0] if rows else {})
    convention = _convention(rows)
    records = []
    for row in rows:
        if (row.get("AcceleratorName") or "").strip():
            records.extend(_row_records(_row_base(name, cloud, row, convention), row, has_spot))
    _mark_placeholders(records)
    return records


HAND_WRITTEN = (  # hand-written: every branch of the row logic in one small catalog
    b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region,AvailabilityZone,SpotPrice,GpuInfo,UpstreamCloudId\n"
    b"cpu-only,,,0.1,us,,,,\n"
    b"g1,H100,1,-3,us,us-a,,,\n"
    b"g2,H100,1,abc,us,,1.5,,\n"
    b"g3,Unobtainium-9,1,2.0,,zone-only,,,\n"
    b"g4,H100,8,31.92,us,,31.92,\"{'Gpus': [{'Name': 'H100 SXM5'}]}\",up-1\n"
    b"g5 ,  A100 ,2.0, $3.10 ,eu,,1.2,,\n"
    b"g6,A100,x,,eu,,,,\n"
    b"g7,L40S,1,,eu,,0.55,,\n"
    b"dc__8xH100__SPOT,H100,8,,eu,,12.0,,\n"
)


def test_columnar_parse_normalises_exactly_like_the_row_loop(shared_data):
    cases = [
        (f"{p.parent.name}.csv", p.read_bytes())
        for p in sorted((shared_data / "skypilot_catalog").glob("*/*.csv"))
    ]
    cases += [
        ("x.csv", HAND_WRITTEN),
        ("primeintellect.csv", HAND_WRITTEN),
        ("vast.csv", HAND_WRITTEN),
        ("acme.csv", VARIANTS),
        ("primeintellect.csv", VARIANTS),
    ]
    compared = 0
    for name, content in cases:
        got = normalise_offers(sky.parse(name, content), source="skypilot_catalog", day=DAY)
        exp = normalise_offers(
            _reference_records(name, content), source="skypilot_catalog", day=DAY
        )
        assert_frame_equal(got[0], exp[0], check_exact=True)
        # the quarantined record's JSON holds the price as the catalog's text; all else equal
        # (and the oracle does not spell out the placeholder message)
        assert_frame_equal(
            got[1].drop("record", "detail"), exp[1].drop("record", "detail"), check_exact=True
        )
        real = pl.col("reason") != "placeholder_price"
        assert got[1].filter(real)["detail"].to_list() == exp[1].filter(real)["detail"].to_list()
        compared += got[0].height + got[1].height
    assert compared == 612  # records of the 15 real catalogs and the hand-written ones
