"""The ``gpuhunt-json`` importer: one gpuhunt daily snapshot (``[{"gpuModel", "price":
"$x.xx", "provider"}]``), date from the file name, identical rows collapsed."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from pathlib import Path

from pipelines.lib.importers.base import ImportBatch, ImportFormatError

_GPUHUNT_NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})")


def read_gpuhunt_json(path: Path, day: dt.date | None = None) -> ImportBatch:
    """Read one gpuhunt snapshot. gpuhunt records neither GPU count nor price type, so every
    row is an *instance* price with unknown GPU count: it is quarantined as
    ``bad_gpu_count`` unless the count can be read off a known single-GPU price list --
    which it cannot here. Identical rows are collapsed into one record with ``n_offers``."""
    path = Path(path)
    if day is None:
        m = _GPUHUNT_NAME.match(path.name)
        if not m:
            raise ImportFormatError(f"{path}: no date in file name (expected YYYY-MM-DD_...)")
        day = dt.date.fromisoformat(m.group(1))
    try:
        data = json.loads(path.read_bytes())
    except json.JSONDecodeError as exc:
        raise ImportFormatError(f"{path}: malformed JSON ({exc})") from None
    if not isinstance(data, list) or (data and not isinstance(data[0], dict)):
        raise ImportFormatError(f"{path}: expected a JSON list of offers")
    counts = Counter()
    for item in data:
        if not {"gpuModel", "price", "provider"} <= set(item):
            raise ImportFormatError(
                f"{path}: offer without gpuModel/price/provider: {item!r}"[:300]
            )
        counts[(item["provider"], item["gpuModel"], item["price"])] += 1
    records = [
        {
            "date": day,
            "provider": provider,
            "upstream_source": "gpuhunt",
            "gpu_name": gpu,
            "gpu_count": None,
            "pricing": "on_demand",
            "price": price,
            "n_offers": n,
            "price_basis": "per_instance",
            "currency": "USD",
            "payload_name": path.name,
        }
        for (provider, gpu, price), n in sorted(counts.items())
    ]
    return ImportBatch({day: records}, Counter())
