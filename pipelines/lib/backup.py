"""Backup and restore of the warehouse file.

A backup is a consistent copy of the DuckDB file taken **under the writer lock** (so no
tracker write is in flight) after a checkpoint (so the copy needs no WAL), plus a
``manifest.json`` with sha256, size and the row count of every table. Readers are never
blocked for longer than the checkpoint.

Layout: ``gpu-tracker backup --out DIR`` writes every backup into a NEW folder and switches a
pointer last, so a SIGKILL at any point leaves the previous good backup restorable::

    DIR/CURRENT                                  # name of the newest complete backup
    DIR/20261201T101500.123456Z/gpu_market.duckdb
    DIR/20261201T101500.123456Z/manifest.json

Steps: copy the file (``.partial`` then rename) -> verify the copy and write its manifest ->
replace ``CURRENT`` atomically (write a temporary file, fsync, rename). A folder without a
manifest, or not yet named by ``CURRENT``, is never restored. After the switch, backups
older than the newest ``KEEP`` complete ones and folders left by crashed backups are removed
(one warehouse per backup directory).

``gpu-tracker restore DIR`` reads ``CURRENT`` (or ``DIR/manifest.json`` of a backup folder
itself, which also covers backups written before the pointer existed) and refuses a
manifest whose ``file`` is not a plain file name inside the backup folder (``/abs/path``,
``../x``, a symlink). It copies the backup beside the warehouse and verifies **the copy**
(sha256; opens as a DuckDB database read-only; the row count of every table equals the
manifest) before anything is swapped. Only then, under the writer lock, it moves the live
warehouse's WAL aside (a WAL must never be replayed onto another file), keeps the previous
warehouse as ``<db>.pre-restore`` (a hard link: no copy) and renames the verified copy into
place. A failed verification leaves the warehouse byte for byte as it was.

A DuckLake warehouse (``GPU_TRACKER_WAREHOUSE=ducklake:...``) has no file to copy: its
backup is ``lake.duckdb``, a self-contained DuckDB database that ``COPY FROM DATABASE``
fills from ONE snapshot of the lake (a read-only connection; writers are not held up), with
the same manifest (sha256, row counts; ``backend: ducklake``, the catalog without its
password). Restoring it into a lake verifies the file first, then drops every table and view
of the lake and copies the backup in, in one transaction: readers see the old lake or the
restored one. The lake's own history (DuckLake snapshots, old Parquet files) is not part of
the backup.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb

from pipelines.lib import lake, warehouse
from pipelines.lib.warehouse import connect_retrying, write_intent, writer_lock

POINTER = "CURRENT"
MANIFEST = "manifest.json"
KEEP = 3  # complete backups kept in one backup directory (the current one and two before it)


class BackupError(RuntimeError):
    """A backup that is missing, corrupt, or does not match its manifest (one line)."""


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _row_counts(path: Path) -> dict[str, int]:
    """Row count of every table in the DuckDB file ``path`` (a backup copy, opened read-only;
    nobody else has it open). Any failure to open or read it is a ``BackupError``."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise BackupError(
            f"{path} is not a readable DuckDB database: {str(exc).splitlines()[0]}"
        ) from None
    try:
        con.execute("SET enable_external_access = false")
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() order by 1, 2"
        ).fetchall()
        return {
            f"{s}.{t}": con.execute(f'select count(*) from "{s}"."{t}"').fetchone()[0]
            for s, t in tables
        }
    except duckdb.Error as exc:
        raise BackupError(
            f"{path} could not be read as a DuckDB database: {str(exc).splitlines()[0]}"
        ) from None
    finally:
        con.close()


def _copy_data(db_path: Path, folder: Path) -> Path:
    """The checkpointed warehouse copied into ``folder`` (under the caller's writer lock)."""
    target = folder / db_path.name
    tmp = target.with_name(target.name + ".partial")
    shutil.copyfile(db_path, tmp)
    _fsync(tmp)
    os.replace(tmp, target)
    return target


def _write_manifest(folder: Path, manifest: dict) -> None:
    tmp = folder / (MANIFEST + ".partial")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    _fsync(tmp)
    os.replace(tmp, folder / MANIFEST)
    _fsync(folder)


def _switch_pointer(out_dir: Path, name: str) -> None:
    """Make ``name`` the current backup: the last step of a backup, atomic."""
    tmp = out_dir / (POINTER + ".partial")
    tmp.write_text(name + "\n")
    _fsync(tmp)
    os.replace(tmp, out_dir / POINTER)
    _fsync(out_dir)


def _new_folder(out_dir: Path) -> Path:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    for n in range(100):
        folder = out_dir / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise BackupError(f"{out_dir}: cannot create a new backup folder for {stamp}")


def _is_backup_folder_name(name: str) -> bool:
    # the folders this module creates: 20261201T101500.123456Z[-n]
    return len(name) >= 23 and name[8] == "T" and name[:8].isdigit() and name[22] == "Z"


def _prune(out_dir: Path, current: str) -> None:
    """Remove complete backups older than the newest KEEP, and folders of crashed backups."""
    folders = sorted(
        p
        for p in out_dir.iterdir()
        if p.is_dir() and not p.is_symlink() and _is_backup_folder_name(p.name)
    )
    complete = [p for p in folders if (p / MANIFEST).is_file()]
    keep = {p.name for p in complete[-KEEP:]} | {current}
    for folder in folders:
        if folder.name not in keep:
            shutil.rmtree(folder, ignore_errors=True)


def backup(db_path: Path, out_dir: Path) -> dict:
    """Copy the warehouse into a new folder of ``out_dir`` and make it the current backup;
    returns its manifest (with ``folder``, the backup's folder name in ``out_dir``)."""
    db_path, out_dir = Path(db_path), Path(out_dir)
    target = lake.target_for(db_path)
    if target is not None:
        return _backup_lake(db_path, target, out_dir)
    if not db_path.exists():
        raise BackupError(f"warehouse {db_path} does not exist")
    out_dir.mkdir(parents=True, exist_ok=True)
    with writer_lock(db_path):
        # fold the WAL into the file so the copy is self-contained; readers holding the file
        # are waited for, new ones wait only for the checkpoint, not for the copy
        with write_intent(db_path):
            con = connect_retrying(db_path, read_only=False)
            try:
                con.execute("checkpoint")
            finally:
                con.close()
        folder = _new_folder(out_dir)
        target = _copy_data(db_path, folder)
        manifest = {
            "source": str(db_path),
            "folder": folder.name,
            "file": target.name,
            "sha256": _sha256(target),
            "bytes": target.stat().st_size,
            "created_at": dt.datetime.now(dt.UTC).isoformat(),
            "tables": _row_counts(target),
        }
        _write_manifest(folder, manifest)
        _switch_pointer(out_dir, folder.name)
        _prune(out_dir, folder.name)
    return manifest


LAKE_FILE = "lake.duckdb"
_BACKUP_ALIAS = "gpu_tracker_backup"


def _backup_lake(db_path: Path, target: lake.LakeTarget, out_dir: Path) -> dict:
    """One snapshot of the lake exported into a DuckDB file in a new backup folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        try:
            con = stack.enter_context(warehouse.reader(db_path))
        except FileNotFoundError as exc:
            raise BackupError(str(exc)) from None
        folder = _new_folder(out_dir)
        file = folder / LAKE_FILE
        tmp = file.with_name(file.name + ".partial")
        try:
            path = str(tmp).replace("'", "''")
            con.execute(f"ATTACH '{path}' AS {_BACKUP_ALIAS}")
            con.execute("BEGIN TRANSACTION")  # one snapshot of every table
            con.execute(f"COPY FROM DATABASE {lake.ALIAS} TO {_BACKUP_ALIAS}")
            con.execute("COMMIT")
            con.execute(f"DETACH {_BACKUP_ALIAS}")
        except duckdb.Error as exc:
            raise BackupError(
                f"backup of {target.describe()} failed: {str(exc).splitlines()[0]}"
            ) from None
    _fsync(tmp)
    os.replace(tmp, file)
    manifest = {
        "source": target.describe(),
        "backend": "ducklake",
        "folder": folder.name,
        "file": file.name,
        "sha256": _sha256(file),
        "bytes": file.stat().st_size,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "tables": _row_counts(file),
    }
    _write_manifest(folder, manifest)
    _switch_pointer(out_dir, folder.name)
    _prune(out_dir, folder.name)
    return manifest


def _restore_lake(source: Path, manifest: dict, db_path: Path) -> dict:
    """Verify the backup file, then replace the lake's tables and views with it in one
    transaction (retried on a commit conflict like every lake write)."""
    verify(source, manifest)
    with warehouse.open_for_write(db_path) as con:
        path = str(source).replace("'", "''")
        con.execute(f"ATTACH '{path}' AS {_BACKUP_ALIAS} (READ_ONLY)")

        def body() -> None:
            for schema, view in con.execute(
                "SELECT schema_name, view_name FROM duckdb_views() WHERE database_name = ? "
                "AND NOT internal",
                [lake.ALIAS],
            ).fetchall():
                con.execute(f'DROP VIEW "{schema}"."{view}"')
            for schema, table in con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ?",
                [lake.ALIAS],
            ).fetchall():
                con.execute(f'DROP TABLE "{schema}"."{table}"')
            for (schema,) in con.execute(
                "SELECT schema_name FROM duckdb_schemas() WHERE database_name = ? AND NOT internal "
                "AND schema_name <> 'main'",
                [lake.ALIAS],
            ).fetchall():
                con.execute(f'DROP SCHEMA "{schema}"')
            con.execute(f"COPY FROM DATABASE {_BACKUP_ALIAS} TO {lake.ALIAS}")

        try:
            warehouse.in_transaction(con, body, what="restoring a backup")
        finally:
            with contextlib.suppress(duckdb.Error):
                con.execute(f"DETACH {_BACKUP_ALIAS}")
    return manifest


def _plain_name(value: Any, what: str, where: Path) -> str:
    """A file or folder name inside ``where``: no path separators, no ``..``, no absolute path."""
    if (
        not isinstance(value, str)
        or not value
        or value in (".", "..")
        or "/" in value
        or "\\" in value
        or "\x00" in value
        or Path(value).name != value
    ):
        raise BackupError(
            f"{where}: {what} {value!r} is not a plain name inside the backup; nothing restored"
        )
    return value


def _resolve(backup_dir: Path) -> tuple[Path, dict]:
    """The backup folder ``restore DIR`` means, and its validated manifest."""
    if not backup_dir.is_dir():
        raise BackupError(f"{backup_dir}: no such backup directory")
    pointer = backup_dir / POINTER
    if pointer.exists() and not pointer.is_symlink():
        name = _plain_name(pointer.read_text().strip(), POINTER, backup_dir)
        folder = backup_dir / name
        if folder.is_symlink() or not folder.is_dir():
            raise BackupError(
                f"{pointer} names {name!r}, which is not a backup folder; nothing restored"
            )
    elif pointer.is_symlink():
        raise BackupError(f"{pointer} is a symlink; nothing restored")
    else:
        folder = backup_dir  # a backup folder itself, or the layout before CURRENT existed
    manifest_path = folder / MANIFEST
    if manifest_path.is_symlink() or not manifest_path.is_file():
        raise BackupError(f"{folder}: no {MANIFEST} (not a gpu-tracker backup); nothing restored")
    try:
        manifest = json.loads(manifest_path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BackupError(f"{manifest_path} is not valid JSON ({exc}); nothing restored") from None
    if not isinstance(manifest, dict):
        raise BackupError(f"{manifest_path} is not a manifest object; nothing restored")
    _plain_name(manifest.get("file"), "manifest file", manifest_path)
    tables = manifest.get("tables")
    if (
        not isinstance(manifest.get("sha256"), str)
        or not isinstance(tables, dict)
        or not all(isinstance(k, str) and type(v) is int for k, v in tables.items())
    ):
        raise BackupError(
            f"{manifest_path}: sha256 or table counts missing or malformed; nothing restored"
        )
    return folder, manifest


def verify(path: Path, manifest: dict) -> None:
    """``path`` is the file the manifest describes: same sha256, opens as DuckDB, same row
    count in every table. Raises ``BackupError`` saying what differs."""
    if _sha256(path) != manifest["sha256"]:
        raise BackupError(f"{path}: its sha256 does not match the manifest; nothing restored")
    counts = _row_counts(path)
    if counts != manifest["tables"]:
        diff = {
            t: (manifest["tables"].get(t), counts.get(t))
            for t in sorted(set(counts) | set(manifest["tables"]))
            if counts.get(t) != manifest["tables"].get(t)
        }
        shown = ", ".join(f"{t}: manifest {a} file {b}" for t, (a, b) in list(diff.items())[:3])
        raise BackupError(
            f"{path}: row counts differ from the manifest ({shown}); nothing restored"
        )


def restore(backup_dir: Path, db_path: Path) -> dict:
    """Replace the warehouse with the current backup in ``backup_dir``, verified first."""
    backup_dir, db_path = Path(backup_dir), Path(db_path)
    folder, manifest = _resolve(backup_dir)
    source = folder / manifest["file"]
    if source.is_symlink() or not source.is_file():
        raise BackupError(f"{source}: missing or not a regular file; nothing restored")
    if lake.target_for(db_path) is not None:  # a lake: loaded from the verified file
        return _restore_lake(source, manifest, db_path)
    db_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = db_path.with_name(db_path.name + ".restoring")
    with writer_lock(db_path):
        try:
            shutil.copyfile(source, tmp)
            _fsync(tmp)
            verify(tmp, manifest)  # the copy that will be swapped in, not the source
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            with contextlib.suppress(OSError):
                tmp.with_name(tmp.name + ".wal").unlink()
            raise
        with write_intent(db_path):
            wal = db_path.with_name(db_path.name + ".wal")
            if wal.exists():  # the replaced file's WAL must never be replayed onto the backup
                os.replace(wal, db_path.with_name(db_path.name + ".pre-restore.wal"))
            if db_path.exists():  # keep the previous warehouse (a second name, not a copy)
                keep = db_path.with_name(db_path.name + ".pre-restore")
                link = db_path.with_name(db_path.name + ".pre-restore.partial")
                with contextlib.suppress(OSError):
                    link.unlink()
                with contextlib.suppress(OSError):  # no hard links here: restore without a spare
                    os.link(db_path, link)
                    os.replace(link, keep)
            os.replace(tmp, db_path)
            _fsync(db_path.parent)
    return manifest
