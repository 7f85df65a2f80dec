"""A dbt-like project: the models, seeds, sources and data tests under one ``sql/`` folder.

Layout::

    sql/
      _sources.yml              sources: relations loaded by something else (raw.*)
      seeds/<name>.csv          -> table seeds.<name>           (+ seeds/*.yml docs/tests)
      staging/<name>.sql        -> view  staging.<name>         (+ staging/*.yml)
      intermediate/<name>.sql   -> view  intermediate.<name>
      marts/<name>.sql          -> table marts.<name>
      tests/<name>.sql          singular data tests (SELECT returning failing rows)

The first folder under ``sql/`` is the schema. Staging and intermediate models default to
views, every other layer to tables; ``config: {materialized: view|table|incremental}`` in
the YAML overrides. An ``incremental`` model (config ``partition_by``, ``watermark``,
``changed_partitions``, ``full_refresh_above``: see ``Incremental``) rebuilds only the
partitions loaded since its last build, and in full when its SQL or any upstream model
changes, on ``--full-refresh``, or when many partitions changed. A model's SQL is one SELECT
with schema-qualified names (``staging.x``); its
dependencies are what sqlglot finds it reading. A bare name resolves to the one model or
declared source of that name. Reading a relation that is neither is an error naming the
file, as is a dependency cycle.

YAML (any ``*.yml`` / ``*.yaml`` in the tree)::

    models:                     # or seeds:
      - name: gpu_price_daily   # short name (resolved in the file's folder) or schema.name
        description: ...
        config: {materialized: table}
        columns:
          - name: date
            description: ...
            tests: [not_null]
        tests:
          - unique: {columns: [date, gpu_model]}
    sources:
      - name: raw
        tables: [{name: gpu_offers, description: ...}]
"""

from __future__ import annotations

import fnmatch
import graphlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dbt_like.datatests import (
    DataTest,
    TestDeclarationError,
    compile_generic,
    parse_declaration,
    singular_severity,
)
from dbt_like.graph import SqlError, relations_read

VIEW_LAYERS = ("staging", "intermediate")
SEED_SCHEMA = "seeds"
TESTS_DIR = "tests"


class ProjectError(ValueError):
    """The project cannot be loaded: bad SQL, unknown relation, cycle, bad YAML."""


@dataclass
class Incremental:
    """How an ``incremental`` model finds the partitions to rebuild (YAML ``config``):

    * ``partition_by``        -- the model's partition column (e.g. ``date``);
    * ``watermark``           -- SQL returning one value that grows with every load
      (e.g. ``select max(loaded_at) from raw.load_log``), stored after each build;
    * ``changed_partitions``  -- SQL returning the partition values loaded since the stored
      watermark, given as its one ``?`` parameter (text; cast it);
    * ``full_refresh_above``  -- rebuild everything when more partitions changed (default 31):
      one partition at a time is the fast path for a daily load, not for a backfill.
    """

    partition_by: str
    watermark: str
    changed_partitions: str
    full_refresh_above: int = 31


@dataclass
class Model:
    name: str  # schema.name
    path: Path
    sql: str  # for a seed: the CSV path's text is not kept, sql is ""
    materialized: str  # view | table | incremental | seed
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    column_types: dict[str, str] = field(default_factory=dict)  # seeds: forced CSV types
    depends_on: set[str] = field(default_factory=set)  # models
    sources: set[str] = field(default_factory=set)  # declared sources read
    tests: list[DataTest] = field(default_factory=list)
    code_version: str = ""
    incremental: Incremental | None = None

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".")[1]


@dataclass
class Source:
    name: str  # schema.table
    description: str = ""


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


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
        models: dict[str, Model] = {}
        errors: list[str] = []

        for path in sorted(root.rglob("*.sql")):
            rel = path.relative_to(root)
            if rel.parts[0] == TESTS_DIR:
                continue
            if len(rel.parts) < 2:
                errors.append(
                    f"{path}: a model must live in a layer folder (staging/, marts/, ...)"
                )
                continue
            schema, name = rel.parts[0].lower(), path.stem.lower()
            full = f"{schema}.{name}"
            if full in models:
                errors.append(f"{path}: model {full} is also defined in {models[full].path}")
                continue
            text = path.read_text()
            models[full] = Model(
                name=full,
                path=path,
                sql=text.strip().rstrip(";").strip(),
                materialized="view" if schema in VIEW_LAYERS else "table",
                code_version=_hash(text.encode()),
            )
        for path in (
            sorted((root / SEED_SCHEMA).glob("*.csv")) if (root / SEED_SCHEMA).is_dir() else []
        ):
            full = f"{SEED_SCHEMA}.{path.stem.lower()}"
            models[full] = Model(
                name=full,
                path=path,
                sql="",
                materialized="seed",
                code_version=_hash(path.read_bytes()),
            )

        sources: dict[str, Source] = {}
        declarations: list[tuple[Path, str, dict[str, Any]]] = []
        for path in sorted([*root.rglob("*.yml"), *root.rglob("*.yaml")]):
            try:
                doc = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as err:
                errors.append(f"{path}: invalid YAML: {err}")
                continue
            for src in doc.get("sources") or []:
                for table in src.get("tables") or []:
                    tname = table["name"] if isinstance(table, dict) else str(table)
                    full = f"{src['name']}.{tname}".lower()
                    desc = table.get("description", "") if isinstance(table, dict) else ""
                    sources[full] = Source(full, desc)
            for kind in ("models", "seeds"):
                for entry in doc.get(kind) or []:
                    declarations.append((path, kind, entry))

        cls._resolve_dependencies(root, models, sources, errors)
        for path, kind, entry in declarations:
            try:
                cls._apply_yaml(root, path, kind, entry, models)
            except (TestDeclarationError, ProjectError) as err:
                errors.append(str(err))

        for model in models.values():
            for test in model.tests:
                resolved = set()
                for ref in test.depends_on:
                    target = cls._resolve(ref, models, sources)
                    if target is None:
                        errors.append(
                            f"{test.path}: test {test.name} reads {ref}, which is neither "
                            "a model nor a declared source"
                        )
                    else:
                        resolved.add(target)
                        if target != ref:
                            test.sql = test.sql.replace(f" {ref} as parent", f" {target} as parent")
                test.depends_on = resolved

        singular: list[DataTest] = []
        tests_dir = root / TESTS_DIR
        for path in sorted(tests_dir.rglob("*.sql")) if tests_dir.is_dir() else []:
            try:
                singular.append(cls._singular_test(path, models, sources))
            except (SqlError, TestDeclarationError, ProjectError) as err:
                errors.append(f"{path}: {err}")
        if errors:
            raise ProjectError("dbt_like project errors:\n  " + "\n  ".join(errors))
        project = cls(root, models, sources, singular)
        for test in singular:
            project.models[test.model].tests.append(test)
        return project

    @staticmethod
    def _resolve(ref: str, models: dict[str, Model], sources: dict[str, Source]) -> str | None:
        if ref in models or ref in sources:
            return ref
        if "." in ref:
            return None
        candidates = [n for n in [*models, *sources] if n.split(".")[-1] == ref]
        return candidates[0] if len(candidates) == 1 else None

    @classmethod
    def _resolve_dependencies(
        cls, root: Path, models: dict[str, Model], sources: dict[str, Source], errors: list[str]
    ) -> None:
        for model in models.values():
            if model.materialized == "seed":
                continue
            try:
                refs = relations_read(model.sql)
            except SqlError as err:
                errors.append(f"{model.path}: {err}")
                continue
            for ref in sorted(refs):
                target = cls._resolve(ref, models, sources)
                if target is None:
                    errors.append(
                        f"{model.path}: reads {ref}, which is neither a model in {root} nor a "
                        "source declared in a YAML 'sources:' block"
                    )
                elif target == model.name:
                    errors.append(f"{model.path}: model {model.name} reads itself")
                elif target in models:
                    model.depends_on.add(target)
                else:
                    model.sources.add(target)

    @classmethod
    def _apply_yaml(
        cls, root: Path, path: Path, kind: str, entry: dict[str, Any], models: dict[str, Model]
    ) -> None:
        if not isinstance(entry, dict) or "name" not in entry:
            raise ProjectError(f"{path}: every {kind} entry needs a name")
        name = str(entry["name"]).lower()
        if "." not in name:
            rel = path.parent.relative_to(root)
            schema = SEED_SCHEMA if kind == "seeds" else (rel.parts[0] if rel.parts else "")
            name = f"{schema}.{name}"
        model = models.get(name)
        if model is None:
            raise ProjectError(
                f"{path}: documents {kind[:-1]} {entry['name']!r}, but no {name} exists"
            )
        model.description = str(entry.get("description") or "").strip()
        config = entry.get("config") or {}
        materialized = config.get("materialized")
        if materialized:
            if model.materialized == "seed" or materialized not in ("view", "table", "incremental"):
                raise ProjectError(
                    f"{path}: {name}: materialized must be view|table|incremental (seeds are tables)"
                )
            model.materialized = materialized
        if model.materialized == "incremental":
            missing = [
                k for k in ("partition_by", "watermark", "changed_partitions") if not config.get(k)
            ]
            if missing:
                raise ProjectError(f"{path}: {name}: an incremental model needs config {missing}")
            model.incremental = Incremental(
                partition_by=str(config["partition_by"]),
                watermark=str(config["watermark"]),
                changed_partitions=str(config["changed_partitions"]),
                full_refresh_above=int(config.get("full_refresh_above", 31)),
            )
        model.column_types = {str(k): str(v) for k, v in (config.get("column_types") or {}).items()}
        for decl in entry.get("tests") or entry.get("data_tests") or []:
            test_kind, args = parse_declaration(decl)
            model.tests.append(compile_generic(test_kind, args, name, None, str(path)))
        for column in entry.get("columns") or []:
            cname = str(column["name"])
            model.columns[cname] = str(column.get("description") or "").strip()
            for decl in column.get("tests") or column.get("data_tests") or []:
                test_kind, args = parse_declaration(decl)
                model.tests.append(compile_generic(test_kind, args, name, cname, str(path)))

    @classmethod
    def _singular_test(
        cls, path: Path, models: dict[str, Model], sources: dict[str, Source]
    ) -> DataTest:
        text = path.read_text()
        sql = text.strip().rstrip(";").strip()
        reads = set()
        for ref in relations_read(sql):
            target = cls._resolve(ref, models, sources)
            if target is None:
                raise ProjectError(f"reads {ref}, which is neither a model nor a declared source")
            reads.add(target)
        attached = [r for r in reads if r in models]
        if not attached:
            raise ProjectError("a singular test must read at least one model")
        # attach to the model built last among those it reads (a leaf of the subgraph)
        order = {n: i for i, n in enumerate(cls._toposort(models))}
        model = max(attached, key=order.__getitem__)
        return DataTest(
            name=f"singular_{path.stem}",
            model=model,
            kind="singular",
            sql=sql,
            severity=singular_severity(text, str(path)),
            depends_on=reads,
            path=str(path),
        )

    @staticmethod
    def _toposort(models: dict[str, Model]) -> list[str]:
        # a model's tests may read other models (relationships): build those first too
        graph = {}
        for n, m in sorted(models.items()):
            test_reads = {d for t in m.tests for d in t.depends_on if d in models and d != n}
            graph[n] = sorted(m.depends_on | test_reads)
        sorter = graphlib.TopologicalSorter(graph)
        try:
            return list(sorter.static_order())
        except graphlib.CycleError as err:
            cycle = err.args[1]
            files = " -> ".join(f"{n} ({models[n].path})" for n in cycle)
            raise ProjectError(f"dependency cycle: {files}") from err

    # ------------------------------------------------------------------ graph queries
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
    ):
        from dbt_like.runner import build

        return build(
            self,
            con,
            self.select(select, exclude),
            run_tests=run_tests,
            log=log,
            full_refresh=full_refresh,
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
