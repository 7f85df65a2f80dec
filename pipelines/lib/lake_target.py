"""Which warehouse a configured value names: the DuckDB file, or a DuckLake target (catalog,
data path, local anchor). Parses ``GPU_TRACKER_WAREHOUSE`` / ``GPU_TRACKER_LAKE_DATA`` and
remembers resolved anchors so ``target_for`` maps a warehouse path back to its lake. No
DuckDB here: opening a lake is ``pipelines.lib.lake``, which re-exports these names."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

WAREHOUSE_ENV = "GPU_TRACKER_WAREHOUSE"
DATA_ENV = "GPU_TRACKER_LAKE_DATA"
PREFIX = "ducklake:"


class LakeError(RuntimeError):
    """A lake that cannot be opened, said in one line (bad target, missing extension wheel,
    missing catalog, unreachable catalog database or object store)."""


@dataclass(frozen=True)
class LakeTarget:
    """One DuckLake warehouse: its catalog, its data path and the local anchor path."""

    catalog: str  # absolute path of a DuckDB catalog file, or "postgres:<libpq string>"
    data_path: str  # absolute directory (ending in /) or s3://bucket/prefix/
    anchor: Path

    @property
    def postgres(self) -> bool:
        return self.catalog.startswith("postgres:")

    @property
    def s3(self) -> bool:
        return self.data_path.startswith("s3://")

    def describe(self) -> str:
        """The target for messages and notes: the catalog without its password."""
        return f"ducklake:{redact_dsn(self.catalog)} (data {self.data_path})"

    def extensions(self) -> list[str]:
        return (
            ["ducklake"]
            + (["postgres_scanner"] if self.postgres else [])
            + (["httpfs"] if self.s3 else [])
        )


def redact_dsn(text: str) -> str:
    """A libpq string or URL without its password (``password=...`` or ``user:pw@``)."""
    text = re.sub(r"(password\s*=\s*)('[^']*'|\S+)", r"\1***", text, flags=re.IGNORECASE)
    return re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


_TARGETS: dict[Path, LakeTarget] = {}


def is_lake_text(text: str | os.PathLike | None) -> bool:
    return text is not None and str(text).startswith(PREFIX)


def parse(text: str, base_dir: Path, data: str | None = None) -> LakeTarget:
    """``ducklake:<catalog>`` -> its target (data path from ``data`` or GPU_TRACKER_LAKE_DATA)."""
    if not is_lake_text(text):
        raise LakeError(f"{WAREHOUSE_ENV}={text!r} is not a ducklake: target")
    catalog = text[len(PREFIX) :].strip()
    data = (data if data is not None else os.environ.get(DATA_ENV, "")).strip()
    if not catalog:
        raise LakeError(
            f"{WAREHOUSE_ENV}=ducklake: needs a catalog: ducklake:<file.ducklake> "
            "or ducklake:postgres:<libpq connection string>"
        )
    if catalog.startswith("postgres:"):
        if not catalog[len("postgres:") :].strip():
            raise LakeError(
                f"{WAREHOUSE_ENV}=ducklake:postgres: needs a libpq connection string, "
                "e.g. ducklake:postgres:host=db.internal dbname=gpu_lake user=tracker"
            )
        if not data:
            raise LakeError(
                f"a Postgres lake catalog needs {DATA_ENV} (a directory shared by "
                "every machine, or s3://bucket/prefix)"
            )
        digest = hashlib.sha256(f"{catalog}\n{data}".encode()).hexdigest()[:12]
        anchor = base_dir / "warehouse" / f"ducklake-postgres-{digest}.catalog"
    else:
        if catalog.startswith(("md:", "sqlite:", "mysql:")):
            raise LakeError(
                f"{WAREHOUSE_ENV}: catalog {catalog.split(':')[0]}: is not supported "
                "(a DuckDB file or postgres:<connection string>)"
            )
        path = Path(catalog).expanduser()
        anchor = path if path.is_absolute() else base_dir / path
        catalog = str(anchor)
        data = data or f"{anchor}.files"
    return LakeTarget(catalog=catalog, data_path=_normalise_data(data, base_dir), anchor=anchor)


def _normalise_data(data: str, base_dir: Path) -> str:
    if data.startswith("s3://"):
        parts = urlsplit(data)
        if not parts.netloc:
            raise LakeError(f"{DATA_ENV}={data!r}: no bucket (s3://bucket/prefix)")
        return data.rstrip("/") + "/"
    if "://" in data:
        raise LakeError(f"{DATA_ENV}={data!r}: only a directory or s3://bucket/prefix is supported")
    path = Path(data).expanduser()
    path = path if path.is_absolute() else base_dir / path
    return str(path).rstrip("/") + "/"


def resolve_warehouse(text: str, base_dir: Path) -> Path:
    """The warehouse path for a configured value: a file path as before, or a lake's anchor
    (remembered, so ``target_for`` finds the lake again)."""
    if not is_lake_text(text):
        path = Path(text)
        return path if path.is_absolute() else base_dir / path
    target = parse(text, base_dir)
    _TARGETS[target.anchor] = target
    return target.anchor


def target_for(db_path: str | os.PathLike) -> LakeTarget | None:
    """The lake behind a warehouse path, or None for the DuckDB file backend.

    An anchor resolved in this process is known; otherwise GPU_TRACKER_WAREHOUSE is tried
    (a subprocess handed the anchor), and a ``*.ducklake`` path is a DuckDB-catalog lake
    with GPU_TRACKER_LAKE_DATA or its default data path."""
    if is_lake_text(db_path):
        return parse(str(db_path), Path.cwd())
    path = Path(db_path)
    if path in _TARGETS:
        return _TARGETS[path]
    env = os.environ.get(WAREHOUSE_ENV, "")
    if is_lake_text(env):
        for base in {Path.cwd(), _config_dir()}:
            with contextlib.suppress(LakeError):
                target = parse(env, base)
                if target.anchor == path:
                    _TARGETS[path] = target
                    return target
    if path.suffix == ".ducklake":
        target = parse(PREFIX + str(path), Path.cwd())
        _TARGETS[path] = target
        return target
    if path.name.startswith("ducklake-postgres-") and path.suffix == ".catalog":
        raise LakeError(
            f"{path} names a Postgres lake, but {WAREHOUSE_ENV} does not say which: "
            f"set {WAREHOUSE_ENV}=ducklake:postgres:<connection string> and {DATA_ENV}"
        )
    return None


def _config_dir() -> Path:
    try:
        from pipelines.lib.config import REPO_ROOT, config_path_from_env

        path = config_path_from_env()
    except (ImportError, FileNotFoundError):
        return Path.cwd()
    return path.parent if path is not None else REPO_ROOT
