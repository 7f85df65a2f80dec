"""A dbt-like project: the models, seeds, sources and data tests under one ``sql/`` folder.

Layout::

    sql/
      _sources.yml              sources: relations loaded by something else (raw.*)
      seeds/<name>.csv          -> table seeds.<name>           (+ seeds/*.yml docs/tests)
      staging/<name>.sql        -> view  staging.<name>         (+ staging/*.yml)
      intermediate/<name>.sql   -> view  intermediate.<name>
      marts/<name>.sql          -> table marts.<name>
      marts/<name>.py           -> table marts.<name>  (a Python model, see dbt_like.python)
      tests/<name>.sql          singular data tests (SELECT returning failing rows)

The first folder under ``sql/`` is the schema. Staging and intermediate SQL models default
to views, every other layer (and every Python model) to tables; ``config: {materialized:
view|table|incremental}`` in the YAML overrides. An ``incremental`` model (config
``partition_by``, ``watermark``, ``changed_partitions``, ``full_refresh_above``: see
``Incremental``) rebuilds only the partitions loaded since its last build, and in full when
its SQL or any upstream model changes, on ``--full-refresh``, or when many partitions
changed. A SQL model is one SELECT with schema-qualified names (``staging.x``); its
dependencies are what sqlglot finds it reading. A Python model's dependencies are the
``ctx.ref("schema.name")`` calls in its file plus the YAML's ``depends_on``. A bare name
resolves to the one model or declared source of that name. Reading a relation that is
neither is an error naming the file, as is a dependency cycle.

YAML (any ``*.yml`` / ``*.yaml`` in the tree)::

    models:                     # or seeds:
      - name: gpu_price_daily   # short name (resolved in the file's folder) or schema.name
        description: ...
        config: {materialized: table}
        depends_on: [marts.x]   # Python models: inputs read other than by ctx.ref("...")
        meta: {methodology_version: "2.0"}
        columns:
          - name: date
            description: ...
            data_type: DATE     # the column's type: checked after every build
            tests: [not_null]
        tests:
          - unique: {columns: [date, gpu_model]}
    sources:
      - name: raw
        tables: [{name: gpu_offers, description: ...}]
"""

from __future__ import annotations

import fnmatch
from pathlib import Path
from typing import Any

from dbt_like.datatests import DataTest
from dbt_like.loader import _resolve, load_parts
from dbt_like.model import (  # noqa: F401  (re-exported: dbt_like.project was their home)
    SEED_SCHEMA,
    TESTS_DIR,
    VIEW_LAYERS,
    Incremental,
    Model,
    ProjectError,
    Source,
    _hash,
    toposort,
)


class Project:
    """Load with ``Project.load(sql_dir)``; build with ``project.build(con, select=...)``."""

    def __init__(
        self,
        root: Path,
        models: dict[str, Model],
        sources: dict[str, Source],
        singular_tests: list[DataTest],
    ):
        self.root = root
        self.sources = sources
        self.singular_tests = singular_tests
        self._order = self._toposort(models)
        self.models = {name: models[name] for name in self._order}  # in build order

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, root: str | Path) -> Project:
        root = Path(root).resolve()
        if not root.is_dir():
            raise ProjectError(f"project folder {root} does not exist")
        models, sources, singular = load_parts(root)
        project = cls(root, models, sources, singular)
        for test in singular:
            project.models[test.model].tests.append(test)
        return project

    @staticmethod
    def _toposort(models: dict[str, Model]) -> list[str]:
        return toposort(models)

    # ------------------------------------------------------------------ graph queries
    def columns(self, relation: str) -> dict[str, str]:
        """``{column: declared type}`` of a model, from its YAML (``data_type``), in the
        order declared: the one place readers (the report, published files) take a mart's
        column types from."""
        name = _resolve(relation.lower(), self.models, self.sources)
        if name is None or name not in self.models:
            raise ProjectError(f"no model {relation!r} in {self.root}")
        return dict(self.models[name].data_types)

    def upstream(self, name: str) -> set[str]:
        seen: set[str] = set()
        stack = list(self.models[name].depends_on)
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(self.models[n].depends_on)
        return seen

    def downstream(self, name: str) -> set[str]:
        children: dict[str, set[str]] = {n: set() for n in self.models}
        for n, m in self.models.items():
            for d in m.depends_on:
                children[d].add(n)
        seen: set[str] = set()
        stack = list(children[name])
        while stack:
            n = stack.pop()
            if n not in seen:
                seen.add(n)
                stack.extend(children[n])
        return seen

    def select(
        self, selectors: list[str] | None = None, exclude: list[str] | None = None
    ) -> list[str]:
        """Model names in build order matching dbt-style selectors.

        ``name`` / ``schema.name`` / glob (``marts.*``, ``stg_*``); ``+name`` adds its
        ancestors, ``name+`` its descendants. No selector selects everything. A selector
        matching nothing is an error (a typo must not build nothing quietly).
        """
        chosen = set(self.models) if not selectors else set()
        for selector in selectors or []:
            chosen |= self._match(selector)
        for selector in exclude or []:
            chosen -= self._match(selector)
        return [n for n in self._order if n in chosen]

    def _match(self, selector: str) -> set[str]:
        sel = selector.strip()
        up, down = sel.startswith("+"), sel.endswith("+")
        pattern = sel.strip("+").lower()
        if pattern.startswith("path:"):
            target = (Path.cwd() / pattern[5:]).resolve()
            base = {n for n, m in self.models.items() if m.path.resolve().is_relative_to(target)}
        else:
            base = {
                n
                for n in self.models
                if fnmatch.fnmatchcase(n, pattern) or fnmatch.fnmatchcase(n.split(".")[1], pattern)
            }
        if not base:
            raise ProjectError(
                f"selector {selector!r} matches no model (models: {', '.join(self.models)})"
            )
        out = set(base)
        for n in base:
            if up:
                out |= self.upstream(n)
            if down:
                out |= self.downstream(n)
        return out

    # ------------------------------------------------------------------ running
    def build(
        self,
        con,
        select: list[str] | None = None,
        exclude: list[str] | None = None,
        run_tests: bool = True,
        log=None,
        full_refresh: bool = False,
        config: dict[str, Any] | None = None,
        run_id: str = "",
    ):
        """Build the selected models in graph order, then their tests.

        ``con`` is a DuckDB connection used for everything, or a ``dbt_like.session``
        object whose ``writing()`` / ``reading()`` give short-lived connections: SQL models
        build in a writer, Python models read their inputs in a reader, compute with no
        connection open and write their table in a short writer transaction. ``config`` is
        what Python models see as ``ctx.config``; ``run_id`` names the build."""
        from dbt_like.runner import build

        return build(
            self,
            con,
            self.select(select, exclude),
            run_tests=run_tests,
            log=log,
            full_refresh=full_refresh,
            config=config,
            run_id=run_id,
        )

    def lineage_version(self, name: str) -> str:
        """A hash of the model's SQL and of every model upstream of it: when it changes, an
        incremental model's stored rows may be stale and are rebuilt in full."""
        names = sorted(self.upstream(name) | {name})
        return _hash("\n".join(f"{n}:{self.models[n].code_version}" for n in names).encode())

    def test(
        self, con, select: list[str] | None = None, exclude: list[str] | None = None, log=None
    ):
        from dbt_like.runner import run_tests_only

        return run_tests_only(self, con, self.select(select, exclude), log=log)
