"""``gpu-tracker sources`` and ``gpu-tracker doctor`` (contract: ARCHITECTURE.md, "source
registry and live checks"). Argument parsing lives in ``pipelines.cli``; this module only
formats what ``pipelines.lib.registry`` and ``pipelines.lib.doctor`` return."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path


def cmd_sources(args) -> int:
    from pipelines.lib import registry
    from pipelines.lib.config import load_config

    sources = load_config().settings.sources
    rows = registry.describe({sid: sources[sid].enabled for sid in sources.ids()})
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    cols = ("id", "enabled", "kind", "providers", "terms", "terms_checked", "licence", "terms_url")
    table = [cols] + [
        tuple(str(r[c]).lower() if c == "enabled" else str(r[c]) for c in cols) for r in rows
    ]
    widths = [max(len(t[i]) for t in table) for i in range(len(cols))]
    for t in table:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(t)).rstrip())
    return 0


def cmd_doctor(args) -> int:
    from pipelines.cli import CliError
    from pipelines.lib import doctor, registry
    from pipelines.lib.config import load_config

    config = load_config()
    known = registry.ids()
    if args.sources:
        sources = [s.strip() for s in args.sources.split(",") if s.strip()]
        unknown = [s for s in sources if s not in known]
        if unknown:
            raise CliError(f"unknown source(s) {unknown}; known: {', '.join(known)}")
    else:
        enabled = set(config.settings.sources.enabled())
        sources = [s for s in known if s in enabled]
    if not sources:
        raise CliError("no enabled source to check")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out = Path(args.out) if args.out else config.warehouse_path.parent / "doctor" / stamp
    print(f"checking {len(sources)} source(s); payloads archived under {out}", file=sys.stderr)
    checks = doctor.run_doctor(config, sources, out)
    if args.format == "json":
        print(json.dumps([c.as_dict() for c in checks], indent=2))
    else:
        print(doctor.format_table(checks))
    bad = [c.source for c in checks if not c.ok]
    print(
        f"doctor: {len(checks) - len(bad)}/{len(checks)} sources parsed rows"
        + (f"; failing: {', '.join(bad)}" if bad else "")
        + f"; archive {out}",
        file=sys.stderr,
    )
    return 1 if bad else 0
