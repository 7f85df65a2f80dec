"""SkyPilot catalog parser on the real catalog excerpts in ../shared/data/skypilot_catalog."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

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
    assert (
        row["gpu_model"],
        row["gpu_count"],
        row["price_original"],
        row["price_usd_per_gpu_hour"],
    ) == ("H100-SXM-80GB", 8, 31.92, 3.99)
    assert _price(offers, "gpu_1x_h100_sxm5") == 4.29
    assert (
        offers.filter(pl.col("instance_type") == "gpu_1x_h100_pcie")["gpu_model"][0]
        == "H100-PCIE-80GB"
    )
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


def _row(offers: pl.DataFrame, instance: str, region: str, pricing: str = "on_demand") -> dict:
    rows = offers.filter(
        (pl.col("instance_type") == instance)
        & (pl.col("region") == region)
        & (pl.col("pricing") == pricing)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


def test_cudo_a100s_are_80gb_pcie_from_gpuinfo_memory_and_instance_name(shared_data):
    """#13.2: cudo's A100 rows say only ``A100``; GpuInfo's 81920 MiB makes them 80 GB and the
    instance name (``-pcie_`` / ``-pci_``) the PCIe form (they loaded as 40 GB and as SXM)."""
    _, offers, quarantine = _load(shared_data, "cudo/v8_113567a.csv")
    assert quarantine.height == 0 and offers.height == 156
    row = _row(offers, "epyc-genoa-a100-pcie_1x2v4gb", "no-kristiansand-1")
    assert (row["gpu_model"], row["gpu_variant_assumed"], row["price_usd_per_gpu_hour"]) == (
        "A100-PCIE-80GB",
        False,
        1.5294,
    )
    row = _row(offers, "intel-ice-lake-a100-pci_8x64v128gb", "us-carlsbad-1")
    assert (row["gpu_model"], row["gpu_count"], row["price_usd_per_gpu_hour"]) == (
        "A100-PCIE-80GB",
        8,
        pytest.approx(11.5488 / 8),
    )
    # 2x rows: 81920 MiB reads as 80 GB each or as a 2x 40 GB total; cudo's 8x H100 / 2x L40S
    # rows show it writes per-GPU figures, so 80 GB
    assert (
        _row(offers, "epyc-genoa-a100-pcie_2x8v16gb", "no-kristiansand-1")["gpu_model"]
        == "A100-PCIE-80GB"
    )
    assert (
        _row(offers, "intel-ice-lake-a800-pci_1x2v4gb", "us-carlsbad-1")["gpu_model"]
        == "A800-PCIE-80GB"
    )
    assert (
        _row(offers, "sapphire-rapids-h100_1x2v4gb", "ca-montreal-3")["price_usd_per_gpu_hour"]
        == 2.5354
    )
    a100 = offers.filter(pl.col("gpu_family") == "A100")
    assert a100.height == 26 and set(a100["gpu_model"]) == {"A100-PCIE-80GB"}
    assert not offers.filter(pl.col("gpu_family").is_in(["A100", "A800", "V100"]))[
        "gpu_variant_assumed"
    ].any()
    assert set(offers["pricing"]) == {"on_demand"}  # empty SpotPrice on every row


def test_lium_per_gpu_prices_and_memory(shared_data):
    _, offers, quarantine = _load(shared_data, "lium/v8_04a03ae.csv")
    assert quarantine.height == 0 and offers.height == 40
    assert set(offers["provider"]) == {"lium"} and set(offers["pricing"]) == {"on_demand"}
    assert _row(offers, "B300_8x", "CA")["price_usd_per_gpu_hour"] == 7.75  # 62.0 / 8
    assert _row(offers, "B300_8x", "CA")["gpu_model"] == "B300-288GB"
    assert _row(offers, "H100_1x", "US")["price_usd_per_gpu_hour"] == 2.24
    # TotalGpuMemoryInMiB inside the Gpus item; SizeInMiB 24576 settles the 24 GB RTX 4090
    row = _row(offers, "RTX4090_2x", "GR")
    assert (row["gpu_model"], row["gpu_variant_assumed"], row["price_usd_per_gpu_hour"]) == (
        "RTX4090-24GB",
        False,
        0.35,
    )


def test_yotta_counts_come_from_acceleratorcount_not_gpuinfo(shared_data):
    _, offers, quarantine = _load(shared_data, "yotta/v8_1f69048.csv")
    assert quarantine.height == 0 and offers.height == 8
    row = _row(offers, "8x112v952g_NVIDIA_GeForce_RTX_5090_32G_SECURE", "us-east-2")
    assert (
        row["gpu_model"],
        row["gpu_count"],
        row["price_original"],
        row["price_usd_per_gpu_hour"],
    ) == ("RTX5090-32GB", 8, 5.2, 0.65)
    assert set(offers["price_usd_per_gpu_hour"]) == {0.65}


def test_total_memory_in_the_per_gpu_field_reads_as_the_total(shared_data):
    """primeintellect writes the instance total into SizeInMiB (8x A100 40 GB: 327680 MiB)."""
    records, offers, _ = _load(shared_data, "primeintellect/v8_d9a304e.csv")
    rec = records.filter(pl.col("instance_type") == "lambdalabs__8xA100_40GB__124__1800").row(
        0, named=True
    )
    assert rec["gpu_memory_gb"] == 40.0
    assert set(
        offers.filter(pl.col("instance_type") == "lambdalabs__8xA100_40GB__124__1800")["gpu_model"]
    ) == {"A100-SXM-40GB"}
    # a verda catalog with the same habit: 8x H200 at 1155072 MiB is 141 GB per GPU
    records, _, _ = _load(shared_data, "verda/v8_538675a.csv")
    assert set(records.filter(pl.col("instance_type") == "8H200.141S.176V")["gpu_memory_gb"]) == {
        141.0
    }


VARIANTS = (  # hand-written: memory conventions, zero spot prices and placeholders
    b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region,SpotPrice,GpuInfo\n"
    b"a-1x,A100,1,1.20,us,0.00,\"{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 81920}}]}\"\n"
    b"a-2x,A100,2,2.40,us,0.0,\"{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 81920}}]}\"\n"
    b"h-1x,H100,1,1.00,us,,\n"
    b"h200-8x,H200,8,8.0,us,,\n"
    b"l4-1x,L4,1,1.00,eu,0.40,\n"
    b"t4-1x,T4,1,0.35,eu,abc,\n"
)


def test_zero_spot_is_no_offer_and_round_prices_across_gpus_are_placeholders():
    records = sky.parse("acme.csv", VARIANTS)
    offers, quarantine = normalise_offers(records, source="skypilot_catalog", day=DAY)
    # SpotPrice 0.00 / 0.0: no spot record at all, nothing quarantined for it
    assert records.filter(pl.col("instance_type").is_in(["a-1x", "a-2x"]))["pricing"].to_list() == [
        "on_demand",
        "on_demand",
    ]
    # no row of this catalog says which convention it uses, so the 2x row's 81920 MiB (80 GB
    # each, or a 2x 40 GB total) gives no memory: the default, flagged as assumed
    assert records["gpu_memory_gb"].to_list()[:2] == [80.0, None]
    assert _row(offers, "a-1x", "us")["gpu_model"] == "A100-SXM-80GB"
    assert (
        _row(offers, "a-2x", "us")["gpu_model"],
        _row(offers, "a-2x", "us")["gpu_variant_assumed"],
    ) == ("A100-SXM-40GB", True)
    # H100, H200 and L4 all at exactly 1.00 per GPU-hour: placeholders, quarantined, not loaded
    placeholder = quarantine.filter(pl.col("reason") == "placeholder_price")
    assert sorted(placeholder["gpu_name_raw"]) == ["H100", "H200", "L4"]
    assert (
        "exactly 1.0 USD per GPU-hour for every one of H100, H200, L4 in skypilot:acme"
        in (placeholder["detail"][0])
    )
    assert set(offers["instance_type"]) == {"a-1x", "a-2x", "l4-1x", "t4-1x"}
    assert _row(offers, "l4-1x", "eu", "spot")["price_usd_per_gpu_hour"] == 0.4  # real spot kept
    # a spot price that is no number is quarantined, not dropped
    assert quarantine.filter(pl.col("reason") != "placeholder_price")["reason"].to_list() == [
        "missing_price"
    ]
    assert offers.height + quarantine.height == records.height


def test_placeholders_are_per_upstream_cloud_and_per_family(shared_data):
    # a reseller catalog mixes clouds: hyperstack's L40 and crusoe's L40S both at 1.00 are
    # two clouds' real prices, not one placeholder (and they load)
    _, offers, quarantine = _load(shared_data, "primeintellect/v8_d9a304e.csv")
    assert quarantine.height == 0
    assert _price(offers, "hyperstack__1xL40_48GB__28__58") == 1.0
    # one family at one round price in many sizes is a price list (hyperstack L40 1x..8x)
    _, offers, quarantine = _load(shared_data, "hyperstack/v8_fdc9d90.csv")
    assert quarantine.height == 0 and _price(offers, "n3-L40x8") == 1.0
    one_family = b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region\nx,H100-SXM,1,2.0,us\ny,H100,8,16.0,us\n"
    assert sky.parse("acme.csv", one_family)["quarantine_reason"].to_list() == [None, None]


def test_gpuinfo_memory_field():
    assert sky.gpu_info("{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 81920}}]}") == (
        "A100",
        81920.0,
    )
    assert sky.gpu_info("{'gpus': [{'name': 'h100', 'memoryinfo': {'sizeinmib': 81559}}]}") == (
        "h100",
        81559.0,
    )
    assert sky.gpu_info("{'Gpus': [{'Name': 'A100', 'MemoryInfo': {'SizeInMiB': 'lots'}}]}") == (
        "A100",
        None,
    )
    assert sky.gpu_info("H100") == ("H100", None)


def test_gpuinfo_encodings():
    assert sky.gpu_info_name("{'Gpus': [{'Name': 'V100', 'Count': 8.0}]}") == "V100"  # python repr
    assert sky.gpu_info_name('{"Gpus": [{"Name": "B300", "Count": 1}]}') == "B300"  # JSON
    assert (
        sky.gpu_info_name("{'Gpus': [{'Name': 'A100-80G-PCIe', 'Manufacturer': null}]}")
        == "A100-80G-PCIe"
    )
    assert (
        sky.gpu_info_name("{'gpus': [{'name': 'h100', 'memoryinfo': {'sizeinmib': 81559}}]}")
        == "h100"
    )
    assert sky.gpu_info_name("H100") == "H100"  # paperspace: plain name
    with pytest.raises(ParseError):
        sky.gpu_info_name("{'Gpus': [unbalanced")


@pytest.mark.parametrize(
    "rel",
    [
        "do/v6_1fbe733.csv",
        "hyperbolic/v8_0082b04.csv",
        "hyperstack/v8_fdc9d90.csv",
        "jarvislabs/v8_8f09711.csv",
        "lambda/v7_1158013_us-east-1_PARTIAL.csv",
        "lambda/v8_0f40703_us-east-1.csv",
        "nebius/v8_0082b04.csv",
        "paperspace/v6_e520054.csv",
        "primeintellect/v8_d9a304e.csv",
        "runpod/v8_01acdfd_PARTIAL_first12rows.csv",
        "verda/v8_000c1d0.csv",
        "verda/v8_538675a.csv",
        "cudo/v8_113567a.csv",
        "lium/v8_04a03ae.csv",
        "yotta/v8_1f69048.csv",
    ],
)
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
            if not raw or (
                pricing == "spot"
                and (
                    float(raw) == 0 or (row["Price"].strip() and float(raw) == float(row["Price"]))
                )
            ):
                continue
            region = row["Region"] + (
                f"/{row['AvailabilityZone']}" if row.get("AvailabilityZone") else ""
            )
            match = offers.filter(
                (pl.col("instance_type") == row["InstanceType"])
                & (pl.col("region") == region)
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
        sky.parse(
            "x.csv",
            b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region\n"
            b"a,H100,1,2.0,us\nb,H100,1,2.0,us,extra,cells\n",
        )


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
