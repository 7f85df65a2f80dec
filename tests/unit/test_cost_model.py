"""The compute-cost model and `gpu-tracker estimate`, against hand-computed values."""

from __future__ import annotations

import json

import pytest

from pipelines.cli import main as cli
from pipelines.lib.cost_model import EstimateError, estimate, load_specs


def test_dense_inference_and_training_by_hand():
    out = estimate(
        params=70e9, tokens=1e6, train_tokens=1.4e12, gpu="H100-SXM-80GB", usd_per_hour=2.5, mfu=0.4
    )
    # H100 SXM dense BF16 = 989.4 TFLOPS; at MFU 0.4 -> 395.76 TFLOP/s
    assert out["inference_flops"] == pytest.approx(2 * 70e9 * 1e6)  # 1.4e17
    assert out["inference_seconds"] == pytest.approx(1.4e17 / 395.76e12)  # 353.75 s
    assert out["inference_cost_usd"] == pytest.approx(353.7497 / 3600 * 2.5, rel=1e-5)  # $0.2457
    assert out["training_flops"] == pytest.approx(6 * 70e9 * 1.4e12)  # 5.88e23
    assert out["training_gpu_hours"] == pytest.approx(5.88e23 / 395.76e12 / 3600)  # 412,708 GPU-h
    assert out["training_cost_usd"] == pytest.approx(412708.04 * 2.5, rel=1e-6)
    a = out["assumptions"]
    assert (a["gpu"], a["precision"], a["peak_dense_tflops"], a["mfu"]) == (
        "H100-SXM-80GB",
        "bf16",
        989.4,
        0.4,
    )
    assert a["mfu_source"] == "--mfu"


def test_moe_inference_and_training_both_use_active_params():
    out = estimate(
        params=671e9,
        active_params=37e9,
        tokens=1e6,
        train_tokens=1e9,
        gpu="H100-SXM-80GB",
        usd_per_hour=2.0,
        mfu=0.5,
        precision="fp8",
    )
    assert out["inference_flops"] == pytest.approx(2 * 37e9 * 1e6)
    assert out["inference_seconds"] == pytest.approx(7.4e16 / (1978.9e12 * 0.5))
    assert out["training_flops"] == pytest.approx(6 * 37e9 * 1e9)
    assert out["assumptions"]["active_params_source"] == "--active-params"
    assert out["assumptions"]["training_formula"] == "6 * active_params * train_tokens FLOPs"


def test_deepseek_v3_training_estimate_uses_active_parameters():
    # DeepSeek-V3 technical report: 671B total, 37B activated per token, 14.8T training tokens.
    out = estimate(
        params=671e9,
        active_params=37e9,
        tokens=1,
        train_tokens=14.8e12,
        gpu="H800-SXM-80GB",
        usd_per_hour=2.0,
        mfu=0.4,
        precision="bf16",
    )
    assert out["training_flops"] == pytest.approx(3.2856e24, rel=1e-4)  # 6 x 37e9 x 14.8e12
    assert out["training_flops"] < 6 * 671e9 * 14.8e12 / 18  # the total would be 18.1x higher


def test_defaults_come_from_config_and_are_printed():
    out = estimate(
        params=8e9,
        tokens=1e3,
        gpu="A100-SXM-80GB",
        usd_per_hour=1.0,
        defaults={"mfu": 0.3, "precision": "bf16"},
    )
    assert (
        out["assumptions"]["mfu"] == 0.3
        and out["assumptions"]["mfu_source"] == "config [estimate] mfu"
    )
    assert out["inference_seconds"] == pytest.approx(2 * 8e9 * 1e3 / (312e12 * 0.3))
    assert "training_flops" not in out


def test_alias_resolves_and_bad_input_is_refused():
    assert (
        estimate(params=1e9, tokens=1, gpu="H100 SXM", usd_per_hour=1)["assumptions"]["gpu"]
        == "H100-SXM-80GB"
    )
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
    assert (
        cli(
            [
                "estimate",
                "--params",
                "7e9",
                "--tokens",
                "1000000",
                "--train-tokens",
                "2e12",
                "--gpu",
                "H100-SXM-80GB",
                "--usd-per-hour",
                "3",
                "--mfu",
                "0.5",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    for key in (
        "inference_flops",
        "inference_seconds",
        "inference_cost_usd",
        "training_flops",
        "training_gpu_hours",
        "training_cost_usd",
    ):
        assert key in out
    assert out["inference_flops"] == pytest.approx(1.4e16)
    assert out["training_cost_usd"] == pytest.approx(6 * 7e9 * 2e12 / (989.4e12 * 0.5) / 3600 * 3)
    assert (
        cli(
            ["estimate", "--params", "7e9", "--tokens", "1", "--gpu", "nope", "--usd-per-hour", "3"]
        )
        == 2
    )
    assert "unknown GPU 'nope'" in capsys.readouterr().err


# ----------------------------------------------------------------------------- mixture-of-experts
# The API margin proxy (pipelines.lib.market) costs a model at 2 x active params per token; the
# active counts of MoE models come from the sourced table pipelines/lib/moe_params.py.


def _proxy(api_rows, releases_rows):
    import datetime as dt

    import polars as pl

    from pipelines.lib import market as M
    from pipelines.lib.market import MODEL_RELEASES_SCHEMA

    day = dt.date(2026, 3, 1)
    summary = pl.DataFrame(
        {
            "date": [day],
            "gpu_model": ["H100-SXM-80GB"],
            "pricing": ["on_demand"],
            "market_median": [2.0],
        }
    )
    spreads = pl.DataFrame(
        {
            "date": [day],
            "gpu_model": ["H100-SXM-80GB"],
            "pricing": ["on_demand"],
            "hyperscaler_premium": [None],
            "hyperscaler_median": [None],
            "non_hyperscaler_median": [2.0],
        },
        schema_overrides={"hyperscaler_premium": pl.Float64, "hyperscaler_median": pl.Float64},
    )
    specs = pl.DataFrame({"gpu_model": ["H100-SXM-80GB"], "bf16_tflops": [989.4]})
    api = pl.DataFrame(
        [{"date": day, "model_key": k, "output_usd_per_mtok": p} for k, p in api_rows]
    )
    releases = pl.DataFrame(
        [
            {
                **{c: None for c in MODEL_RELEASES_SCHEMA},
                "model_key": k,
                "parameters": total,
                "active_parameters": active,
                "is_moe": False,
            }
            for k, total, active in releases_rows
        ],
        schema=MODEL_RELEASES_SCHEMA,
    )
    out = M.margin_indicators(
        summary=summary,
        spreads=spreads,
        specs=specs,
        releases=releases,
        api_daily=api,
        config={"mfu_inference": 0.3},
    )
    return {
        r["subject"]: r for r in out.filter(pl.col("indicator") == "api_margin_proxy").to_dicts()
    }


def test_api_margin_proxy_uses_active_params_and_flags_unknown_ones():
    rows = _proxy(
        api_rows=[
            ("deepseek-chat-v3-0324", 1.1),
            ("llama-3.1-70b-instruct", 0.4),
            ("kimi-k2.6", 4.0),
            ("deepseek-r1-distill-llama-70b", 0.8),
        ],
        # the Hub gives totals only (no active count): DeepSeek-V3 671B, Kimi K2.6 1T, the distill 70.6B
        releases_rows=[
            ("deepseek-chat-v3-0324", 671e9, None),
            ("llama-3.1-70b-instruct", 70.6e9, None),
            ("kimi-k2.6", 1e12, None),
            ("deepseek-r1-distill-llama-70b", 70.6e9, None),
        ],
    )
    per_gpu_s = 989.4e12 * 0.3
    # DeepSeek-V3: 37B active (model card), not the 671B total
    v3 = rows["deepseek-chat-v3-0324"]
    assert v3["denominator"] == pytest.approx(
        2 * 37e9 * 1e6 / per_gpu_s / 3600 * 2.0
    )  # $0.139 per 1M
    assert v3["value"] == pytest.approx(1.1 / v3["denominator"])
    # documented dense families use their total
    assert rows["llama-3.1-70b-instruct"]["denominator"] == pytest.approx(
        2 * 70.6e9 * 1e6 / per_gpu_s / 3600 * 2
    )
    assert rows["deepseek-r1-distill-llama-70b"]["denominator"] == pytest.approx(
        2 * 70.6e9 * 1e6 / per_gpu_s / 3600 * 2
    )
    # a model whose active count is not established: flagged, no number
    k26 = rows["kimi-k2.6"]
    assert k26["value"] is None and k26["denominator"] is None and k26["numerator"] == 4.0
    assert "unknown" in json.loads(k26["assumptions"])["active_params"]


def test_moe_table_covers_the_moe_models_of_the_real_openrouter_list():
    from pipelines.lib.moe_params import dense_evidence, moe_model
    from pipelines.lib.sources import openrouter
    from tests.conftest import SHARED_DATA

    keys = set()  # both complete captures (2026-02-27, 2026-05-20)
    for path in sorted((SHARED_DATA / "model_releases/openrouter/raw_envelope").glob("*.json")):
        keys |= set(
            openrouter.parse(path.name, path.read_bytes())["raw.api_prices"][
                "model_key"
            ].drop_nulls()
        )
    covered = {k: (moe_model(k).total, moe_model(k).active) for k in keys if moe_model(k)}
    assert {
        k: covered[k]
        for k in (
            "deepseek-chat-v3-0324",
            "deepseek-r1",
            "deepseek-v3.2",
            "kimi-k2",
            "gpt-oss-120b",
            "gpt-oss-20b",
            "qwen3-30b-a3b",
            "qwen3-235b-a22b",
            "minimax-m1",
            "minimax-m2",
            "mixtral-8x7b-instruct",
            "mixtral-8x22b-instruct",
            "llama-4-scout",
            "llama-4-maverick",
        )
    } == {
        "deepseek-chat-v3-0324": (671e9, 37e9),
        "deepseek-r1": (671e9, 37e9),
        "deepseek-v3.2": (671e9, 37e9),
        "kimi-k2": (1e12, 32e9),
        "gpt-oss-120b": (117e9, 5.1e9),
        "gpt-oss-20b": (21e9, 3.6e9),
        "qwen3-30b-a3b": (30.5e9, 3.3e9),
        "qwen3-235b-a22b": (235e9, 22e9),
        "minimax-m1": (456e9, 45.9e9),
        "minimax-m2": (230e9, 10e9),
        "mixtral-8x7b-instruct": (46.7e9, 12.9e9),
        "mixtral-8x22b-instruct": (141e9, 39e9),
        "llama-4-scout": (109e9, 17e9),
        "llama-4-maverick": (400e9, 17e9),
    }
    # distilled dense models named after an MoE parent are not MoE
    distills = {k for k in keys if "distill" in k}
    assert distills and not any(moe_model(k) for k in distills)
    assert all(dense_evidence(k) for k in distills if k.startswith("deepseek-r1-distill"))
    # every entry names its model card
    assert all(moe_model(k).source.startswith("https://") for k in covered)
