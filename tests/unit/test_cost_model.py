"""The compute-cost model and `gpu-tracker estimate`, against hand-computed values."""

from __future__ import annotations

import json

import pytest

from pipelines.cli import main as cli
from pipelines.lib.cost_model import EstimateError, estimate, load_specs


def test_dense_inference_and_training_by_hand():
    out = estimate(params=70e9, tokens=1e6, train_tokens=1.4e12, gpu="H100-SXM-80GB",
                   usd_per_hour=2.5, mfu=0.4)
    # H100 SXM dense BF16 = 989.4 TFLOPS; at MFU 0.4 -> 395.76 TFLOP/s
    assert out["inference_flops"] == pytest.approx(2 * 70e9 * 1e6)  # 1.4e17
    assert out["inference_seconds"] == pytest.approx(1.4e17 / 395.76e12)  # 353.75 s
    assert out["inference_cost_usd"] == pytest.approx(353.7497 / 3600 * 2.5, rel=1e-5)  # $0.2457
    assert out["training_flops"] == pytest.approx(6 * 70e9 * 1.4e12)  # 5.88e23
    assert out["training_gpu_hours"] == pytest.approx(5.88e23 / 395.76e12 / 3600)  # 412,708 GPU-h
    assert out["training_cost_usd"] == pytest.approx(412708.04 * 2.5, rel=1e-6)
    a = out["assumptions"]
    assert (a["gpu"], a["precision"], a["peak_dense_tflops"], a["mfu"]) == ("H100-SXM-80GB", "bf16", 989.4, 0.4)
    assert a["mfu_source"] == "--mfu"


def test_moe_inference_and_training_both_use_active_params():
    out = estimate(params=671e9, active_params=37e9, tokens=1e6, train_tokens=1e9,
                   gpu="H100-SXM-80GB", usd_per_hour=2.0, mfu=0.5, precision="fp8")
    assert out["inference_flops"] == pytest.approx(2 * 37e9 * 1e6)
    assert out["inference_seconds"] == pytest.approx(7.4e16 / (1978.9e12 * 0.5))
    assert out["training_flops"] == pytest.approx(6 * 37e9 * 1e9)
    assert out["assumptions"]["active_params_source"] == "--active-params"
    assert out["assumptions"]["training_formula"] == "6 * active_params * train_tokens FLOPs"


def test_deepseek_v3_training_estimate_uses_active_parameters():
    # DeepSeek-V3 technical report: 671B total, 37B activated per token, 14.8T training tokens.
    out = estimate(params=671e9, active_params=37e9, tokens=1, train_tokens=14.8e12,
                   gpu="H800-SXM-80GB", usd_per_hour=2.0, mfu=0.4, precision="bf16")
    assert out["training_flops"] == pytest.approx(3.2856e24, rel=1e-4)  # 6 x 37e9 x 14.8e12
    assert out["training_flops"] < 6 * 671e9 * 14.8e12 / 18  # the total would be 18.1x higher


def test_defaults_come_from_config_and_are_printed():
    out = estimate(params=8e9, tokens=1e3, gpu="A100-SXM-80GB", usd_per_hour=1.0,
                   defaults={"mfu": 0.3, "precision": "bf16"})
    assert out["assumptions"]["mfu"] == 0.3 and out["assumptions"]["mfu_source"] == "config [estimate] mfu"
    assert out["inference_seconds"] == pytest.approx(2 * 8e9 * 1e3 / (312e12 * 0.3))
    assert "training_flops" not in out


def test_alias_resolves_and_bad_input_is_refused():
    assert estimate(params=1e9, tokens=1, gpu="H100 SXM", usd_per_hour=1)["assumptions"]["gpu"] == "H100-SXM-80GB"
    with pytest.raises(EstimateError, match="unknown GPU"):
        estimate(params=1e9, tokens=1, gpu="Z9000", usd_per_hour=1)
    with pytest.raises(EstimateError, match="--mfu"):
        estimate(params=1e9, tokens=1, gpu="H100-SXM-80GB", usd_per_hour=1, mfu=1.5)
    with pytest.raises(EstimateError, match="exceeds"):
        estimate(params=1e9, active_params=2e9, tokens=1, gpu="H100-SXM-80GB", usd_per_hour=1)
    with pytest.raises(EstimateError, match="positive"):
        estimate(params=-1, tokens=1, gpu="H100-SXM-80GB", usd_per_hour=1)


def test_every_seed_gpu_has_a_dense_bf16_or_fp32_peak():
    specs = load_specs()
    missing = [g for g, s in specs.items() if not (s.peak_tflops["bf16"] or s.peak_tflops["fp32"])]
    assert missing == []


def test_cli_prints_the_contract_json(capsys):
    assert cli(["estimate", "--params", "7e9", "--tokens", "1000000", "--train-tokens", "2e12",
                "--gpu", "H100-SXM-80GB", "--usd-per-hour", "3", "--mfu", "0.5", "--format", "json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("inference_flops", "inference_seconds", "inference_cost_usd",
                "training_flops", "training_gpu_hours", "training_cost_usd"):
        assert key in out
    assert out["inference_flops"] == pytest.approx(1.4e16)
    assert out["training_cost_usd"] == pytest.approx(6 * 7e9 * 2e12 / (989.4e12 * 0.5) / 3600 * 3)
    assert cli(["estimate", "--params", "7e9", "--tokens", "1", "--gpu", "nope", "--usd-per-hour", "3"]) == 2
    assert "unknown GPU 'nope'" in capsys.readouterr().err
