"""SkyPilot catalog parser on the real catalog excerpts in ../shared/data/skypilot_catalog."""

from __future__ import annotations

import csv
import datetime as dt
import io

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from pipelines.lib.offers import normalise_offers
from pipelines.lib.sources import skypilot_catalog as sky
from pipelines.lib.sources.base import ParseError

DAY = dt.date(2026, 5, 24)


def _load(shared_data, rel: str):
    path = shared_data / "skypilot_catalog" / rel
    cloud = rel.split("/")[0]
    records = sky.parse(f"{cloud}.csv", path.read_bytes())
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    return records, offers, quarantine


def _price(offers: pl.DataFrame, instance: str, pricing: str = "on_demand") -> float:
    rows = offers.filter((pl.col("instance_type") == instance) & (pl.col("pricing") == pricing))
    assert rows["price_usd_per_gpu_hour"].n_unique() == 1, rows
    return rows["price_usd_per_gpu_hour"][0]


def test_lambda_v8_per_gpu_prices(shared_data):
    _, offers, quarantine = _load(shared_data, "lambda/v8_0f40703_us-east-1.csv")
    assert quarantine.height == 0
    assert offers.height == 22
    # 8x H100 SXM at 31.92/h is 3.99 per GPU-hour; 1x is 4.29 (DOMAIN.md: cluster vs 1x)
    row = offers.filter(pl.col("instance_type") == "gpu_8x_h100_sxm5").row(0, named=True)
    assert (row["gpu_model"], row["gpu_count"], row["price_original"], row["price_usd_per_gpu_hour"]) == (
        "H100-SXM-80GB", 8, 31.92, 3.99)
    assert _price(offers, "gpu_1x_h100_sxm5") == 4.29
    assert offers.filter(pl.col("instance_type") == "gpu_1x_h100_pcie")["gpu_model"][0] == "H100-PCIE-80GB"
    assert _price(offers, "gpu_1x_h100_pcie") == 3.29
    assert _price(offers, "gpu_8x_b200_sxm6") == 6.69
    assert set(offers["provider"]) == {"lambda"}
    assert set(offers["provider_tier"]) == {"neocloud"}
    assert set(offers["pricing"]) == {"on_demand"}  # empty SpotPrice: no spot offer


def test_verda_spot_and_on_demand(shared_data):
    _, offers, quarantine = _load(shared_data, "verda/v8_000c1d0.csv")
    assert quarantine.height == 0
    assert _price(offers, "1B200.30V") == 4.89
    assert _price(offers, "1B200.30V", "spot") == 1.712
    assert offers.filter(pl.col("instance_type") == "1B200.30V")["gpu_model"][0] == "B200-180GB"
    # 2B300.60V has an empty Price and a SpotPrice: a spot offer only
    two = offers.filter(pl.col("instance_type") == "2B300.60V")
    assert two["pricing"].to_list() == ["spot"]
    assert two["price_usd_per_gpu_hour"][0] == pytest.approx(4.893 / 2)


def test_nebius_h100_matches_known_list_prices(shared_data):
    _, offers, _ = _load(shared_data, "nebius/v8_0082b04.csv")
    assert _price(offers, "gpu-h100-sxm_8gpu-128vcpu-1600gb") == 2.95
    assert _price(offers, "gpu-h100-sxm_8gpu-128vcpu-1600gb", "spot") == 1.25
    assert _price(offers, "gpu-h200-sxm_1gpu-16vcpu-200gb") == 3.5


def test_runpod_spot_equal_to_price_is_a_placeholder(shared_data):
    _records, offers, _ = _load(shared_data, "runpod/v8_01acdfd_PARTIAL_first12rows.csv")
    assert set(offers["pricing"]) == {"on_demand"}
    assert _price(offers, "1x_A100-80GB_SECURE") == 1.39
    # GpuInfo says "A100 PCIe" -> the PCIe part, not the SXM default
    assert set(offers["gpu_model"]) == {"A100-PCIE-80GB"}
    # zones are kept apart: the same instance in AP-IN-1 and AP-IN-2 are two offers
    assert offers.filter(pl.col("instance_type") == "1x_A100-80GB_SECURE")["region"].n_unique() > 1


def test_primeintellect_keeps_upstream_and_spot_only_rows(shared_data):
    _, offers, quarantine = _load(shared_data, "primeintellect/v8_d9a304e.csv")
    assert quarantine.height == 0
    assert set(offers["provider"]) == {"primeintellect"}
    spot = offers.filter(pl.col("instance_type") == "datacrunch__1xA100_80GB__22__120__SPOT")
    assert spot["pricing"].to_list() == ["spot"]
    assert spot["price_usd_per_gpu_hour"][0] == 0.53
    assert spot["upstream_source"][0] == "skypilot:primeintellect:datacrunch"
    # float noise in the catalog (5.8854999999999995) is rounded away
    assert _price(offers, "oblivus__4xA100_80GB__124__480") == pytest.approx(1.471375)


def test_gpuinfo_encodings():
    assert sky.gpu_info_name("{'Gpus': [{'Name': 'V100', 'Count': 8.0}]}") == "V100"  # python repr
    assert sky.gpu_info_name('{"Gpus": [{"Name": "B300", "Count": 1}]}') == "B300"  # JSON
    assert sky.gpu_info_name("{'Gpus': [{'Name': 'A100-80G-PCIe', 'Manufacturer': null}]}") == "A100-80G-PCIe"
    assert sky.gpu_info_name("{'gpus': [{'name': 'h100', 'memoryinfo': {'sizeinmib': 81559}}]}") == "h100"
    assert sky.gpu_info_name("H100") == "H100"  # paperspace: plain name
    with pytest.raises(ParseError):
        sky.gpu_info_name("{'Gpus': [unbalanced")


@pytest.mark.parametrize("rel", [
    "do/v6_1fbe733.csv", "hyperbolic/v8_0082b04.csv", "hyperstack/v8_fdc9d90.csv",
    "jarvislabs/v8_8f09711.csv", "lambda/v7_1158013_us-east-1_PARTIAL.csv",
    "lambda/v8_0f40703_us-east-1.csv", "nebius/v8_0082b04.csv", "paperspace/v6_e520054.csv",
    "primeintellect/v8_d9a304e.csv", "runpod/v8_01acdfd_PARTIAL_first12rows.csv",
    "verda/v8_000c1d0.csv", "verda/v8_538675a.csv",
])
def test_every_row_is_instance_price_over_gpu_count(shared_data, rel):
    """Done-when of the pipeline issue: per-GPU price == instance price / GPU count, with a
    canonical id, for every GPU row of every catalog."""
    _, offers, quarantine = _load(shared_data, rel)
    assert quarantine.height == 0, quarantine
    path = shared_data / "skypilot_catalog" / rel
    expected = 0
    for row in csv.DictReader(path.open()):
        count = float(row["AcceleratorCount"])
        for pricing, column in (("on_demand", "Price"), ("spot", "SpotPrice")):
            raw = (row.get(column) or "").strip()
            if not raw or (pricing == "spot" and row["Price"].strip() and float(raw) == float(row["Price"])):
                continue
            region = row["Region"] + (f"/{row['AvailabilityZone']}" if row.get("AvailabilityZone") else "")
            match = offers.filter(
                (pl.col("instance_type") == row["InstanceType"]) & (pl.col("region") == region)
                & (pl.col("pricing") == pricing)
            )
            assert match.height == 1, (row["InstanceType"], region, pricing)
            assert match["price_usd_per_gpu_hour"][0] == pytest.approx(float(raw) / count, abs=1e-6)
            assert match["gpu_model"][0] and "-" in match["gpu_model"][0]
            expected += 1
    assert offers.height == expected


def test_wrong_shape_is_a_parse_error():
    with pytest.raises(ParseError, match="not a SkyPilot vms.csv"):
        sky.parse("lambda.csv", b"<html><body>rate limited</body></html>")
    with pytest.raises(ParseError, match="line 3"):
        sky.parse("x.csv", b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region\n"
                           b"a,H100,1,2.0,us\nb,H100,1,2.0,us,extra,cells\n")


def test_cpu_rows_are_not_offers_and_bad_prices_are_quarantined():
    payload = (
        b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region,SpotPrice\n"
        b"cpu-only,,,0.1,us,\n"
        b"g1,H100,1,-3,us,\n"
        b"g2,H100,1,abc,us,\n"
        b"g3,Unobtainium-9,1,2.0,us,\n"
        b"g4,H100,8,31.92,us,\n"
    )
    records = sky.parse("x.csv", payload)
    assert len(records) == 4
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    assert offers["instance_type"].to_list() == ["g4"]
    assert sorted(quarantine["reason"]) == ["missing_price", "non_positive_price", "unknown_gpu"]


# --- the columnar parser against the per-row loop it replaced -----------------------------

def _reference_records(name: str, content: bytes) -> list[dict]:
    """The per-row ``csv.DictReader`` loop ``sky.parse`` was before it returned columns."""
    def price_of(value):
        value = (value or "").strip()
        if not value:
            return None
        try:
            return float(value)
        except ValueError:
            return None

    cloud = name.rsplit(".", 1)[0]
    reader = csv.DictReader(io.StringIO(content.decode("utf-8-sig")))
    has_spot = "SpotPrice" in (reader.fieldnames or [])
    provider = sky.CLOUD_PROVIDER.get(cloud, cloud)
    records = []
    for row in reader:
        accel = (row.get("AcceleratorName") or "").strip()
        if not accel:
            continue
        instance = (row.get("InstanceType") or "").strip()
        info_name = sky.gpu_info_name(row.get("GpuInfo") or "")
        hints = " ".join(x for x in (info_name, instance, row.get("UpstreamCloudId") or "") if x)
        region = (row.get("Region") or "").strip()
        zone = (row.get("AvailabilityZone") or "").strip()
        if zone:
            region = f"{region}/{zone}" if region else zone
        upstream = f"skypilot:{cloud}"
        if cloud in sky.RESELLER_CLOUDS and "__" in instance:
            upstream = f"skypilot:{cloud}:{instance.split('__', 1)[0]}"
        if cloud == "vast":
            upstream = "skypilot:vast (group median, not raw bids)"
        base = {"provider": provider, "upstream_source": upstream, "gpu_name": accel, "gpu_hint": hints,
                "gpu_count": row.get("AcceleratorCount"), "instance_type": instance, "region": region,
                "price_basis": "per_instance", "currency": "USD", "payload_name": name}
        price = price_of(row.get("Price"))
        spot = price_of(row.get("SpotPrice")) if has_spot else None
        raw_price = (row.get("Price") or "").strip()
        emitted = False
        if raw_price:
            records.append({**base, "pricing": "on_demand", "price": price if price is not None else raw_price})
            emitted = True
        if spot is not None and (price is None or abs(spot - price) > 1e-9):
            records.append({**base, "pricing": "spot", "price": spot})
            emitted = True
        if not emitted:
            records.append({**base, "pricing": "on_demand", "price": None})
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
    cases = [(f"{p.parent.name}.csv", p.read_bytes())
             for p in sorted((shared_data / "skypilot_catalog").glob("*/*.csv"))]
    cases += [("x.csv", HAND_WRITTEN), ("primeintellect.csv", HAND_WRITTEN), ("vast.csv", HAND_WRITTEN)]
    compared = 0
    for name, content in cases:
        got = normalise_offers(sky.parse(name, content), source="skypilot_catalog", day=DAY)
        exp = normalise_offers(_reference_records(name, content), source="skypilot_catalog", day=DAY)
        assert_frame_equal(got[0], exp[0], check_exact=True)
        # the quarantined record's JSON holds the price as the catalog's text; all else equal
        assert_frame_equal(got[1].drop("record"), exp[1].drop("record"), check_exact=True)
        compared += got[0].height + got[1].height
    assert compared > 350
