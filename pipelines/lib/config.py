"""Configuration: the config file validated into typed settings, the environment overrides,
and the paths derived from them.

Contract (ARCHITECTURE.md):
* warehouse file: ``warehouse/gpu_market.duckdb``, overridden by ``GPU_TRACKER_WAREHOUSE``;
* published files: ``GPU_TRACKER_PUBLISHED``, else ``published/`` beside a warehouse moved by
  ``GPU_TRACKER_WAREHOUSE``, else ``[paths] published``;
* config file: ``gpu_tracker.toml`` at the repo root, overridden by ``GPU_TRACKER_CONFIG``;
* each source reads ``[sources.<source id>]`` with at least ``enabled`` and ``base_url``.

``load_config()`` reads the file once, validates every section (``pipelines.lib.settings``:
unknown keys and wrong types are a one-line ``ConfigError``) and returns a ``Config`` with
both views of the result: ``settings`` (typed) and ``data`` (the same values as a plain dict,
every default filled in, for code that reads ``data[...]``). The defaults themselves live in
the settings models and in each source's ``SPEC.defaults``, nowhere here.

Nothing is read at import time: call ``load_config()`` where it is needed, so tests can set
environment variables first. Secrets are never read from the file (see ``secret``).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from pipelines.lib import lake
from pipelines.lib.redact import register
from pipelines.lib.settings import ConfigError, Environment, Settings, as_data, settings_model

REPO_ROOT = Path(__file__).resolve().parents[2]

__all__ = [
    "REPO_ROOT",
    "Config",
    "ConfigError",
    "Settings",
    "config_path_from_env",
    "load_config",
    "secret",
    "validate",
]


# ------------------------------------------------------------------ validation, in one line


def validate(data: dict[str, Any], origin: str) -> Settings:
    """``data`` (a parsed config file) as typed settings, or one-line ``ConfigError``."""
    model = settings_model()
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = exc.errors(include_url=False)
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ConfigError(f"{origin}: {describe_error(problems[0], model)}{more}") from None


def _known_keys(model: type[BaseModel], path: tuple[str, ...]) -> list[str]:
    """The field names of the section at ``path`` (empty where it is not a model)."""
    for part in path:
        info = model.model_fields.get(part)
        annotation = info.annotation if info is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return list(model.model_fields)


def _suggest(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _split(loc: tuple[Any, ...]) -> tuple[tuple[str, ...], str, str]:
    """(section path, key, list index suffix) of a pydantic error location."""
    parts = list(loc)
    index = ""
    while parts and isinstance(parts[-1], int):
        index = f"[{parts.pop()}]{index}"
    return tuple(str(p) for p in parts[:-1]), str(parts[-1]) if parts else "", index


def describe_error(error: dict[str, Any], model: type[BaseModel]) -> str:
    """One pydantic error as ``[section] what is wrong with 'key'``."""
    section, key, index = _split(tuple(error["loc"]))
    where = f"[{'.'.join(section)}]" if section else "top level:"
    if error["type"] == "extra_forbidden":
        known = _known_keys(model, section)
        if section == ("sources",):
            return f"unknown source [sources.{key}]{_suggest(key, known)}"
        if not section and isinstance(error.get("input"), dict):
            return f"unknown section [{key}]{_suggest(key, known)}"
        return f"{where} unknown key '{key}'{_suggest(key, known)}"
    if error["type"] in ("model_type", "model_attributes_type", "dict_type"):
        return f"{where} '{key}' must be a table, got {error.get('input')!r}"
    message = str(error["msg"]).removeprefix("Value error, ")
    message = message[:1].lower() + message[1:]
    value = error.get("input")
    return f"{where} '{key}{index}': {message}, got {value!r} ({type(value).__name__})"


# ----------------------------------------------------------------------------- loading


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
    settings: Settings
    extra: dict[str, Any] = field(default_factory=dict)

    def source(self, source_id: str) -> dict[str, Any]:
        """``[sources.<id>]`` merged over the defaults; KeyError for an unknown source."""
        sources = self.data.get("sources", {})
        if source_id not in sources:
            raise KeyError(f"no [sources.{source_id}] in config {self.config_path}")
        return sources[source_id]

    def enabled_sources(self) -> list[str]:
        return [s for s, c in self.data.get("sources", {}).items() if c["enabled"]]

    @property
    def http(self) -> dict[str, Any]:
        return self.data["http"]

    def with_source(self, source_id: str, source_cfg: dict[str, Any]) -> Config:
        """This config with ``[sources.<id>]`` replaced by ``source_cfg``, validated like the
        file's (the doctor's one-payload variant of a source), in ``data`` and ``settings``."""
        self.settings.sources[source_id]  # KeyError for an unknown source
        origin = f"{self.config_path or 'defaults'} (with {source_id} changed)"
        typed = validate({"sources": {source_id: source_cfg}}, origin).sources[source_id]
        sources = self.settings.sources.model_copy(update={source_id: typed})
        settings = self.settings.model_copy(update={"sources": sources})
        return dataclasses.replace(self, data=as_data(settings), settings=settings)


def config_path_from_env(env: Environment | None = None) -> Path | None:
    """The config file in force: ``GPU_TRACKER_CONFIG``, else ``gpu_tracker.toml`` in the
    current directory, else the one at the repo root; None if none exists."""
    env = env or Environment()
    if env.config:
        path = Path(env.config)
        if not path.is_file():
            raise FileNotFoundError(f"GPU_TRACKER_CONFIG={env.config} does not exist")
        return path
    for candidate in (Path.cwd() / "gpu_tracker.toml", REPO_ROOT / "gpu_tracker.toml"):
        if candidate.is_file():
            return candidate
    return None


def _read(path: Path) -> dict[str, Any]:
    with open(path, "rb") as fh:
        try:
            return tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{path}: {exc}") from exc


def _over_source_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """``raw`` with each known ``[sources.<id>]`` deep-merged over its SPEC defaults, so a
    table-valued key (``mlperf_inference.rounds``) overrides entries, not the whole table;
    anything else (unknown ids, wrong types) is left for validation to report."""
    from pipelines.lib import registry  # late: the registry imports every source module

    sources = raw.get("sources")
    if not isinstance(sources, dict):
        return raw
    defaults = registry.config_defaults()
    merged = {
        sid: _deep_merge(defaults[sid], cfg) if sid in defaults and isinstance(cfg, dict) else cfg
        for sid, cfg in sources.items()
    }
    return {**raw, "sources": merged}


def load_config(path: Path | None = None, *, warehouse: str | None = None) -> Config:
    """Read and validate the config file (if any) and resolve the paths.

    ``warehouse`` moves the warehouse exactly as ``GPU_TRACKER_WAREHOUSE`` does (and wins over
    it): a file path, relative to the config file's folder, or ``ducklake:<catalog>``; the
    published files, archive and Dagster home follow it unless configured."""
    env = Environment()
    path = path or config_path_from_env(env)
    raw = _over_source_defaults(_read(path)) if path is not None else {}
    settings = validate(raw, str(path) if path is not None else "defaults")
    base_dir = path.parent if path is not None else REPO_ROOT
    paths = settings.paths
    moved = warehouse or env.warehouse
    # a file path, or ducklake:<catalog> (pipelines.lib.lake: the lake's local anchor path)
    db = lake.resolve_warehouse(
        str(moved or paths.warehouse or base_dir / "warehouse" / "gpu_market.duckdb"), base_dir
    )
    wdir = db.parent

    def _path(value: str | None, default: Path) -> Path:
        resolved = Path(value or default)
        return resolved if resolved.is_absolute() else base_dir / resolved

    if env.published:
        published = Path(env.published)
    elif moved or not paths.published:
        # [paths] published describes the default warehouse: a warehouse moved elsewhere must
        # not publish into the checkout
        published = wdir / "published"
    else:
        published = _path(paths.published, wdir / "published")
    return Config(
        data=as_data(settings),
        config_path=path,
        warehouse_path=db,
        archive_dir=Path(env.archive) if env.archive else _path(paths.archive, wdir / "raw"),
        published_dir=published,
        dagster_home=Path(env.dagster_home or _path(paths.dagster_home, wdir / "dagster_home")),
        settings=settings,
    )


def secret(name: str) -> str | None:
    """A secret from the environment (never from the config file, never logged: from now on
    ``pipelines.lib.redact`` hides its value wherever the tracker writes)."""
    import os

    register(name)
    value = os.environ.get(name)
    return value or None
