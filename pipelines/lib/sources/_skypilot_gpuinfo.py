"""SkyPilot's ``GpuInfo`` cell and what it says about per-GPU memory: the decoding of every
encoding the catalogs use, and the two readings of ``SizeInMiB`` (per GPU, or the instance
total written into the per-GPU field) settled per catalog. Used by ``skypilot_catalog`` (not
a source: no SPEC); quirks 2 and 3 of that module's docstring.

Pure: no I/O.
"""

from __future__ import annotations

import ast
import json
import re
from functools import lru_cache
from typing import Any

from pipelines.lib.gpus import gpu_family, snap_memory
from pipelines.lib.sources.base import ParseError


@lru_cache(maxsize=4096)
def gpu_info(raw: str) -> tuple[str, float | None]:
    """The first GPU's name and its ``MemoryInfo.SizeInMiB`` inside a ``GpuInfo`` cell,
    whatever its encoding (``('', None)`` if none; the size as written, units unchecked)."""
    raw = (raw or "").strip()
    if not raw:
        return "", None
    if not raw.startswith("{"):
        return raw, None  # paperspace: a plain name
    obj: Any = None
    try:
        obj = json.loads(raw)
    except json.JSONDecodeError:
        try:
            obj = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            # JSON dumped then '"'->"'" : single-quoted strings with bare null/true/false
            fixed = re.sub(r"\bnull\b", "None", raw)
            fixed = re.sub(r"\btrue\b", "True", re.sub(r"\bfalse\b", "False", fixed))
            try:
                obj = ast.literal_eval(fixed)
            except (ValueError, SyntaxError) as exc:
                raise ParseError(f"unreadable GpuInfo {raw[:80]!r}: {exc}") from None
    if not isinstance(obj, dict):
        raise ParseError(f"GpuInfo is not a mapping: {raw[:80]!r}")
    lower = {str(k).lower(): v for k, v in obj.items()}
    gpus = lower.get("gpus") or []
    if not isinstance(gpus, list) or not gpus or not isinstance(gpus[0], dict):
        return "", None
    first = {str(k).lower(): v for k, v in gpus[0].items()}
    memory = first.get("memoryinfo")
    size: Any = (
        {str(k).lower(): v for k, v in memory.items()}.get("sizeinmib")
        if isinstance(memory, dict)
        else None
    )
    try:
        size_mib = float(size) if size is not None and not isinstance(size, bool) else None
    except (TypeError, ValueError):
        size_mib = None  # an unreadable size is no evidence; the name and hints still count
    if size_mib is not None and not 0 < size_mib < 1e9:
        size_mib = None
    return str(first.get("name") or ""), size_mib


def gpu_info_name(raw: str) -> str:
    """The first GPU name inside a ``GpuInfo`` cell, whatever its encoding ('' if none)."""
    return gpu_info(raw)[0]


def _memory_readings(
    family: str | None, size_mib: float | None, count: float | None
) -> tuple[int | None, int | None]:
    """The variant sizes (GB) two readings of ``SizeInMiB`` name: as the per-GPU memory, and
    as the instance total written into the per-GPU field (divided by the GPU count). A
    value below 1024 is GiB written into the MiB field (runpod: ``80``)."""
    if family is None or size_mib is None:
        return None, None
    gb = size_mib / 1024 if size_mib >= 1024 else size_mib
    per_gpu = snap_memory(family, gb)
    total = (
        snap_memory(family, gb / count) if count and count > 1 and count == int(count) else per_gpu
    )
    return per_gpu, total


def catalog_memory(combos: list[tuple[str, str, str]]) -> dict[tuple[str, str, str], float | None]:
    """Per-GPU memory (GB) for each distinct (AcceleratorName, GpuInfo, AcceleratorCount).

    A row where only one reading names a variant settles it, and counts as evidence of the
    catalog's convention; where both do and disagree, the convention decides when every
    piece of evidence agrees, else no memory is given (the variant stays assumed)."""
    readings: dict[tuple[str, str, str], tuple[int | None, int | None]] = {}
    evidence = {"per_gpu": 0, "total": 0}
    for accel, info_raw, count_text in combos:
        try:
            count = float(count_text) if count_text else None
        except ValueError:
            count = None
        family = gpu_family(accel) or gpu_family(gpu_info(info_raw)[0])
        per_gpu, total = _memory_readings(family, gpu_info(info_raw)[1], count)
        readings[(accel, info_raw, count_text)] = (per_gpu, total)
        if count and count > 1 and (per_gpu is None) != (total is None):
            evidence["per_gpu" if per_gpu is not None else "total"] += 1
    convention = None
    if (evidence["per_gpu"] > 0) != (evidence["total"] > 0):
        convention = "per_gpu" if evidence["per_gpu"] else "total"
    out: dict[tuple[str, str, str], float | None] = {}
    for key, (per_gpu, total) in readings.items():
        if per_gpu == total or total is None:
            out[key] = per_gpu
        elif per_gpu is None:
            out[key] = total
        else:
            out[key] = {"per_gpu": per_gpu, "total": total}.get(convention or "")
    return {k: (float(v) if v is not None else None) for k, v in out.items()}
