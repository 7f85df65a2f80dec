"""Backup and restore of the warehouse file.

A backup is a consistent copy of the DuckDB file taken **under the writer lock** (so no
tracker write is in flight) after a checkpoint (so the copy needs no WAL), plus a
``manifest.json`` with sha256, size and the row count of every table -- enough to verify a
restore. Readers are never blocked. Restore verifies the backup's checksum, copies it beside
the warehouse and renames it into place under the writer lock (a crash mid-restore leaves the
old warehouse), then checks the row counts against the manifest.

    gpu-tracker backup --out DIR        # DIR/gpu_market.duckdb + DIR/manifest.json
    gpu-tracker restore DIR
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path

from pipelines.lib.warehouse import connect_retrying, reader, write_intent, writer_lock


class BackupError(RuntimeError):
    """A backup that is missing, corrupt, or does not match its manifest."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _row_counts(path: Path) -> dict[str, int]:
    with reader(path) as con:  # waits for a writer that may have started meanwhile
        tables = con.execute("select schema_name, table_name from duckdb_tables() order by 1, 2").fetchall()
        return {f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0] for s, t in tables}


def backup(db_path: Path, out_dir: Path) -> dict:
    """Copy the warehouse into ``out_dir``; returns the manifest."""
    db_path, out_dir = Path(db_path), Path(out_dir)
    if not db_path.exists():
        raise BackupError(f"warehouse {db_path} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / db_path.name
    with writer_lock(db_path):
        # fold the WAL into the file so the copy is self-contained; readers holding the file
        # are waited for, new ones wait only for the checkpoint, not for the copy
        with write_intent(db_path):
            con = connect_retrying(db_path, read_only=False)
            try:
                con.execute("checkpoint")
            finally:
                con.close()
        tmp = target.with_name(target.name + ".partial")
        shutil.copyfile(db_path, tmp)
        os.replace(tmp, target)
    manifest = {
        "source": str(db_path),
        "file": target.name,
        "sha256": _sha256(target),
        "bytes": target.stat().st_size,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "tables": _row_counts(target),
    }
    (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def restore(backup_dir: Path, db_path: Path) -> dict:
    """Replace the warehouse with the backup in ``backup_dir`` (verified before and after)."""
    backup_dir, db_path = Path(backup_dir), Path(db_path)
    manifest_path = backup_dir / "manifest.json"
    if not manifest_path.exists():
        raise BackupError(f"{backup_dir}: no manifest.json (not a gpu-tracker backup)")
    manifest = json.loads(manifest_path.read_text())
    source = backup_dir / manifest["file"]
    if not source.exists() or _sha256(source) != manifest["sha256"]:
        raise BackupError(f"{source}: missing or its sha256 does not match the manifest; nothing restored")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(db_path):
        tmp = db_path.with_name(db_path.name + ".restoring")
        shutil.copyfile(source, tmp)
        wal = db_path.with_name(db_path.name + ".wal")
        if wal.exists():  # the replaced file's WAL must never be replayed onto the backup
            wal.unlink()
        os.replace(tmp, db_path)
    counts = _row_counts(db_path)
    if counts != manifest["tables"]:
        raise BackupError(f"restored {db_path} but its row counts differ from the manifest: {counts}")
    return manifest
