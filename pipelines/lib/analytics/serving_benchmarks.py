"""Which measured throughput prices a model on a GPU: the benchmark selection of the serving
cost (``serving_cost``'s docstring gives the contract). Pure polars, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from pipelines.lib.model_keys import benchmark_model, model_key

DEFAULT_SOURCE = "mlperf_inference"
DEFAULT_SCENARIO = "Offline"


class ServingCostError(ValueError):
    """No benchmark or price for the request, or an input outside sane bounds."""


def round_order(round_id: str | None) -> tuple:
    """Sort key of a round: ``v6.1`` -> (6, 1); a date ``2026-03-14`` -> (2026, 3, 14)."""
    nums = tuple(int(x) for x in re.findall(r"\d+", str(round_id or "")))
    return nums or (-1,)


def latest_loads(bench: pl.DataFrame) -> pl.DataFrame:
    """The rows of each (source, round)'s latest load date (a round reloaded daily counts once)."""
    if bench.height == 0:
        return bench
    return bench.filter(pl.col("date") == pl.col("date").max().over(["source", "round"]))


def _model_filter(model: str) -> pl.Expr:
    """Rows of ``model``: a benchmark name with or without its accuracy target
    (``llama2-70b``, ``llama2-70b-99.9``) or a tracker model key (``llama-2-70b-chat``)."""
    base, target, key = benchmark_model(model)
    as_key = model_key(model)
    bench_base = (
        pl.col("benchmark_model")
        .str.to_lowercase()
        .str.replace_all("_", ".")
        .str.replace(r"-99(\.9)?$", "")
    )
    if target is not None:  # an explicit accuracy target: that one only
        return (bench_base == base) & (pl.col("accuracy_target") == target)
    return (
        (bench_base == base)
        | (pl.col("model_key") == as_key)
        | (pl.col("model_key") == (key or as_key))
    )


def eligible(
    bench: pl.DataFrame, *, scenario: str = DEFAULT_SCENARIO, source: str = DEFAULT_SOURCE
) -> pl.DataFrame:
    """Rows that may price a model on a GPU: the source's latest loads, closed division,
    available, one GPU type, the scenario, a positive per-GPU throughput."""
    rows = latest_loads(bench.filter(pl.col("source") == source))
    if source == "mlperf_inference":
        rows = rows.filter(
            (pl.col("division") == "closed") & (pl.col("availability") == "available")
        )
    return rows.filter(
        pl.col("gpu_model").is_not_null()
        & pl.col("model_key").is_not_null()
        & (pl.col("scenario").str.to_lowercase() == scenario.lower())
        & (pl.col("tokens_per_second_per_gpu") > 0)
        & pl.col("problem").is_null()
    )


def _rank_best(rows: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    """Per group ``by``: newest round, then highest throughput, then system, precision."""
    if rows.height == 0:
        return rows
    ranked = rows.with_columns(
        pl.col("round")
        .map_elements(lambda r: list(round_order(r)), return_dtype=pl.List(pl.Int64))
        .alias("_round_order"),
    )
    ranked = ranked.sort(
        ["_round_order", "tokens_per_second_per_gpu", "system", "precision"],
        descending=[True, True, False, False],
        nulls_last=True,
    )
    return ranked.group_by(by, maintain_order=True).head(1).drop("_round_order")


@dataclass(frozen=True)
class Benchmark:
    source: str
    round: str
    system: str
    submitter: str | None
    benchmark_model: str
    model_key: str
    scenario: str
    precision: str | None
    accelerators: int | None  # None where the source gives per-GPU figures only (InferenceX)
    gpu_model: str
    tokens_per_second_per_gpu: float

    def as_json(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "round": self.round,
            "system": self.system,
            "submitter": self.submitter,
            "model": self.benchmark_model,
            "scenario": self.scenario,
            "precision": self.precision,
            "accelerators": self.accelerators,
        }


def select_benchmark(
    bench: pl.DataFrame,
    *,
    model: str,
    gpu_model: str,
    scenario: str = DEFAULT_SCENARIO,
    source: str = DEFAULT_SOURCE,
) -> Benchmark:
    """The benchmark that prices ``model`` on ``gpu_model`` (see the module docstring);
    ``ServingCostError`` naming what exists when there is none."""
    rows = eligible(bench, scenario=scenario, source=source).filter(_model_filter(model))
    on_gpu = rows.filter(pl.col("gpu_model") == gpu_model)
    if on_gpu.height == 0:
        have = sorted(set(rows["gpu_model"].to_list()))
        hint = (
            f"; it has one on {', '.join(have)}"
            if have
            else f"; no eligible {scenario} result for that model at all"
        )
        raise ServingCostError(
            f"no closed-division, available {scenario} {source} result for {model} on "
            f"{gpu_model}{hint}"
        )
    best = _rank_best(on_gpu, ["gpu_model"]).row(0, named=True)
    return Benchmark(
        best["source"],
        best["round"],
        best["system"],
        best["submitter"],
        best["benchmark_model"],
        best["model_key"],
        best["scenario"],
        best["precision"],
        best["total_accelerators"],
        best["gpu_model"],
        float(best["tokens_per_second_per_gpu"]),
    )


def best_benchmarks(
    bench: pl.DataFrame, *, scenario: str = DEFAULT_SCENARIO, source: str = DEFAULT_SOURCE
) -> pl.DataFrame:
    """``select_benchmark`` for every model_key x gpu_model at once."""
    return _rank_best(eligible(bench, scenario=scenario, source=source), ["model_key", "gpu_model"])
