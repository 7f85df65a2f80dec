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

Layout: this module is the source (SPEC, fetch, parse); reading the two formats into rows,
the accelerator mapping and the per-row problems live in ``_mlperf_rows`` (``map_accelerator``
stays importable from here).
"""

from __future__ import annotations

import collections
import json
import logging
from typing import Any

import polars as pl

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources._mlperf_rows import (
    CSV_COLUMNS,
    JSON_KEYS,
    SCENARIOS,
    from_csv,
    from_json,
    map_accelerator,
    row_record,
)
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
log = logging.getLogger(__name__)

# the row readers' public names, importable from here as before (tests, serving)
__all__ = [
    "CSV_COLUMNS",
    "DEFAULT_ROUNDS",
    "JSON_KEYS",
    "SCENARIOS",
    "SOURCE_ID",
    "SPEC",
    "TABLE",
    "TOKENS_UNIT",
    "fetch",
    "map_accelerator",
    "parse",
    "payload_name",
]


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
        records = from_json(name, doc)
    elif head:
        records = from_csv(name, text)
    else:
        raise ParseError(f"{name}: empty payload")
    skipped = collections.Counter()
    rows = []
    for rec in records:
        unit = str(rec["unit"] or "").strip()
        if unit.lower() != TOKENS_UNIT:
            skipped[unit or "(none)"] += 1
            continue
        rows.append(row_record(name, rec))
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
