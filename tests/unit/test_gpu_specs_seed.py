"""The GPU spec seed (sql/seeds/gpu_specs.csv): covers every canonical id, dense figures
only, and agrees with Epoch AI's ML hardware table (../shared/data/gpu_specs) except where
the seed's notes say why."""

from __future__ import annotations

import csv

import pytest

from pipelines.lib.config import REPO_ROOT
from pipelines.lib.gpus import all_canonical_ids

SEED = REPO_ROOT / "sql" / "seeds" / "gpu_specs.csv"
EPOCH = "gpu_specs/epoch_ml_hardware/ml_hardware_2025-11-12_talmolab-copy.csv"

# our id -> Epoch "Hardware name"
EPOCH_NAMES = {
    "H100-SXM-80GB": "NVIDIA H100 SXM5 80GB",
    "H100-PCIE-80GB": "NVIDIA H100 PCIe",
    "H200-SXM-141GB": "NVIDIA H200 SXM",
    "A100-SXM-80GB": "NVIDIA A100 SXM4 80 GB",
    "A100-SXM-40GB": "NVIDIA A100 SXM4 40 GB",
    "A100-PCIE-40GB": "NVIDIA A100 PCIe",
    "B200-180GB": "NVIDIA B200",
    "B300-288GB": "NVIDIA B300",
    "GB200-186GB": "NVIDIA GB200",
    "GB300-288GB": "NVIDIA GB300",
    "GH200-96GB": "NVIDIA GH200",
    "L40-48GB": "NVIDIA L40",
    "L4-24GB": "NVIDIA L4",
    "A40-48GB": "NVIDIA A40 PCIe",
    "MI300X-192GB": "AMD Instinct MI300X",
    "MI325X-256GB": "AMD Instinct MI325X",
    "MI355X-288GB": "AMD Instinct MI355X",
    "RTX4090-24GB": "NVIDIA GeForce RTX 4090",
    "TPUV5E-16GB": "Google TPU v5e",
    "TPUV5P-95GB": "Google TPU v5p",
    "TPUV6E-32GB": "Google TPU v6e Trillium",
    "TRAINIUM2-96GB": "Amazon Trainium2",
    "GAUDI3-128GB": "Intel Habana Gaudi3",
}
EPOCH_BF16 = "Tensor-FP16/BF16 performance (FLOP/s)"


@pytest.fixture(scope="module")
def seed():
    return {row["gpu_model"]: row for row in csv.DictReader(SEED.open())}


def test_seed_covers_every_canonical_id(seed):
    assert sorted(seed) == all_canonical_ids()


def test_every_row_has_a_source_and_memory(seed):
    for gpu, row in seed.items():
        assert row["source"], gpu
        assert float(row["memory_gb"]) == float(gpu.rsplit("-", 1)[1].removesuffix("GB")), gpu


def test_dense_not_sparse(seed):
    # the vendor datasheet prints 1,979 TFLOPS BF16 for H100 SXM *with sparsity*
    assert float(seed["H100-SXM-80GB"]["bf16_tflops"]) == 989.4
    assert float(seed["A100-SXM-80GB"]["bf16_tflops"]) == 312.0
    assert float(seed["MI300X-192GB"]["bf16_tflops"]) == 1307.4
    for gpu, row in seed.items():
        bf16, fp8 = row["bf16_tflops"], row["fp8_tflops"]
        if bf16 and fp8:  # FP8 runs at 2x BF16 on every part that has it, never 4x
            assert float(fp8) <= 2.05 * float(bf16), gpu
        if bf16 and row["tf32_tflops"]:
            assert float(row["tf32_tflops"]) <= 0.55 * float(bf16) or gpu.startswith(
                ("TRAINIUM", "INFERENTIA")
            ), gpu


def test_cross_check_against_epoch(seed, shared_data):
    epoch = {row["Hardware name"]: row for row in csv.DictReader((shared_data / EPOCH).open())}
    disagreements = []
    for gpu, name in EPOCH_NAMES.items():
        assert name in epoch, name
        theirs = epoch[name][EPOCH_BF16]
        if not theirs:
            continue
        ours = float(seed[gpu]["bf16_tflops"])
        if abs(ours - float(theirs) / 1e12) / ours > 0.03:
            disagreements.append(gpu)
            # every disagreement is explained in the seed's notes
            assert "Epoch" in seed[gpu]["notes"], (gpu, ours, float(theirs) / 1e12)
    # the one known BF16 disagreement: Epoch's RTX 4090 figure is the FP16-accumulate rate
    assert disagreements == ["RTX4090-24GB"]
