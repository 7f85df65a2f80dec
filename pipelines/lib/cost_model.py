"""The transformer compute-cost model behind ``gpu-tracker estimate`` (DOMAIN.md).

* Inference: a forward pass costs ``2 * N_active`` FLOPs per token (``N_active`` = the
  active parameters of a mixture-of-experts model, else all parameters); ``n`` tokens in +
  out cost ``2 * N_active * n`` FLOPs.
* Training: ``6 * N_active`` FLOPs per training token (forward + backward), the same
  ``N_active`` as inference: each token only passes through the experts the router picks, so a
  mixture-of-experts model's compute scales with its active parameters, not its total
  (DeepSeek-V3: 6 x 37e9 x 14.8e12 = 3.29e24 FLOPs; with the 671e9 total it would be 18x too
  high). For a dense model ``N_active`` = ``--params``; the estimate says which N it used.
* Time = FLOPs / (dense peak FLOP/s at the chosen precision x MFU); cost = GPU-hours x USD
  per GPU-hour. The peak is the **dense** figure from the spec seed (sql/seeds/gpu_specs.csv),
  never a sparse one. MFU is an assumption (default in ``[estimate]`` of the config) and is
  printed with every estimate, as is every other input.

Pure module: the spec table is passed in (``load_specs`` reads the seed CSV).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.lib.gpus import UnmappedGpu, all_canonical_ids, resolve_gpu

SEED = Path(__file__).resolve().parents[2] / "sql" / "seeds" / "gpu_specs.csv"
PRECISION_COLUMNS = {
    "fp64": "fp64_tflops",
    "fp32": "fp32_tflops",
    "tf32": "tf32_tflops",
    "bf16": "bf16_tflops",
    "fp16": "bf16_tflops",
    "fp8": "fp8_tflops",
    "int8": "int8_tops",
}
DEFAULTS = {"mfu": 0.4, "precision": "bf16"}


class EstimateError(ValueError):
    """Bad input to the cost model (unknown GPU, missing spec, out-of-range number)."""


@dataclass(frozen=True)
class GpuSpec:
    gpu_model: str
    peak_tflops: dict[str, float | None]
    bf16_is_fp16: bool
    source: str


def load_specs(path: Path = SEED) -> dict[str, GpuSpec]:
    specs = {}
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            peaks = {}
            for precision, col in PRECISION_COLUMNS.items():
                value = (row.get(col) or "").strip()
                peaks[precision] = float(value) if value else None
            specs[row["gpu_model"]] = GpuSpec(
                row["gpu_model"],
                peaks,
                row.get("bf16_is_fp16", "").lower() == "true",
                row.get("source", ""),
            )
    return specs


def resolve_gpu_id(gpu: str) -> str:
    """A canonical id as given, or the id an alias resolves to (``H100 SXM`` -> ``H100-SXM-80GB``)."""
    if gpu in all_canonical_ids():
        return gpu
    try:
        return resolve_gpu(gpu).gpu_model
    except UnmappedGpu as exc:
        raise EstimateError(f"unknown GPU {gpu!r}: {exc}") from None


def _positive(name: str, value: float | None, allow_none: bool = False) -> None:
    if value is None and allow_none:
        return
    if value is None or not math.isfinite(value) or value <= 0:
        raise EstimateError(f"{name} must be a positive number, got {value!r}")


def estimate(
    *,
    params: float,
    tokens: float,
    gpu: str,
    usd_per_hour: float,
    active_params: float | None = None,
    train_tokens: float | None = None,
    mfu: float | None = None,
    precision: str | None = None,
    specs: dict[str, GpuSpec] | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The estimate as a JSON-ready dict: results plus every assumption used."""
    defaults = {**DEFAULTS, **(defaults or {})}
    mfu_given = mfu is not None
    mfu = float(mfu if mfu_given else defaults["mfu"])
    precision = (precision or defaults["precision"]).lower()
    _positive("--params", params)
    _positive("--tokens", tokens)
    _positive("--usd-per-hour", usd_per_hour)
    _positive("--active-params", active_params, allow_none=True)
    _positive("--train-tokens", train_tokens, allow_none=True)
    if not 0 < mfu <= 1:
        raise EstimateError(f"--mfu must be in (0, 1], got {mfu}")
    if active_params is not None and active_params > params:
        raise EstimateError(f"--active-params {active_params:g} exceeds --params {params:g}")
    if precision not in PRECISION_COLUMNS:
        raise EstimateError(f"--precision {precision!r}: one of {', '.join(PRECISION_COLUMNS)}")
    gpu_id = resolve_gpu_id(gpu)
    specs = specs if specs is not None else load_specs()
    spec = specs.get(gpu_id)
    if spec is None:
        raise EstimateError(f"no spec for {gpu_id} in the GPU spec seed")
    peak_tflops = spec.peak_tflops.get(precision)
    if not peak_tflops:
        raise EstimateError(f"{gpu_id} has no dense {precision} peak in the spec seed")
    effective_flops_per_s = peak_tflops * 1e12 * mfu
    n_active = active_params if active_params is not None else params

    inference_flops = 2.0 * n_active * tokens
    inference_seconds = inference_flops / effective_flops_per_s
    out: dict[str, Any] = {
        "inference_flops": inference_flops,
        "inference_seconds": inference_seconds,
        "inference_gpu_hours": inference_seconds / 3600.0,
        "inference_cost_usd": inference_seconds / 3600.0 * usd_per_hour,
        "inference_cost_usd_per_million_tokens": inference_seconds
        / 3600.0
        * usd_per_hour
        / tokens
        * 1e6,
    }
    if train_tokens is not None:
        training_flops = 6.0 * n_active * train_tokens
        training_gpu_hours = training_flops / effective_flops_per_s / 3600.0
        out.update(
            {
                "training_flops": training_flops,
                "training_gpu_hours": training_gpu_hours,
                "training_cost_usd": training_gpu_hours * usd_per_hour,
            }
        )
    out["assumptions"] = {
        "gpu": gpu_id,
        "gpu_as_given": gpu,
        "precision": precision,
        "peak_dense_tflops": peak_tflops,
        "peak_is_fp16_figure": precision in ("bf16", "fp16") and spec.bf16_is_fp16,
        "peak_source": spec.source,
        "mfu": mfu,
        "mfu_source": "--mfu" if mfu_given else "config [estimate] mfu",
        "effective_flops_per_second": effective_flops_per_s,
        "usd_per_gpu_hour": usd_per_hour,
        "params": params,
        "active_params": n_active,
        "active_params_source": "--active-params"
        if active_params is not None
        else "= --params (dense model)",
        "tokens": tokens,
        "train_tokens": train_tokens,
        "inference_formula": "2 * active_params * tokens FLOPs",
        "training_formula": (
            "6 * active_params * train_tokens FLOPs" if train_tokens is not None else None
        ),
        "time_formula": "FLOPs / (peak_dense_tflops * 1e12 * mfu)",
        "cost_formula": "GPU-hours * usd_per_gpu_hour",
        "gpus": 1,
        "excludes": "memory limits, batching and latency, communication overhead, idle time, storage/network",
    }
    return out
