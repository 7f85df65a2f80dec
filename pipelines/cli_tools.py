"""The ``gpu-tracker`` commands that need no Dagster run: sql, backup, restore, stage-shared,
estimate.

Each reads (or, for backup/restore, copies) the warehouse with ``pipelines.lib`` and prints one
summary line; argument parsing lives in ``pipelines.cli``.
"""

from __future__ import annotations

import argparse
import json
import sys

from pipelines.cli import CliError


def cmd_sql(args) -> int:
    from pipelines.lib import sql_console
    from pipelines.lib.config import load_config

    # one read-only query in a sandbox that cannot change any file (pipelines/lib/sql_console.py)
    try:
        out = sql_console.run_query(
            load_config().warehouse_path,
            args.query,
            args.format,
            max_rows=args.max_rows,
            timeout=args.timeout,
        )
    except sql_console.SqlConsoleError as exc:
        raise CliError(str(exc)) from None
    sys.stdout.write(out)
    return 0


def cmd_backup(args) -> int:
    from pipelines.lib.backup import BackupError, backup
    from pipelines.lib.config import load_config

    try:
        manifest = backup(load_config().warehouse_path, args.out)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"backup ok: {args.out / manifest['folder'] / manifest['file']} ({manifest['bytes']} bytes, "
        f"{len(manifest['tables'])} tables, {sum(manifest['tables'].values())} rows)"
    )
    return 0


def cmd_restore(args) -> int:
    from pipelines.lib.backup import BackupError, restore
    from pipelines.lib.config import load_config

    db = load_config().warehouse_path
    try:
        manifest = restore(args.backup_dir, db)
    except BackupError as exc:
        raise CliError(str(exc)) from None
    print(
        f"restore ok: {db} from backup of {manifest['created_at']} "
        f"({sum(manifest['tables'].values())} rows verified)"
    )
    return 0


def cmd_stage_shared(args) -> int:
    from pipelines.lib.config import REPO_ROOT
    from pipelines.lib.shared_history import stage

    shared = args.shared or REPO_ROOT.parent / "shared" / "data"
    if not shared.is_dir():
        raise CliError(f"{shared}: no such folder (pass --shared)")
    staged = stage(shared, args.out)
    if not staged:
        raise CliError(f"{shared}: no market payloads found")
    by_source: dict[str, list] = {}
    for item in staged:
        by_source.setdefault(item.source, []).append(item.day)
    for source, days in sorted(by_source.items()):
        print(f"  {source}: {len(days)} date(s) {min(days)}..{max(days)}", file=sys.stderr)
    start, end = min(s.day for s in staged), max(s.day for s in staged)
    print(
        f"staged {len(staged)} payloads into {args.out}; replay with:\n"
        f"  gpu-tracker backfill --from-archive {args.out} --start {start} --end {end}"
    )
    return 0


def _number(value: str) -> float:
    try:
        return float(value.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {value!r}") from None


def cmd_estimate(args) -> int:
    from pipelines.lib.config import load_config
    from pipelines.lib.cost_model import EstimateError, estimate

    defaults = load_config().data.get("estimate", {})
    try:
        out = estimate(
            params=args.params,
            active_params=args.active_params,
            tokens=args.tokens,
            train_tokens=args.train_tokens,
            gpu=args.gpu,
            usd_per_hour=args.usd_per_hour,
            mfu=args.mfu,
            precision=args.precision,
            defaults=defaults,
        )
    except EstimateError as exc:
        raise CliError(str(exc)) from None
    print(json.dumps(out, indent=2))
    return 0
