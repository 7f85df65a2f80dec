"""SemiAnalysis InferenceX: nightly serving sweeps (model x hardware x framework x precision x
concurrency), a second source of measured throughput, independent of MLPerf.

Rows go to ``raw.serving_benchmarks`` (``pipelines.lib.families``) with ``source`` =
``inferencex``, kept apart from ``mlperf_inference``: the serving-cost mart prices MLPerf
results; InferenceX rows are there to be compared (``gpu-tracker serving-cost --source
inferencex --scenario <point>``, or SQL). One row = one sweep point:

* ``round`` = the sweep's data date; ``scenario`` = ``conc<N>_isl<I>_osl<O>`` (concurrency,
  input and output tokens per request); ``system`` = hardware, framework, parallelism
  (``tp``/``ep``), speculative decoding, disaggregation / multi-node;
* ``tokens_per_second_per_gpu`` = ``metrics.output_tput_per_gpu`` (output tokens, comparable
  with MLPerf's Tokens/s); ``total_tokens_per_second_per_gpu`` = ``metrics.tput_per_gpu``
  (input + output -- not comparable with MLPerf, kept for reference);
* ``gpu_model`` through ``pipelines.lib.gpus.resolve_gpu`` of the ``hw`` key (``gaudi3``,
  ``h100``, ``mi355x`` ...); ``model_key`` through ``model_keys.model_key``
  (``zai-org/GLM-4.7`` -> ``glm-4.7``); ``total_accelerators`` is left null: the rows are
  already per GPU and the parallelism fields do not state the GPU count unambiguously.

Payload shapes (the three real files in ../shared/data/serving_benchmarks/inferencex):

1. a list of sweep-point objects with ``model``, ``hw``, ``framework``, ``precision``, ``tp``,
   ``ep``, ``conc``, ``isl``, ``osl``, ``date``, ``metrics{...}`` (the app's
   ``supplemental-bmk.json``; the README describes ``/api/v1/benchmarks`` rows the same way, and
   an envelope ``{"data"|"rows"|"benchmarks": [...]}`` is accepted for it);
2. the same points without ``model``/``hw`` (``tpuv7-qwen35-snapshot.json``: hardware and
   model are known only from the file name) -- kept with problem ``hardware_not_in_payload``,
   not guessed from the name;
3. one raw benchmark-client result (``output_throughput``, ``total_token_throughput``, whole
   server, no hardware or GPU count) -- one row with problem ``hardware_not_in_payload``.

Other problems: ``unknown_accelerator`` (``hw`` not in the GPU table), ``missing_throughput``
(no ``output_tput_per_gpu``), ``unparseable_result`` (not a positive number),
``unknown_benchmark_model`` (no model name). Anything else raises ``ParseError``.

Live (disabled by default: no real capture of the API response was available to check the
parser against): ``GET <base_url>/api/v1/benchmarks?model=<m>&date=<day>`` for each of
``[sources.inferencex] models`` (InferenceX DB model keys such as ``dsr1``), archived as
``benchmarks_<m>.json``.

Terms (checked 2026-12-01): the InferenceX benchmark repository (SemiAnalysisAI/InferenceX) is
Apache-2.0; the app repository that ships the data snapshots (SemiAnalysisAI/InferenceX-app)
is GPL-3.0 since commit 089ce3c2 (2026-03-18), Apache-2.0 before. No terms of use for the
public API (inferencex.semianalysis.com) could be established: verdict ``unknown``.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any
from urllib.parse import urlencode

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.gpus import UnmappedGpu, resolve_gpu
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.model_keys import model_key
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "inferencex"
TABLE = "raw.serving_benchmarks"
DEFAULT_BASE_URL = "https://inferencex.semianalysis.com"
SUBMITTER = "SemiAnalysis InferenceX"
SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("semianalysis",),
    defaults={"enabled": False, "base_url": DEFAULT_BASE_URL, "models": ["dsr1"]},
    raw_tables=(TABLE,),
    terms=Terms(
        url="https://github.com/SemiAnalysisAI/InferenceX-app",
        verdict="unknown",
        checked="2026-12-01",
        quote="Data snapshots ship in SemiAnalysisAI/InferenceX-app under GPL-3.0 (since 089ce3c2, "
        "2026-03-18; Apache-2.0 before); the benchmark code SemiAnalysisAI/InferenceX is "
        "Apache-2.0. No terms of use for the public API could be established.",
        licence="GPL-3.0 (app data) / Apache-2.0 (benchmark repo)",
    ),
    description="SemiAnalysis InferenceX sweeps: output tokens/s per GPU per model, hardware, "
    "framework, precision, concurrency",
)
log = logging.getLogger(__name__)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of ``/api/v1/benchmarks`` per configured model; a failure is a FetchFailure."""
    base = (source_cfg.get("base_url") or DEFAULT_BASE_URL).rstrip("/")
    out: list[Payload | FetchFailure] = []
    for model in source_cfg.get("models") or []:
        name = f"benchmarks_{model}.json"
        url = f"{base}/api/v1/benchmarks?{urlencode({'model': model, 'date': day.isoformat()})}"
        try:
            resp = client.get(url, headers={"Accept": "application/json"})
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            continue
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
    return out


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def _int(value: Any) -> int | None:
    x = _number(value)
    return int(x) if x is not None and x == int(x) else None


def _system(p: dict[str, Any]) -> str:
    parts = [str(p.get("hw") or "(hardware not in payload)"), str(p.get("framework") or "?")]
    for key in ("tp", "ep", "dp"):
        if p.get(key) is not None:
            parts.append(f"{key}{p[key]}")
    spec = p.get("spec_decoding")
    if spec and str(spec).lower() != "none":
        parts.append(f"spec:{spec}")
    if str(p.get("dp_attention")).lower() == "true":
        parts.append("dp-attention")
    if p.get("disagg") is True:
        parts.append("disagg")
    if p.get("is_multinode") is True:
        parts.append("multinode")
    return " ".join(parts)


def _point_row(name: str, p: dict[str, Any]) -> dict[str, Any]:
    metrics = p.get("metrics") if isinstance(p.get("metrics"), dict) else {}
    hw, model = p.get("hw"), p.get("model")
    conc, isl, osl = _int(p.get("conc")), _int(p.get("isl")), _int(p.get("osl"))
    out_tps, all_tps = (
        _number(metrics.get("output_tput_per_gpu")),
        _number(metrics.get("tput_per_gpu")),
    )
    gpu_model, assumed, problem = None, None, None
    if not hw:
        problem = "hardware_not_in_payload"
    else:
        try:
            match = resolve_gpu(str(hw))
            gpu_model, assumed = match.gpu_model, match.variant_assumed
        except UnmappedGpu:
            problem = "unknown_accelerator"
    key = model_key(model) if model else None
    if problem is None and not key:
        problem = "unknown_benchmark_model"
    if problem is None and out_tps is None:
        problem = "missing_throughput"
    if problem is None and out_tps <= 0:
        problem = "unparseable_result"
    precision = str(p.get("precision")).strip().lower() if p.get("precision") else None
    return {
        "round": str(p.get("date")) if p.get("date") else None,
        "benchmark_model": str(model) if model else None,
        "model_id": str(model) if model else None,
        "model_key": key or None,
        "submitter": SUBMITTER,
        "division": "inferencex",
        "system": _system(p),
        "platform": str(hw) if hw else None,
        "scenario": "_".join(
            f"{k}{v}" for k, v in (("conc", conc), ("isl", isl), ("osl", osl)) if v is not None
        )
        or None,
        "precision": precision,
        "framework": p.get("framework"),
        "accelerator_name": str(hw) if hw else None,
        "gpu_model": gpu_model if problem is None else None,
        "gpu_variant_assumed": assumed if problem is None else None,
        "tokens_per_second_per_gpu": out_tps if problem is None else None,
        "total_tokens_per_second_per_gpu": all_tps,
        "concurrency": conc,
        "input_tokens_per_request": isl,
        "output_tokens_per_request": osl,
        "payload_name": name,
        "problem": problem,
    }


def _client_row(name: str, doc: dict[str, Any]) -> dict[str, Any]:
    """A raw benchmark-client result: whole-server totals, no hardware, no GPU count."""
    return {
        "round": str(doc.get("date")) if doc.get("date") else None,
        "benchmark_model": doc.get("model_id"),
        "model_id": doc.get("model_id"),
        "model_key": model_key(doc.get("model_id")) or None,
        "submitter": SUBMITTER,
        "division": "inferencex",
        "system": f"{doc.get('backend') or '?'} (hardware not in payload)",
        "scenario": f"conc{_int(doc.get('max_concurrency'))}",
        "framework": doc.get("backend"),
        "result_tokens_per_second": _number(doc.get("output_throughput")),
        "concurrency": _int(doc.get("max_concurrency")),
        "payload_name": name,
        "problem": "hardware_not_in_payload",
    }


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.serving_benchmarks`` rows of one InferenceX payload (see the module docstring)."""
    try:
        doc = json.loads(content.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ParseError(f"{name}: not JSON ({exc}); starts {content[:80]!r}") from None
    if isinstance(doc, dict) and "output_throughput" in doc and "model_id" in doc:
        rows = [_client_row(name, doc)]
    else:
        if isinstance(doc, dict):
            env = next(
                (k for k in ("data", "rows", "benchmarks") if isinstance(doc.get(k), list)), None
            )
            if env is None:
                raise ParseError(
                    f"{name}: object without a list of sweep points (keys {sorted(doc)[:10]})"
                )
            doc = doc[env]
        if not isinstance(doc, list) or not doc:
            raise ParseError(f"{name}: expected a non-empty list of sweep points")
        if not all(isinstance(p, dict) and isinstance(p.get("metrics"), dict) for p in doc):
            raise ParseError(
                f"{name}: not every element is a sweep point with a metrics object; "
                f"first is {str(doc[0])[:200]}"
            )
        rows = [_point_row(name, p) for p in doc]
    bad = sum(1 for r in rows if r["problem"])
    if bad:
        log.info("%s: %d of %d rows carry a problem", name, bad, len(rows))
    return {TABLE: conform(TABLE, pl.from_dicts(rows, schema=parsed_columns(TABLE)))}
