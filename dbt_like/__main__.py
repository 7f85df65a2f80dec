"""``python -m dbt_like [--project-dir sql] [--db FILE] ls|build|run|test [--select ...]``

* ``ls``    models in build order with materialization, dependencies and tests;
* ``build`` models then their tests, a failing error-severity test blocking downstream;
* ``run``   models only; ``test`` tests only (against what is in the warehouse).

Exit status 1 when a model fails or an error-severity test fails. When the ``pipelines``
package is importable, ``build``/``run`` use the tracker's own connections
(``pipelines.lib.model_build.WarehouseSession``): SQL models build on a tracker writer (the
writer lock ``<db>.lock``, then waiting for readers to leave) so a build never races the daily
job or fails on a reader; Python models read through readers, compute with no lock held and
write in one short writer transaction; they see the tracker's config (``[economics]`` ...).
``test`` opens the file as a reader; ``ls`` never opens the database.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
from pathlib import Path

import duckdb

from dbt_like.project import Project, ProjectError


def _session(db: Path):
    """The tracker's writer/reader session and config, or None outside the tracker."""
    try:
        from pipelines.lib.config import load_config
        from pipelines.lib.model_build import WarehouseSession
    except ImportError:
        return None, {}
    try:
        config = load_config().data
    except Exception:  # a foreign project or no tracker config: Python models use defaults
        config = {}
    return WarehouseSession(db, ensure_schema=False), config


@contextlib.contextmanager
def _connect(db: Path, read_only: bool):
    """Inside the tracker, the warehouse's own connections: a writer takes the writer lock and
    waits for readers to leave; a reader waits for a writer. Outside it, a plain connection
    (DuckDB's own file lock still applies)."""
    try:
        from pipelines.lib.warehouse import open_for_write, reader
    except ImportError:
        con = duckdb.connect(str(db), read_only=read_only)
        try:
            yield con
        finally:
            con.close()
        return
    with reader(db) if read_only else open_for_write(db) as con:
        yield con


def _warehouse_path(text: str) -> Path:
    """``--db`` as the tracker reads GPU_TRACKER_WAREHOUSE: a file, or ``ducklake:<catalog>``
    (the lake's anchor path, see pipelines.lib.lake); a plain path outside the tracker."""
    try:
        from pipelines.lib import lake
    except ImportError:
        return Path(text)
    return lake.resolve_warehouse(text, Path.cwd())


def _is_lake(db: Path) -> bool:
    try:
        from pipelines.lib import lake
    except ImportError:
        return False
    return lake.target_for(db) is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dbt_like", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--project-dir", default="sql", help="folder with the models (default: sql)"
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("GPU_TRACKER_WAREHOUSE", "warehouse/gpu_market.duckdb"),
        help="DuckDB file or ducklake:<catalog> (default: $GPU_TRACKER_WAREHOUSE or "
        "warehouse/gpu_market.duckdb)",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_ in (
        ("ls", "list models"),
        ("build", "build models and run tests"),
        ("run", "build models without tests"),
        ("test", "run data tests"),
    ):
        p = sub.add_parser(name, help=help_)
        p.add_argument(
            "--select",
            "-s",
            nargs="+",
            help="name, schema.name, glob, +name (ancestors), name+ (descendants)",
        )
        p.add_argument("--exclude", nargs="+")
        if name in ("build", "run"):
            p.add_argument(
                "--full-refresh",
                action="store_true",
                help="rebuild incremental models from scratch",
            )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)

    try:
        project = Project.load(args.project_dir)
        selected = project.select(args.select, args.exclude)
    except ProjectError as err:
        print(err, file=sys.stderr)
        return 2

    if args.command == "ls":
        for name in selected:
            m = project.models[name]
            deps = ", ".join(sorted(m.depends_on | m.sources)) or "-"
            print(
                f"{name:45s} {m.materialized:11s} {m.language:6s} {len(m.tests):3d} tests  <- {deps}"
            )
        return 0

    db = _warehouse_path(args.db)
    if args.command == "test" and not _is_lake(db) and not db.exists():
        print(f"warehouse {db} does not exist", file=sys.stderr)
        return 2
    try:
        result = _run(project, db, args)
    except FileNotFoundError as err:  # a DuckLake warehouse not created yet (checked on ATTACH)
        print(err, file=sys.stderr)
        return 2
    print(result.summary())
    return 0 if result.ok else 1


def _run(project: Project, db: Path, args: argparse.Namespace):
    log = logging.getLogger("dbt_like")
    if args.command == "test":
        with _connect(db, read_only=True) as con:
            return project.test(con, args.select, args.exclude, log=log)
    session, config = _session(db)
    kwargs = {
        "run_tests": args.command == "build",
        "log": log,
        "full_refresh": args.full_refresh,
        "config": config,
    }
    if session is not None:
        return project.build(session, args.select, args.exclude, **kwargs)
    with _connect(db, read_only=False) as con:
        return project.build(con, args.select, args.exclude, **kwargs)


if __name__ == "__main__":
    sys.exit(main())
