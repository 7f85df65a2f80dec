"""GPU identity: the explicit mapping table, checked name by name and against every GPU
name that appears anywhere in ../shared/data."""

from __future__ import annotations

import csv
import json
import re

import pytest

from pipelines.lib.gpus import (
    FAMILY_VARIANTS,
    UnmappedGpu,
    all_canonical_ids,
    gpu_family,
    memory_sizes,
    normalise_gpu_name,
    resolve_gpu,
    snap_memory,
)
from pipelines.lib.sources.skypilot_catalog import gpu_info_name

CONTRACT_IDS = re.compile(r"^[A-Z0-9]+(-(SXM|PCIE|NVL))?-\d+GB$")

# (name, hint, memory_gb) -> expected id, variant_assumed
EXPECTED = [
    # the contract's own examples
    ("H100_SXM", "", None, "H100-SXM-80GB", False),
    ("H100_PCIE", "", None, "H100-PCIE-80GB", False),
    ("H100_NVL", "", None, "H100-NVL-94GB", False),
    ("A100_SXM_80GB", "", None, "A100-SXM-80GB", False),
    ("A100_PCIE_40GB", "", None, "A100-PCIE-40GB", False),
    ("H200", "", None, "H200-SXM-141GB", True),
    ("L40S", "", None, "L40S-48GB", False),
    ("RTX_4090", "", None, "RTX4090-24GB", True),
    ("MI300X", "", None, "MI300X-192GB", False),
    # SkyPilot names with the instance type as hint
    ("H100", "gpu_1x_h100_pcie", None, "H100-PCIE-80GB", False),
    ("H100", "gpu_8x_h100_sxm5", None, "H100-SXM-80GB", False),
    ("H100", "NVIDIA-H100-80GB-HBM3 1x-H100-75-722", None, "H100-SXM-80GB", False),
    ("H100-80G-PCIe", "", None, "H100-PCIE-80GB", False),
    ("A100", "gpu_8x_a100", None, "A100-SXM-40GB", True),  # SkyPilot: A100 = 40 GB
    ("A100-80GB", "A100 PCIe 1x_A100-80GB_SECURE", None, "A100-PCIE-80GB", False),
    ("A100-80G-PCIe-NVLink", "", None, "A100-PCIE-80GB", False),
    ("A100-80GB-640GB", "", None, "A100-SXM-80GB", True),
    ("V100-32GB", "", None, "V100-32GB", False),
    ("RTX6000", "", None, "QRTX6000-24GB", False),  # Quadro RTX 6000 (Turing), not Ada
    ("RTX6000Ada", "", None, "RTX6000ADA-48GB", False),
    ("RTXPRO6000", "", None, "RTXPRO6000-96GB", False),
    ("A6000", "", None, "RTXA6000-48GB", False),
    # RunPod display names with memoryInGb
    ("H200 SXM", "NVIDIA H200", 141, "H200-SXM-141GB", False),
    ("NVIDIA H200 NVL", "NVIDIA H200 NVL", 143, "H200-NVL-141GB", False),
    ("B200", "NVIDIA B200", 180, "B200-180GB", False),
    (
        "RTX PRO 6000 WK",
        "NVIDIA RTX PRO 6000 Blackwell Workstation Edition",
        96,
        "RTXPRO6000-96GB",
        False,
    ),
    ("RTX 2000 Ada", "NVIDIA RTX 2000 Ada Generation", 16, "RTX2000ADA-16GB", False),
    # instance RAM in a hint must not be read as GPU memory
    ("H100", "8x_H100_192V_1600G", None, "H100-SXM-80GB", True),
    # the instance name decides the form where the name is silent (#13.2: cudo, lambda)
    ("A100", "intel-ice-lake-a100-pci_1x2v4gb", 80, "A100-PCIE-80GB", False),
    ("A100", "epyc-genoa-a100-pcie_2x8v16gb", 80, "A100-PCIE-80GB", False),
    ("A800", "intel-ice-lake-a800-pci_1x2v4gb", 80, "A800-PCIE-80GB", False),
    ("A100", "gpu_1x_a100_sxm4", 40, "A100-SXM-40GB", False),
    ("A100", "gpu_8x_a100", 40, "A100-SXM-40GB", True),  # memory known, form assumed
    # ... but never over a form the name itself states
    ("H100-SXM", "h100-pcie-box", None, "H100-SXM-80GB", False),
    ("H100-80G-PCIe", "sxm5-cluster", None, "H100-PCIE-80GB", False),
]


@pytest.mark.parametrize("name,hint,mem,expected,assumed", EXPECTED)
def test_explicit_mapping(name, hint, mem, expected, assumed):
    match = resolve_gpu(name, hint, mem)
    assert (match.gpu_model, match.variant_assumed) == (expected, assumed)


@pytest.mark.parametrize("name", ["Radeon Pro W7900", "TPU-Potato", "", "XYZ-9000"])
def test_unknown_names_raise(name):
    with pytest.raises(UnmappedGpu):
        resolve_gpu(name)


def test_family_and_memory_helpers():
    assert gpu_family("H100-80G-PCIe") == "H100" and gpu_family("RTX-PRO-6000") == "RTXPRO6000"
    assert gpu_family("Unobtainium-9") is None and gpu_family("") is None
    assert memory_sizes("A100") == (40, 80) and memory_sizes("H100") == (80, 94)
    assert snap_memory("A100", 80) == 80 and snap_memory("A100", 160) is None
    assert snap_memory("L40S", 45) == 48  # 46080 MiB = 45 GiB (lium)
    assert snap_memory("H200", 564) is None  # a 4-GPU total, not a per-GPU size


def test_memory_that_matches_no_variant_raises():
    with pytest.raises(UnmappedGpu, match="matches no A100 variant"):
        resolve_gpu("A100 4GB")  # a fractional vGPU slice, not an A100


def test_all_canonical_ids_follow_the_contract():
    ids = all_canonical_ids()
    assert len(ids) == len(set(ids))
    bad = [i for i in ids if not CONTRACT_IDS.match(i)]
    assert not bad
    for required in (
        "H100-SXM-80GB",
        "H100-PCIE-80GB",
        "H100-NVL-94GB",
        "A100-SXM-80GB",
        "A100-PCIE-40GB",
        "H200-SXM-141GB",
        "L40S-48GB",
        "RTX4090-24GB",
        "MI300X-192GB",
    ):
        assert required in ids


def test_normalise_drops_vendor_words():
    assert normalise_gpu_name("NVIDIA-H100-80GB-HBM3") == "H100 80GB HBM3"
    assert normalise_gpu_name("AMD Instinct MI300X OAM") == "MI300X"


def _skypilot_names(shared_data):
    out = []
    for path in sorted((shared_data / "skypilot_catalog").glob("*/*.csv")):
        for row in csv.DictReader(path.open()):
            if row["AcceleratorName"]:
                info = gpu_info_name(row["GpuInfo"])
                out.append(
                    (path.name, row["AcceleratorName"], f"{info} {row['InstanceType']}", None)
                )
                if info:
                    out.append((path.name, info, row["InstanceType"], None))
    return out


def _runpod_names(shared_data):
    runpod = json.loads(
        (
            shared_data / "provider_payloads/runpod/gpuport_runpod_sample_2025-11-14_0cb9709.json"
        ).read_text()
    )
    out = []
    for offer in runpod:
        gt = offer["raw_data"]["gpu_type"]
        out.append(("runpod capture", gt["displayName"], gt["id"], gt["memoryInGb"]))
    return out


def _price_history_names(shared_data):
    out = []
    obs = (
        shared_data
        / "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"
    )
    for name in {row["gpu_model"] for row in csv.DictReader(obs.open())}:
        out.append((obs.name, name, "", None))
    for path in (shared_data / "price_history/becloudready_gpuhunt_daily/raw").glob("*.json"):
        for name in {o["gpuModel"] for o in json.loads(path.read_text())}:
            out.append((path.name, name, "", None))
    agg = shared_data / "price_history/becloudready_gpuhunt_daily/gpu_prices_history_agg.csv"
    for name in {row["gpu_name"] for row in csv.DictReader(agg.open())}:
        out.append((agg.name, name, "", None))
    tard = shared_data / "price_history/tardellirs_gpu_pricing/offerings_2026-05-25_8f09a68.json"
    for o in json.loads(tard.read_text()):
        out.append((tard.name, o["gpu_model"], o.get("interconnect") or "", o.get("vram_gb")))
    return out


def _provider_payload_names(shared_data):
    payloads = shared_data / "provider_payloads"
    out = []
    for item in json.loads(
        (payloads / "jarvislabs/gpuhunt_test_SERVER_META_RESPONSE.json").read_text()
    )["server_meta"]:
        out.append(("jarvislabs", item["gpu_type"], "", float(item["vram"])))
    for item in json.loads((payloads / "seeweb/gpuhunt_test_plans_payload.json").read_text())[
        "plans"
    ]:
        if item.get("gpu_label"):
            out.append(("seeweb", item["gpu_label"], "", None))
    for name in ("verda/gpuhunt_test_one_gpu.json", "verda/gpuhunt_test_two_gpu.json"):
        item = json.loads((payloads / name).read_text())
        out.append((name, item["model"], item["gpu"]["description"], None))
    for size in json.loads(
        (payloads / "digitalocean/gpuhunt_test_sizes_response.json").read_text()
    )["sizes"]:
        for gpu in (
            (size.get("gpu_info") or {}).get("model", "").split(",") if size.get("gpu_info") else []
        ):
            out.append(("digitalocean", gpu, size["slug"], None))
    return out


def _shared_gpu_names(shared_data):
    """(file, name, hint, memory) for every GPU name in every shared data file."""
    out = [
        *_skypilot_names(shared_data),
        *_runpod_names(shared_data),
        *_price_history_names(shared_data),
        *_provider_payload_names(shared_data),
    ]
    assert len(out) > 500
    return out


def test_every_gpu_name_in_shared_data_maps(shared_data):
    names = _shared_gpu_names(shared_data)
    failures = []
    for where, name, hint, mem in names:
        try:
            match = resolve_gpu(name, hint, mem)
        except UnmappedGpu as exc:
            failures.append(f"{where}: {exc}")
            continue
        assert CONTRACT_IDS.match(match.gpu_model), match
        assert match.gpu_family in FAMILY_VARIANTS
    assert not failures, "\n".join(sorted(set(failures)))
