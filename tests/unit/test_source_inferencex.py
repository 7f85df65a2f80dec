"""The InferenceX parser on the three real payloads in shared/data/serving_benchmarks/inferencex,
and the source kept apart from MLPerf in the serving-cost selection."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.lib import serving
from pipelines.lib.sources import inferencex as x
from pipelines.lib.sources.base import ParseError
from tests.conftest import SHARED_DATA

FOLDER = SHARED_DATA / "serving_benchmarks" / "inferencex"


def _parse(name: str) -> pl.DataFrame:
    return x.parse(name, (FOLDER / name).read_bytes())[x.TABLE]


def test_supplemental_sweep_points_per_gpu_output_throughput():
    f = _parse("inferencex_app_supplemental-bmk.json")
    assert f.height == 8 and f["problem"].null_count() == 8
    assert set(f["gpu_model"].to_list()) == {"GAUDI3-128GB"}  # hw "gaudi3"
    assert set(f["model_key"].to_list()) == {"glm-4.7"}  # zai-org/GLM-4.7
    assert set(f["round"].to_list()) == {"2026-03-14"}
    top = f.filter(pl.col("concurrency") == 128).row(0, named=True)
    # output tokens/s per GPU (comparable with MLPerf), input+output kept apart
    assert (top["tokens_per_second_per_gpu"], top["total_tokens_per_second_per_gpu"]) == (
        95.1,
        231.08,
    )
    assert top["scenario"] == "conc128_isl1024_osl1024"
    assert top["system"] == "gaudi3 vllm-gaudi tp8 ep1"
    assert (top["precision"], top["framework"], top["division"]) == (
        "bf16",
        "vllm-gaudi",
        "inferencex",
    )
    assert f.sort("concurrency")["tokens_per_second_per_gpu"].to_list() == [
        2.32,
        4.28,
        8.0,
        15.8,
        23.31,
        38.17,
        61.72,
        95.1,
    ]


def test_points_without_hardware_are_kept_as_problems_not_guessed_from_the_file_name():
    f = _parse("inferencex_app_tpuv7-qwen35-snapshot.json")
    assert f.height == 7
    assert set(f["problem"].to_list()) == {"hardware_not_in_payload"}
    assert f["gpu_model"].null_count() == 7 and f["tokens_per_second_per_gpu"].null_count() == 7
    first = f.filter(pl.col("concurrency") == 4).row(0, named=True)
    assert first["total_tokens_per_second_per_gpu"] == pytest.approx(1106.0144106246432)
    assert first["scenario"] == "conc4"


def test_raw_benchmark_client_output_is_one_problem_row_with_the_server_total():
    f = _parse("inferencex_pr2557_atom_mtp_tp4_conc64_isl8192_osl1024.json")
    assert f.height == 1
    r = f.row(0, named=True)
    assert r["problem"] == "hardware_not_in_payload"
    assert r["result_tokens_per_second"] == pytest.approx(
        1865.52, abs=0.01
    )  # whole server, not per GPU
    assert r["tokens_per_second_per_gpu"] is None and r["concurrency"] == 64


def test_unknown_hardware_is_quarantined_by_name():
    content = (
        b'[{"model": "deepseek-ai/DeepSeek-R1", "hw": "tpuv7", "framework": "jax", '
        b'"precision": "fp8", "conc": 8, "isl": 1024, "osl": 1024, "date": "2026-03-14", '
        b'"metrics": {"output_tput_per_gpu": 100.0, "tput_per_gpu": 200.0}}]'
    )  # hand-written
    r = x.parse("handwritten.json", content)[x.TABLE].row(0, named=True)
    assert (r["problem"], r["accelerator_name"], r["gpu_model"]) == (
        "unknown_accelerator",
        "tpuv7",
        None,
    )


@pytest.mark.parametrize(
    "content", [b"<html></html>", b"{}", b"[]", b'[{"model": "m"}]', b'{"error": "rate limited"}']
)
def test_unrecognised_payload_raises(content):
    with pytest.raises(ParseError):
        x.parse("benchmarks_dsr1.json", content)


def test_inferencex_rows_are_selected_only_when_asked_for():
    f = _parse("inferencex_app_supplemental-bmk.json").filter(pl.col("problem").is_null())
    bench = f.select(
        pl.lit(dt.date(2026, 12, 1)).alias("date"), pl.lit(x.SOURCE_ID).alias("source"), pl.all()
    )
    with pytest.raises(serving.ServingCostError):  # the default source is MLPerf
        serving.select_benchmark(bench, model="glm-4.7", gpu_model="GAUDI3-128GB")
    out = serving.serving_cost(
        bench,
        model="zai-org/GLM-4.7",
        gpu_model="GAUDI3-128GB",
        usd_per_gpu_hour=2.0,
        scenario="conc128_isl1024_osl1024",
        source=x.SOURCE_ID,
    )
    assert out["tokens_per_second_per_gpu"] == 95.1 and out["benchmark"]["accelerators"] is None
    assert out["usd_per_million_output_tokens"] == pytest.approx(2.0 / (95.1 * 3600) * 1e6)  # $5.84
