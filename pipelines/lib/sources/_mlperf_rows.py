"""MLPerf Inference summary rows as ``raw.serving_benchmarks`` records: the two file formats
(v6.1 CSV, v4.1-v6.0 JSON) read into one format-neutral record, accelerator names mapped to
GPU ids, counts checked, per-GPU throughput derived, and the ``problem`` each untrustworthy
row carries. Used by ``mlperf_inference`` (not a source: no SPEC); the rules are listed in
that module's docstring.

Pure: no I/O.
"""

from __future__ import annotations

import csv
import io
import math
import re
from typing import Any

from pipelines.lib.gpus import UnmappedGpu, resolve_gpu
from pipelines.lib.model_keys import benchmark_model
from pipelines.lib.sources.base import ParseError

SCENARIOS = {
    "offline": "Offline",
    "server": "Server",
    "interactive": "Interactive",
    "singlestream": "SingleStream",
    "multistream": "MultiStream",
}


CSV_COLUMNS = (
    "Organization",
    "Availability",
    "Division",
    "SystemName",
    "Platform",
    "Model",
    "MlperfModel",
    "Scenario",
    "Result",
    "number_of_nodes",
    "accelerator_model_name",
    "accelerators_per_node",
    "total_accelerators",
    "Units",
    "version",
)


JSON_KEYS = (
    "Submitter",
    "Category",
    "Model",
    "Scenario",
    "Performance_Result",
    "Performance_Units",
    "Accelerator",
    "Nodes",
    "a#",
)

# Accelerator-name decoration that is not part of the chip's name.
_COUNT_NOTE = re.compile(r"\(\s*x\s*(\d+)\s*\)", re.IGNORECASE)
_NOISE = [
    re.compile(r"\(\s*x[\dx ]+\)", re.IGNORECASE),  # (x87), (x2x8)
    re.compile(r"\(\s*power cap[^)]*\)", re.IGNORECASE),  # (Power Cap 1000 W)
    re.compile(r"\[[^\]]*\]"),  # [MAXSUN]
    re.compile(r"\bvirtuali[sz]ed\b", re.IGNORECASE),
    re.compile(r"-CTS\b", re.IGNORECASE),
]
# A system of several accelerator types lists them joined by '+', ' and ' or commas.
_MIX_SPLIT = re.compile(r"\s*(?:\+|\band\b|,)\s*", re.IGNORECASE)
_NO_ACCELERATOR = {"", "n/a", "na", "none", "-"}


def _number(value: Any) -> float | None:
    """A finite float from a number or numeric string; None otherwise."""
    if value is None or isinstance(value, bool):
        return None
    try:
        x = float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
    except ValueError:
        return None
    return x if math.isfinite(x) else None


def _count(value: Any) -> int | None:
    """A positive whole count (``8``, ``8.0``, ``"8"``); None for blank, zero or fractional."""
    x = _number(value)
    if x is None or x <= 0 or x != int(x):
        return None
    return int(x)


def _clean_accelerator(name: str) -> str:
    text = name
    for rx in _NOISE:
        text = rx.sub(" ", text)
    return re.sub(r"\s+", " ", text).strip()


def map_accelerator(name: str | None) -> tuple[str | None, bool, str | None]:
    """``(gpu_model, variant_assumed, problem)`` of an accelerator name as MLPerf writes it."""
    raw = (name or "").strip()
    if raw.lower() in _NO_ACCELERATOR:
        return None, False, "no_accelerator"
    parts = [p for p in _MIX_SPLIT.split(raw) if p.strip()]
    models: set[str] = set()
    assumed = False
    for part in parts:
        try:
            match = resolve_gpu(_clean_accelerator(part))
        except UnmappedGpu:
            # one unknown part of a mix still makes the system a mix of types
            return None, False, "mixed_accelerators" if len(parts) > 1 else "unknown_accelerator"
        models.add(match.gpu_model)
        assumed = assumed or match.variant_assumed
    if len(models) > 1:
        return None, False, "mixed_accelerators"
    return next(iter(models)), assumed, None


def _scenario(text: str) -> str:
    key = re.sub(r"[\s_-]+", "", text).lower()
    return SCENARIOS.get(key, text.strip())


def _round(text: Any) -> str | None:
    m = re.search(r"(\d+\.\d+)", str(text or ""))
    return f"v{m.group(1)}" if m else None


def _lower(value: Any) -> str | None:
    text = str(value).strip() if value is not None else ""
    return text.lower() or None


def row_record(name: str, rec: dict[str, Any]) -> dict[str, Any]:
    """One output row from a format-neutral record (see ``from_csv`` / ``from_json``)."""
    _base, target, key = benchmark_model(rec["benchmark_model"])
    gpu_model, assumed, problem = map_accelerator(rec["accelerator_name"])
    nodes, per_node = _count(rec["nodes"]), _count(rec["per_node"])
    total = _count(rec["total"]) if rec["total"] not in (None, "") else None
    if total is None and rec["total"] in (None, "") and nodes and per_node:
        total = nodes * per_node  # v4.1 / v5.1: no total in the file
    if problem is None:
        if total is None:
            problem = "unknown_accelerator_count"
        elif nodes and per_node and nodes * per_node != total:
            problem = "ambiguous_accelerator_count"
        else:
            noted = _COUNT_NOTE.findall(rec["accelerator_name"] or "")
            if len(noted) == 1 and int(noted[0]) != total:
                problem = "ambiguous_accelerator_count"
    result = _number(rec["result"])
    if problem is None and (result is None or result <= 0):
        problem = "unparseable_result"
    if problem is None and key is None:
        problem = "unknown_benchmark_model"
    per_gpu = result / total if (problem is None and result and total) else None
    precision = _lower(rec["precision"])
    return {
        "round": _round(rec["round"]),
        "benchmark_model": rec["benchmark_model"] or None,
        "model_id": rec["model_id"] or rec["benchmark_model"] or None,
        "model_key": key,
        "accuracy_target": target,
        "submitter": rec["submitter"] or None,
        "division": _lower(rec["division"]),
        "availability": _lower(rec["availability"]),
        "system": rec["system"] or None,
        "platform": rec["platform"] or None,
        "scenario": _scenario(rec["scenario"] or ""),
        "precision": None if precision == "unset" else precision,
        "framework": rec["framework"] or None,
        "accelerator_name": rec["accelerator_name"],
        "gpu_model": gpu_model if problem is None else None,
        "gpu_variant_assumed": assumed if problem is None else None,
        "nodes": nodes,
        "accelerators_per_node": per_node,
        "total_accelerators": total,
        "result_tokens_per_second": result,
        "tokens_per_second_per_gpu": per_gpu,
        "inferred": str(rec["inferred"]).strip() in ("1", "True", "true"),
        "payload_name": name,
        "problem": problem,
    }


def from_csv(name: str, text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ParseError(
            f"{name}: not an MLPerf summary CSV: missing column(s) {missing}; "
            f"header starts {str(reader.fieldnames)[:200]}"
        )
    return [
        {
            "unit": r["Units"],
            "round": r["version"],
            "benchmark_model": r["MlperfModel"].strip(),
            "model_id": r["Model"].strip(),
            "submitter": r["Organization"],
            "division": r["Division"],
            "availability": r["Availability"],
            "system": r["SystemName"],
            "platform": r["Platform"],
            "scenario": r["Scenario"],
            "precision": r.get("weight_data_types"),
            "framework": r.get("framework"),
            "accelerator_name": r["accelerator_model_name"],
            "nodes": r["number_of_nodes"],
            "per_node": r["accelerators_per_node"],
            "total": r["total_accelerators"],
            "result": r["Result"],
            "inferred": r.get("inferred"),
        }
        for r in reader
    ]


def from_json(name: str, doc: Any) -> list[dict[str, Any]]:
    if not isinstance(doc, list) or not doc:
        raise ParseError(
            f"{name}: expected a non-empty JSON list of MLPerf results, got {type(doc).__name__}"
        )
    if not any(isinstance(r, dict) and all(k in r for k in JSON_KEYS) for r in doc):
        first = doc[0] if isinstance(doc[0], dict) else {}
        raise ParseError(
            f"{name}: no element has the MLPerf summary keys {list(JSON_KEYS)}; "
            f"first has {sorted(first)[:15]}"
        )
    out = []
    for r in doc:
        if not isinstance(r, dict):
            raise ParseError(
                f"{name}: an element of the results list is not an object: {str(r)[:100]}"
            )
        out.append(
            {
                "unit": r.get("Performance_Units"),
                "round": r.get("version"),
                "benchmark_model": str(r.get("Model") or "").strip(),
                "model_id": str(r.get("UsedModel") or "").strip(),
                "submitter": r.get("Submitter"),
                "division": r.get("Category"),
                "availability": r.get("Availability"),
                "system": r.get("System"),
                "platform": r.get("Platform"),
                "scenario": str(r.get("Scenario") or ""),
                "precision": r.get("weight_data_types"),
                "framework": r.get("Software"),
                "accelerator_name": str(r.get("Accelerator") or ""),
                "nodes": r.get("Nodes"),
                "per_node": r.get("a#"),
                "total": r.get("Total Accelerators"),
                "result": r.get("Performance_Result"),
                "inferred": r.get("inferred"),
            }
        )
    return out
