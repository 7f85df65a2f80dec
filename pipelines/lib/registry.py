"""The source registry: every source module under ``pipelines.lib.sources`` that declares a
``SPEC`` (``pipelines.lib.sources.base.SourceSpec``) is a source of the tracker.

This is the one place that knows which sources exist. The Dagster source assets, the
config defaults and the typed settings model of each ``[sources.<id>]`` section
(``pipelines.lib.settings.source_model``), the list of secret environment variables and
``gpu-tracker sources`` all derive from it, so adding a source is its module plus its
config section -- nothing else.

Discovery imports the modules once per process (cached); a module that fails to import or
declares a malformed ``SPEC`` raises ``RegistryError`` naming the module -- a broken source
must not silently disappear from the tracker. Modules without ``SPEC`` (``base``) are
helpers, not sources.

No Dagster here, no I/O besides importing the modules.
"""

from __future__ import annotations

import copy
import importlib
import pkgutil
from dataclasses import asdict
from functools import cache
from types import ModuleType
from typing import Any

from pipelines.lib.sources.base import SourceSpec

SOURCES_PACKAGE = "pipelines.lib.sources"
GPU_OFFERS = "gpu_offers"
MARKET = "market"


class RegistryError(RuntimeError):
    """A source module that cannot be imported or declares an inconsistent SPEC."""


@cache
def _discover() -> dict[str, tuple[SourceSpec, str]]:
    package = importlib.import_module(SOURCES_PACKAGE)
    found: dict[str, tuple[SourceSpec, str]] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name == "base":
            continue
        module_name = f"{SOURCES_PACKAGE}.{info.name}"
        try:
            module = importlib.import_module(module_name)
        except Exception as exc:  # a broken module must be loud, not missing
            raise RegistryError(
                f"source module {module_name} failed to import: {type(exc).__name__}: {exc}"
            ) from exc
        spec = getattr(module, "SPEC", None)
        if spec is None:
            continue
        if not isinstance(spec, SourceSpec):
            raise RegistryError(f"{module_name}.SPEC is not a SourceSpec")
        source_id = getattr(module, "SOURCE_ID", spec.id)
        if source_id != spec.id:
            raise RegistryError(f"{module_name}: SOURCE_ID {source_id!r} != SPEC.id {spec.id!r}")
        for fn in ("fetch", "parse"):
            if not callable(getattr(module, fn, None)):
                raise RegistryError(f"{module_name} declares a SPEC but has no {fn}()")
        if spec.id in found:
            raise RegistryError(
                f"source id {spec.id!r} declared by {found[spec.id][1]} and {module_name}"
            )
        found[spec.id] = (spec, module_name)
    return found


def specs() -> dict[str, SourceSpec]:
    """Every declared source, by id (sorted by module name)."""
    return {sid: spec for sid, (spec, _) in _discover().items()}


def spec(source_id: str) -> SourceSpec:
    try:
        return _discover()[source_id][0]
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {sorted(_discover())}") from None


def module(source_id: str) -> ModuleType:
    """The module implementing ``source_id`` (fetch + parse)."""
    try:
        return importlib.import_module(_discover()[source_id][1])
    except KeyError:
        raise KeyError(f"unknown source {source_id!r}; known: {sorted(_discover())}") from None


def module_path(source_id: str) -> str:
    return _discover()[source_id][1]


def ids(kind: str | None = None) -> list[str]:
    """Source ids, optionally of one kind (``gpu_offers`` or ``market``)."""
    return [sid for sid, s in specs().items() if kind is None or s.kind == kind]


def config_defaults() -> dict[str, dict[str, Any]]:
    """``{source id: defaults}`` for the ``[sources]`` section of the config (deep copies)."""
    return {sid: copy.deepcopy(s.defaults) for sid, s in specs().items()}


def secret_env_vars() -> tuple[str, ...]:
    """Every environment variable a source declares as secret."""
    return tuple(sorted({name for s in specs().values() for name in s.secrets}))


def raw_table_producers() -> dict[str, list[str]]:
    """``{raw table: [source ids that write it]}``."""
    out: dict[str, list[str]] = {}
    for sid, s in specs().items():
        for table in s.raw_tables:
            out.setdefault(table, []).append(sid)
    return out


def describe(enabled: dict[str, bool] | None = None) -> list[dict[str, Any]]:
    """One row per source for ``gpu-tracker sources`` (contract: id, enabled, kind,
    provider(s), terms_url, terms, terms_checked, licence)."""
    rows = []
    for sid, s in specs().items():
        terms = asdict(s.terms)
        rows.append(
            {
                "id": sid,
                "enabled": bool((enabled or {}).get(sid, s.defaults["enabled"])),
                "kind": "gpu offers" if s.kind == GPU_OFFERS else "market",
                "providers": ",".join(s.providers),
                "terms_url": terms["url"],
                "terms": terms["verdict"],
                "terms_checked": terms["checked"],
                "licence": terms["licence"],
                "terms_quote": terms["quote"],
                "description": s.description,
            }
        )
    return rows


def sources_frame(seen: set[str] | None = None):
    """The published ``sources`` table: every declared source plus any other source name that
    appears in the published rows (imported histories), with kind, terms and licence, so each
    row's ``sources`` can be traced to what its providers' terms and the data's licence say."""
    import polars as pl

    rows = [
        {
            k: r[k]
            for k in (
                "id",
                "kind",
                "providers",
                "terms",
                "terms_checked",
                "licence",
                "terms_url",
                "description",
            )
        }
        for r in describe()
    ]
    declared = {r["id"] for r in rows}
    for name in sorted((seen or set()) - declared):
        rows.append(
            {
                "id": name,
                "kind": "import",
                "providers": "*",
                "terms": "unknown",
                "terms_checked": "",
                "licence": "that of the imported file (see its README)",
                "terms_url": "",
                "description": "third-party history loaded with gpu-tracker import",
            }
        )
    return pl.DataFrame(rows, schema={k: pl.String for k in rows[0]})


def sources_in(frames: dict) -> set[str]:
    """Source names in the ``source`` / ``sources`` (comma-separated) columns of ``frames``."""
    import polars as pl

    seen: set[str] = set()
    for frame in frames.values():
        for col in ("source", "sources", "source_used"):
            if col in frame.columns and frame.schema[col] == pl.String:
                for value in frame[col].drop_nulls().unique().to_list():
                    seen.update(v.strip() for v in value.split(",") if v.strip())
    return seen
