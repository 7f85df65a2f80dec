"""``gpu-tracker doctor``: is every enabled source reachable and still readable?

For each enabled source (or those named): fetch live through the same code as a run, archive
every payload into a fresh doctor archive (so it can be attached to a bug report), parse it
with the same parser, and report per source: HTTP status, bytes, rows parsed, rows
quarantined, and the parse or fetch error if any. Nothing is written to the warehouse.

Sources on different hosts are checked concurrently (one worker per source; the polite
client still rate-limits per host), each within the client's total deadline. A source module
may define ``doctor_config(source_cfg) -> source_cfg`` to shrink its fetch to one payload
(e.g. one SkyPilot cloud, one Azure page): the doctor checks that the page is still readable,
not that a whole day can be collected.

The exit rule (contract): 0 only when every checked source parsed at least one row.
"""

from __future__ import annotations

import concurrent.futures as cf
import dataclasses
import datetime as dt
import json
import time
from pathlib import Path
from typing import Any

from pipelines.lib import archive, registry
from pipelines.lib.config import Config
from pipelines.lib.http import PoliteClient
from pipelines.lib.redact import redact

SOURCE_TIMEOUT_SECONDS = 300  # a source that has not answered by then is reported as hung


@dataclasses.dataclass
class SourceCheck:
    source: str
    kind: str
    status: str = ""  # HTTP status(es) of the payloads, e.g. "200" or "200,200,404"
    payloads: int = 0
    bytes: int = 0
    rows: int = 0
    quarantined: int = 0
    error: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.rows > 0

    def as_dict(self) -> dict[str, Any]:
        return {**dataclasses.asdict(self), "ok": self.ok}


def _archive_facts(archive_dir: Path, source: str, day: dt.date) -> tuple[str, int, int]:
    """(statuses, payload count, bytes) from what the fetch archived."""
    folder = archive.date_dir(archive_dir, source, day)
    statuses, n, size = [], 0, 0
    if not folder.is_dir():
        return "", 0, 0
    for path in sorted(folder.iterdir()):
        if not path.is_file() or path.name.endswith(archive.META_SUFFIX):
            continue
        n += 1
        size += path.stat().st_size
        meta_path = path.with_name(path.name + archive.META_SUFFIX)
        try:
            statuses.append(str(json.loads(meta_path.read_text()).get("status", "?")))
        except (OSError, ValueError):
            statuses.append("?")
    return ",".join(statuses), n, size


def check_source(source: str, config: Config, day: dt.date, client: PoliteClient) -> SourceCheck:
    """Fetch, archive and parse one source; never raises for a source-level problem."""
    from pipelines.lib import ingest  # late: ingest imports every source module

    spec = registry.spec(source)
    result = SourceCheck(source=source, kind=spec.kind)
    started = time.monotonic()
    module = registry.module(source)
    source_cfg = dict(config.source(source))
    shrink = getattr(module, "doctor_config", None)
    if callable(shrink):
        source_cfg = shrink(source_cfg)
    try:
        # the shrunk section is validated like the file's: data and settings both carry it
        cfg = config.with_source(source, source_cfg)
        if spec.kind == registry.GPU_OFFERS:
            got = ingest.ingest(source, day, cfg, client=client)
            result.rows = got.offers.height
        else:
            got = ingest.ingest_market(source, day, cfg, client=client)
            result.rows = got.rows
        result.quarantined = got.quarantine.height
        result.error = "; ".join(got.errors)[:500]
    except ingest.SourceFailed as exc:
        if exc.result is not None:
            result.quarantined = exc.result.quarantine.height
        result.error = str(exc)[:500]
    except Exception as exc:  # noqa: BLE001 - any source-level failure is reported, the others go on
        result.error = f"{type(exc).__name__}: {exc}"[:500]
    result.status, result.payloads, result.bytes = _archive_facts(config.archive_dir, source, day)
    result.error = redact(result.error)
    result.seconds = round(time.monotonic() - started, 2)
    return result


def run_doctor(
    config: Config,
    sources: list[str],
    out_dir: Path,
    *,
    day: dt.date | None = None,
    workers: int = 8,
) -> list[SourceCheck]:
    """Check ``sources`` concurrently, archiving into ``out_dir``; results in input order."""
    day = day or dt.datetime.now(dt.UTC).date()
    cfg = dataclasses.replace(config, archive_dir=Path(out_dir))
    client = PoliteClient.from_config(config.http)
    checks: dict[str, SourceCheck] = {}
    pool = cf.ThreadPoolExecutor(max_workers=max(1, min(workers, len(sources))))
    futures = {pool.submit(check_source, s, cfg, day, client): s for s in sources}
    try:
        for fut in cf.as_completed(futures, timeout=SOURCE_TIMEOUT_SECONDS):
            checks[futures[fut]] = fut.result()
    except cf.TimeoutError:
        for source in futures.values():
            if source not in checks:
                checks[source] = SourceCheck(
                    source,
                    registry.spec(source).kind,
                    error=f"no answer within {SOURCE_TIMEOUT_SECONDS} s",
                )
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return [checks[s] for s in sources]


def format_table(checks: list[SourceCheck]) -> str:
    header = (
        "source",
        "ok",
        "http",
        "payloads",
        "bytes",
        "rows",
        "quarantined",
        "seconds",
        "error",
    )
    rows = [header] + [
        (
            c.source,
            "yes" if c.ok else "NO",
            c.status or "-",
            str(c.payloads),
            str(c.bytes),
            str(c.rows),
            str(c.quarantined),
            f"{c.seconds:.1f}",
            c.error.replace("\n", " ")[:160],
        )
        for c in checks
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
    lines = []
    for r in rows:
        lines.append(
            "  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + "  " + r[-1]
        )
    return "\n".join(lines)
