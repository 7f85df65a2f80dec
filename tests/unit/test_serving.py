"""Benchmark selection and the cost formula (pipelines.lib.serving) on the real MLPerf rows."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from pipelines.lib import serving
from pipelines.lib.sources import mlperf_inference as m
from tests.conftest import SHARED_DATA

FILES = [
    "mlperf_inference_v4.1_summary_results.json",
    "mlperf_inference_v5.1_summary_results.json",
    "mlperf_inference_v6.0_summary_results.json",
    "mlperf_inference_v6.1_summary.csv",
]
DAY = dt.date(2026, 12, 1)


@pytest.fixture(scope="module")
def bench() -> pl.DataFrame:
    """What ingest loads into raw.serving_benchmarks: the good rows, with date and source."""
    folder = SHARED_DATA / "serving_benchmarks"
    rows = pl.concat([m.parse(n, (folder / n).read_bytes())[m.TABLE] for n in FILES])
    return rows.filter(pl.col("problem").is_null()).select(
        pl.lit(DAY).alias("date"), pl.lit(m.SOURCE_ID).alias("source"), pl.all()
    )


def test_cost_formula_by_hand():
    # $2.00 per GPU-hour at 13,660 output tokens/s: 13,660 x 3600 = 49.176M tokens an hour
    assert serving.usd_per_million_output_tokens(2.0, 13660.0) == pytest.approx(
        2.0 / 49.176
    )  # $0.0407
    with pytest.raises(serving.ServingCostError):
        serving.usd_per_million_output_tokens(2.0, 0.0)
    with pytest.raises(serving.ServingCostError):
        serving.usd_per_million_output_tokens(float("nan"), 10.0)


def test_llama2_70b_on_h200_is_the_best_closed_available_offline_result_of_v51(bench):
    # v6.1 has H200 only as an rdi 1-GPU system (llama3.1-8b); v6.0's H200 llama2 rows are open
    # division: the newest round with a closed, available llama2-70b Offline H200 result is v5.1,
    # where Dell's XE9680 (35,316.7 tok/s on 8 GPUs, -99) beats Google's 35,043.7.
    out = serving.serving_cost(
        bench, model="llama2-70b", gpu_model="H200-SXM-141GB", usd_per_gpu_hour=3.0
    )
    assert out["benchmark"] == {
        "source": "mlperf_inference",
        "round": "v5.1",
        "submitter": "Dell",
        "system": "Dell PowerEdge XE9680 (8xH200-SXM-141GB, TensorRT)",
        "model": "llama2-70b-99",
        "scenario": "Offline",
        "precision": "fp8",
        "accelerators": 8,
    }
    assert out["model"] == "llama-2-70b-chat" and out["gpu_model"] == "H200-SXM-141GB"
    assert out["tokens_per_second_per_gpu"] == pytest.approx(35316.7 / 8)  # 4,414.59
    assert out["usd_per_million_output_tokens"] == pytest.approx(
        3.0 / (4414.5875 * 3600) * 1e6
    )  # $0.1888


def test_newest_round_wins_over_faster_older_results(bench):
    # llama2-70b on B300: v6.1 has closed, available 8-GPU and 1-GPU systems; VibeHPC's
    # 1 x B300 (14,636.8 tok/s) is the highest per accelerator in that round
    b = serving.select_benchmark(bench, model="llama-2-70b-chat", gpu_model="B300-288GB")
    assert (b.round, b.submitter, b.accelerators) == ("v6.1", "VibeHPC", 1)
    assert b.tokens_per_second_per_gpu == pytest.approx(14636.8)
    # an explicit accuracy target restricts to it
    b99 = serving.select_benchmark(bench, model="llama2-70b-99", gpu_model="H200-SXM-141GB")
    assert b99.benchmark_model == "llama2-70b-99"
    # deepseek-r1 on GB200: the NVL72 rack result per GPU (72 GPUs), not per superchip
    r1 = serving.select_benchmark(bench, model="deepseek-r1", gpu_model="GB200-186GB")
    assert r1.round == "v6.1" and r1.accelerators == 72


def test_no_benchmark_names_what_exists(bench):
    with pytest.raises(
        serving.ServingCostError, match="on A100-SXM-80GB; it has one on B200-180GB"
    ):
        serving.select_benchmark(bench, model="llama2-70b", gpu_model="A100-SXM-80GB")
    with pytest.raises(serving.ServingCostError, match="no eligible Offline result"):
        serving.select_benchmark(bench, model="no-such-model", gpu_model="H100-SXM-80GB")


def test_open_division_preview_and_other_scenarios_are_not_selected(bench):
    best = serving.best_benchmarks(bench)
    assert best.height == best.select("model_key", "gpu_model").unique().height
    chosen = best.join(bench, on=[c for c in bench.columns], how="semi")
    assert set(chosen["division"].to_list()) == {"closed"}
    assert set(chosen["availability"].to_list()) == {"available"}
    assert set(chosen["scenario"].to_list()) == {"Offline"}
    server = serving.select_benchmark(
        bench, model="gpt-oss-120b", gpu_model="B200-180GB", scenario="Server"
    )
    assert server.scenario == "Server"
    offline = serving.select_benchmark(bench, model="gpt-oss-120b", gpu_model="B200-180GB")
    assert offline.tokens_per_second_per_gpu > server.tokens_per_second_per_gpu


def test_a_round_loaded_twice_counts_once_from_its_latest_load(bench):
    older = bench.with_columns(
        pl.lit(DAY - dt.timedelta(days=3)).alias("date"),
        (pl.col("tokens_per_second_per_gpu") * 2).alias("tokens_per_second_per_gpu"),
    )
    b = serving.select_benchmark(
        pl.concat([older, bench]), model="llama2-70b", gpu_model="H200-SXM-141GB"
    )
    assert b.tokens_per_second_per_gpu == pytest.approx(35316.7 / 8)


def test_round_order():
    assert sorted(["v6.1", "v4.1", "v6.0", "v5.1", "v10.0"], key=serving.round_order) == [
        "v4.1",
        "v5.1",
        "v6.0",
        "v6.1",
        "v10.0",
    ]
