"""Configuration: the TOML config file, environment overrides and the paths derived from them.

Contract (ARCHITECTURE.md):
* warehouse file: ``warehouse/gpu_market.duckdb``, overridden by ``GPU_TRACKER_WAREHOUSE``;
* published files: ``GPU_TRACKER_PUBLISHED``, else ``published/`` beside a warehouse moved by
  ``GPU_TRACKER_WAREHOUSE``, else ``[paths] published``;
* config file: ``gpu_tracker.toml`` at the repo root, overridden by ``GPU_TRACKER_CONFIG``;
* each source reads ``[sources.<source id>]`` with at least ``enabled`` and ``base_url``.

Nothing is read at import time: call ``load_config()`` where it is needed, so tests can set
environment variables first. Secrets are never read from the file (see ``secret``).
"""

from __future__ import annotations

import copy
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pipelines.lib import lake
from pipelines.lib.redact import register

REPO_ROOT = Path(__file__).resolve().parents[2]

# Defaults used when the config file leaves a key out. Each source's defaults come from its
# own declaration (``SPEC.defaults``, see ``pipelines.lib.registry``), not from here.
DEFAULTS: dict[str, Any] = {
    "http": {
        "user_agent": "gpu-market-tracker/0.1 (+https://github.com/; open GPU price tracker)",
        "timeout_seconds": 30,
        "max_retries": 4,
        "backoff_seconds": 2.0,
        "max_backoff_seconds": 60.0,
        "min_interval_seconds": 1.0,  # per host
        "max_response_bytes": 64 * 1024 * 1024,
        "deadline_seconds": 120,  # wall clock per fetch (attempts, waits and body)
        "preflight_seconds": 10,  # reachability check of the source hosts before a live run
    },
    "schedule": {"cron": "0 6 * * *", "timezone": "UTC"},
    "estimate": {"mfu": 0.4, "precision": "bf16"},
}


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class Config:
    """Loaded configuration plus the resolved paths."""

    data: dict[str, Any]
    config_path: Path | None
    warehouse_path: Path
    archive_dir: Path
    published_dir: Path
    dagster_home: Path
    extra: dict[str, Any] = field(default_factory=dict)

    def source(self, source_id: str) -> dict[str, Any]:
        """``[sources.<id>]`` merged over the defaults; KeyError for an unknown source."""
        sources = self.data.get("sources", {})
        if source_id not in sources:
            raise KeyError(f"no [sources.{source_id}] in config {self.config_path}")
        return sources[source_id]

    def enabled_sources(self) -> list[str]:
        return [s for s, c in self.data.get("sources", {}).items() if c.get("enabled", True)]

    @property
    def http(self) -> dict[str, Any]:
        return self.data["http"]


def config_path_from_env() -> Path | None:
    """The config file in force: ``GPU_TRACKER_CONFIG``, else ``gpu_tracker.toml`` in the
    current directory, else the one at the repo root; None if none exists."""
    env = os.environ.get("GPU_TRACKER_CONFIG")
    if env:
        path = Path(env)
        if not path.is_file():
            raise FileNotFoundError(f"GPU_TRACKER_CONFIG={env} does not exist")
        return path
    for candidate in (Path.cwd() / "gpu_tracker.toml", REPO_ROOT / "gpu_tracker.toml"):
        if candidate.is_file():
            return candidate
    return None


def load_config(path: Path | None = None) -> Config:
    """Read the config file (if any) over the defaults and resolve the paths."""
    path = path or config_path_from_env()
    from pipelines.lib import registry  # late: the registry imports every source module

    data = copy.deepcopy(DEFAULTS)
    data["sources"] = registry.config_defaults()
    if path is not None:
        with open(path, "rb") as fh:
            try:
                data = _deep_merge(data, tomllib.load(fh))
            except tomllib.TOMLDecodeError as exc:
                raise ValueError(f"config {path}: {exc}") from exc
    base_dir = path.parent if path is not None else REPO_ROOT
    paths = data.get("paths", {})
    # a file path, or ducklake:<catalog> (pipelines.lib.lake: the lake's local anchor path)
    warehouse = lake.resolve_warehouse(
        str(
            os.environ.get("GPU_TRACKER_WAREHOUSE")
            or paths.get("warehouse")
            or base_dir / "warehouse" / "gpu_market.duckdb"
        ),
        base_dir,
    )
    wdir = warehouse.parent

    def _path(key: str, default: Path) -> Path:
        value = Path(paths.get(key) or default)
        return value if value.is_absolute() else base_dir / value

    archive = (
        Path(os.environ["GPU_TRACKER_ARCHIVE"])
        if os.environ.get("GPU_TRACKER_ARCHIVE")
        else _path("archive", wdir / "raw")
    )
    return Config(
        data=data,
        config_path=path,
        warehouse_path=warehouse,
        archive_dir=archive,
        published_dir=_published_dir(paths, base_dir, wdir),
        dagster_home=Path(
            os.environ.get("DAGSTER_HOME") or _path("dagster_home", wdir / "dagster_home")
        ),
    )


def _published_dir(paths: dict[str, Any], base_dir: Path, wdir: Path) -> Path:
    """``GPU_TRACKER_PUBLISHED``; else, when ``GPU_TRACKER_WAREHOUSE`` moves the warehouse,
    ``published/`` beside it (the config's ``paths.published`` describes the default warehouse:
    a warehouse elsewhere must not publish into the checkout); else ``paths.published``."""
    env = os.environ.get("GPU_TRACKER_PUBLISHED")
    if env:
        return Path(env)
    if os.environ.get("GPU_TRACKER_WAREHOUSE") or not paths.get("published"):
        return wdir / "published"
    value = Path(paths["published"])
    return value if value.is_absolute() else base_dir / value


def secret(name: str) -> str | None:
    """A secret from the environment (never from the config file, never logged: from now on
    ``pipelines.lib.redact`` hides its value wherever the tracker writes)."""
    register(name)
    value = os.environ.get(name)
    return value or None
