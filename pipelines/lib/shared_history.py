"""Stage the real recorded payloads in ``../shared/data`` as a replay archive.

The market sources (OpenRouter, LiteLLM, Hugging Face, Epoch AI, SEC EDGAR) have dated real
payloads in the shared data folder -- 18+4 LiteLLM price-map versions 2023-2026, five OpenRouter
model lists 2026, the Epoch notable-models CSV, a Hub list excerpt, NVIDIA's SEC facts. This
module lays them out as ``<archive>/<source>/<YYYY-MM-DD>/<fixed name>`` (ARCHITECTURE.md),
each under the date it was published or captured, so one ``gpu-tracker backfill
--from-archive`` replays all of them through the same parsers a live run uses and builds a
real API price history. Gzipped files are decompressed (the archive holds what a live fetch
would have stored). Nothing is copied into the repository: the archive goes where you say.

Dates: LiteLLM -- the PyPI upload date in the file name; tokencost copies -- their commit
date; OpenRouter -- the capture date in the file name; SEC -- the newest ``filed`` date in
the excerpt (the earliest day a live fetch could have returned it); Epoch -- its download
date; Hub excerpt -- 2025-11-05 (its README's capture date); MLPerf Inference summaries --
the round's publication date (``MLPERF_ROUND_DATES``), or the staging day where none is recorded.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import re
from dataclasses import dataclass
from pathlib import Path

_DATE = re.compile(r"(20\d\d-\d\d-\d\d)")


@dataclass(frozen=True)
class Staged:
    source: str
    day: dt.date
    name: str
    origin: Path


# MLPerf Inference rounds: the publication date recorded in serving_benchmarks/README.md.
# A round without one (v6.1) is staged under the staging day, as a live fetch would store it.
MLPERF_ROUND_DATES = {
    "v4.1": dt.date(2024, 8, 28),
    "v5.1": dt.date(2025, 9, 9),
    "v6.0": dt.date(2026, 3, 26),
}


def _date_in(path: Path) -> dt.date:
    match = _DATE.search(path.name)
    if not match:
        raise ValueError(f"{path}: no YYYY-MM-DD date in the file name")
    return dt.date.fromisoformat(match.group(1))


def _read(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()


def plan(shared_data: Path, today: dt.date | None = None) -> list[Staged]:
    """What would be staged, from what is present (missing folders are simply absent)."""
    d = Path(shared_data)
    out: list[Staged] = []
    for path in sorted(
        (d / "api_prices/litellm").glob("model_prices_and_context_window_*.json.gz")
    ):
        out.append(Staged("litellm_prices", _date_in(path), "model_prices.json", path))
    for path in sorted(
        (d / "api_prices/tokencost_litellm_copy_2024").glob("model_prices_*.json.gz")
    ):
        out.append(Staged("litellm_prices", _date_in(path), "model_prices.json", path))
    for folder in (
        "model_releases/openrouter/raw_envelope",
        "model_releases/openrouter/daily_gptel",
    ):
        for path in sorted((d / folder).glob("*.json*")):
            out.append(Staged("openrouter", _date_in(path), "models.json", path))
    for path in sorted((d / "model_releases/epoch_ai").glob("notable_ai_models_*.csv")):
        out.append(Staged("epoch_models", _date_in(path), "notable_ai_models.csv", path))
    hf = d / "model_releases/hf_api_excerpt/hf_list_models_excerpt_2025-11.json"
    if hf.exists():
        out.append(Staged("huggingface", dt.date(2025, 11, 5), "models_page001.json", hf))
    for path in sorted((d / "nvidia_financials").glob("sec_companyfacts_CIK*_excerpt.json")):
        cik = re.search(r"CIK(\d{10})", path.name).group(1)
        out.append(Staged("sec_edgar", _newest_filed(path), f"companyfacts_{cik}.json", path))
    for path in sorted((d / "serving_benchmarks").glob("mlperf_inference_v*_summary*")):
        round_id = re.search(r"_(v\d+\.\d+)_", path.name).group(1)
        day = MLPERF_ROUND_DATES.get(round_id, today or dt.datetime.now(dt.UTC).date())
        out.append(Staged("mlperf_inference", day, path.name, path))
    # two captures of one source on one date: keep the first (sorted by path) and say so
    seen: dict[tuple[str, dt.date], Staged] = {}
    for item in out:
        seen.setdefault((item.source, item.day), item)
    return sorted(seen.values(), key=lambda s: (s.source, s.day))


def _newest_filed(path: Path) -> dt.date:
    facts = json.loads(path.read_text())
    filed = [
        fact["filed"]
        for concept in facts.get("facts", {}).get("us-gaap", {}).values()
        for unit in concept.get("units", {}).values()
        for fact in unit
        if "filed" in fact
    ]
    if not filed:
        raise ValueError(f"{path}: no 'filed' dates in the companyfacts payload")
    return dt.date.fromisoformat(max(filed))


def stage(shared_data: Path, archive_dir: Path) -> list[Staged]:
    """Write every planned payload into ``archive_dir``; returns what was staged."""
    staged = plan(shared_data)
    for item in staged:
        folder = Path(archive_dir) / item.source / item.day.isoformat()
        folder.mkdir(parents=True, exist_ok=True)
        (folder / item.name).write_bytes(_read(item.origin))
    return staged
