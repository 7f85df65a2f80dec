"""MLPerf Inference results summaries: measured LLM serving throughput per accelerator.

MLCommons publishes every round's audited results in a repository per round
(``mlcommons/inference_results_v<round>``) with one summary file: ``summary.csv`` (v6.1) or
``summary_results.json`` (v4.1-v6.0). This source turns the token-throughput rows of those
files into ``raw.serving_benchmarks`` (see ``pipelines.lib.families``), the throughput side of
"cost per 1M tokens served" (``pipelines.lib.serving``).

Live: one GET per round of ``[sources.mlperf_inference] rounds`` (round -> URL; the default
points at each round's repository on raw.githubusercontent.com; v4.1's summary only exists on
the branch of PR #2, so that URL is pinned to its commit). Each file is archived as
``mlperf_inference_<round>_summary.<csv|json>`` -- the names of the copies in
``../shared/data/serving_benchmarks/``, so those replay as they are. A round that fails to
download becomes a ``FetchFailure``; the other rounds still load.

One output row = one round x system x benchmark x scenario x precision, as the file has it:

* only rows whose unit is ``Tokens/s`` (case-insensitive) are throughput of generated
  (output) tokens; the others (Samples/s, Queries/s, latencies of vision, speech, recommender
  and edge-latency benchmarks) are not token workloads and are out of this table's scope --
  they are counted per unit in the log, not quarantined;
* ``tokens_per_second_per_gpu`` = ``Result`` / total accelerators of the system under test:
  v6.1 ``total_accelerators`` (checked against ``number_of_nodes x accelerators_per_node``),
  v6.0 ``Total Accelerators``, v4.1/v5.1 ``Nodes x a#`` (``a#`` is an int, a float such as
  ``8.0`` or a string);
* ``gpu_model`` through ``pipelines.lib.gpus.resolve_gpu`` (the same table as offers), after
  dropping what is not part of the chip's name: ``Virtualized`` prefixes, ``-CTS`` suffixes,
  ``(xN)`` counts, ``(Power Cap ...)`` notes, ``[VENDOR]`` tags;
* ``model_key`` / ``accuracy_target`` through ``pipelines.lib.model_keys.benchmark_model``
  from the official benchmark name (v6.1 ``MlperfModel``, JSON ``Model``): ``llama2-70b-99``
  and ``-99.9`` are the same model at two accuracy targets.

Rows that cannot become a trustworthy per-GPU figure are kept with a ``problem`` (ingest moves
them to ``raw.quarantine`` with the whole record, accelerator name included):

* ``no_accelerator`` -- CPU-only systems (``N/A`` or empty accelerator);
* ``unknown_accelerator`` -- a name the GPU table does not map (Intel Arc Pro, Jetson, RTX PRO
  4500, MI350P, Vera Rubin / VR200 ...);
* ``mixed_accelerators`` -- a system built of more than one GPU type (``NVIDIA H200-SXM-141GB +
  AMD Instinct MI350X ...``, ``... (x2x8) and ...``, comma lists): not attributable to one GPU;
* ``unknown_accelerator_count`` -- no usable node or accelerator count (zero, blank, fractional);
* ``ambiguous_accelerator_count`` -- the counts disagree: v6.1 total != nodes x per node, or the
  accelerator name's ``(xN)`` != the total (v6.0 ``(x87)`` with 88 reported, ``(x94)`` with 96);
* ``unparseable_result`` -- a Result that is not a positive finite number;
* ``unknown_benchmark_model`` -- a benchmark name ``benchmark_model`` does not know.

Preview / rdi systems and the open division are kept as they are (``availability``,
``division``): the selection in ``pipelines.lib.serving`` decides, and the rows stay visible.
Per-accelerator figures are derived numbers, not official MLPerf results ("MLPerf" is an
MLCommons trademark).

A document that is neither a JSON list of result objects nor a CSV with the summary's columns
raises ``ParseError``. ``parse`` is pure.

Terms (checked 2026-12-01): the results repositories mlcommons/inference_results_v4.1 and
v6.0 ship ``LICENSE.md``, the Apache License 2.0 ("Licensed under the Apache License, Version
2.0 ... you may not use this file except in compliance with the License"; section 2 grants a
"perpetual, worldwide ... copyright license to reproduce, prepare Derivative Works of,
publicly display ... and distribute the Work"); v5.1's published results site shows the same
licence; no licence file was found for v6.1 (assumed Apache-2.0 like its siblings, to be
confirmed before redistributing). The files are fetched from GitHub's raw content host, once
a day per round.
"""

from __future__ import annotations

import collections
import csv
import io
import json
import logging
import math
import re
from typing import Any

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.gpus import UnmappedGpu, resolve_gpu
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.model_keys import benchmark_model
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "mlperf_inference"
TABLE = "raw.serving_benchmarks"
_RAW = "https://raw.githubusercontent.com/mlcommons"
DEFAULT_ROUNDS: dict[str, str] = {
    "v4.1": f"{_RAW}/inference_results_v4.1/acec3abace94116468643ed3791065bb04d9b831/"
    "summary_results.json",
    "v5.1": f"{_RAW}/inference_results_v5.1/main/summary_results.json",
    "v6.0": f"{_RAW}/inference_results_v6.0/main/summary_results.json",
    "v6.1": f"{_RAW}/inference_results_v6.1/main/summary.csv",
}
SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="market",
    providers=("mlcommons",),
    defaults={"enabled": True, "base_url": _RAW, "rounds": DEFAULT_ROUNDS},
    raw_tables=(TABLE,),
    terms=Terms(
        url="https://github.com/mlcommons/inference_results_v6.0/blob/main/LICENSE.md",
        verdict="permits",
        checked="2026-12-01",
        quote="Apache License 2.0, section 2: 'a perpetual, worldwide, non-exclusive, no-charge, "
        "royalty-free, irrevocable copyright license to reproduce, prepare Derivative Works "
        "of, publicly display, publicly perform, sublicense, and distribute the Work' "
        "(v4.1, v6.0 LICENSE.md; v6.1 has no licence file: assumed, unconfirmed)",
        licence="Apache-2.0",
    ),
    description="MLPerf Inference results summaries: LLM output tokens/s per accelerator",
)

TOKENS_UNIT = "tokens/s"
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
log = logging.getLogger(__name__)

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


def _round_urls(source_cfg: dict[str, Any]) -> dict[str, str]:
    rounds = source_cfg.get("rounds") or DEFAULT_ROUNDS
    if not isinstance(rounds, dict) or not rounds:
        raise ValueError("[sources.mlperf_inference] rounds must be a table of round = URL")
    return {str(k): str(v) for k, v in rounds.items()}


def payload_name(round_id: str, url: str) -> str:
    """Archive name of one round's summary: ``mlperf_inference_v6.1_summary.csv``."""
    ext = "csv" if url.lower().split("?", 1)[0].endswith(".csv") else "json"
    suffix = "summary" if ext == "csv" else "summary_results"
    return f"mlperf_inference_{round_id}_{suffix}.{ext}"


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET per configured round; a failed round becomes a FetchFailure entry."""
    out: list[Payload | FetchFailure] = []
    for round_id, url in _round_urls(source_cfg).items():
        name = payload_name(round_id, url)
        try:
            resp = client.get(url)
        except FetchError as exc:
            out.append(FetchFailure(name, url, str(exc)))
            continue
        out.append(
            Payload(name, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)
        )
    return out


# ----------------------------------------------------------------------------- parsing
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


def _row(name: str, rec: dict[str, Any]) -> dict[str, Any]:
    """One output row from a format-neutral record (see ``_from_csv`` / ``_from_json``)."""
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


def _from_csv(name: str, text: str) -> list[dict[str, Any]]:
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


def _from_json(name: str, doc: Any) -> list[dict[str, Any]]:
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


def parse(name: str, content: bytes) -> dict[str, pl.DataFrame]:
    """``raw.serving_benchmarks`` rows (token-throughput results) of one round's summary."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{name}: not UTF-8 ({exc})") from None
    head = text.lstrip()[:1]
    if head in ("[", "{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ParseError(f"{name}: not JSON ({exc})") from None
        records = _from_json(name, doc)
    elif head:
        records = _from_csv(name, text)
    else:
        raise ParseError(f"{name}: empty payload")
    skipped = collections.Counter()
    rows = []
    for rec in records:
        unit = str(rec["unit"] or "").strip()
        if unit.lower() != TOKENS_UNIT:
            skipped[unit or "(none)"] += 1
            continue
        rows.append(_row(name, rec))
    if skipped:
        log.info(
            "%s: %d results are not token throughput (out of scope): %s",
            name,
            sum(skipped.values()),
            dict(skipped),
        )
    bad = collections.Counter(r["problem"] for r in rows if r["problem"])
    if bad:
        log.info(
            "%s: %d of %d token rows carry a problem: %s",
            name,
            sum(bad.values()),
            len(rows),
            dict(bad),
        )
    frame = (
        pl.from_dicts(rows, schema=parsed_columns(TABLE))
        if rows
        else pl.DataFrame(schema=parsed_columns(TABLE))
    )
    return {TABLE: conform(TABLE, frame)}
