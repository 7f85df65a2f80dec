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
from dbt_like.python import PythonModelError, refs_in_source

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
    sql: str  # for a seed or a Python model: ""
    materialized: str  # view | table | incremental | seed
    language: str = "sql"  # sql | python
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    data_types: dict[str, str] = field(default_factory=dict)  # column -> declared type
    column_types: dict[str, str] = field(default_factory=dict)  # seeds: forced CSV types
    depends_on: set[str] = field(default_factory=set)  # models
    sources: set[str] = field(default_factory=set)  # declared sources read
    refs: set[str] = field(default_factory=set)  # Python: relations named in the file / YAML
    tests: list[DataTest] = field(default_factory=list)
    code_version: str = ""
    incremental: Incremental | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".")[1]

    @property
    def reads(self) -> set[str]:
        """Every relation (model or source) the model may read."""
        return self.depends_on | self.sources


@dataclass
class Source:
    name: str  # schema.table
    description: str = ""


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


class _Loader:
    """Reads one project folder; collects every error so one load reports them all."""

    def __init__(self, root: Path):
        self.root = root
        self.models: dict[str, Model] = {}
        self.sources: dict[str, Source] = {}
        self.declarations: list[tuple[Path, str, dict[str, Any]]] = []
        self.errors: list[str] = []

    def model_files(self) -> None:
        for path in sorted([*self.root.rglob("*.sql"), *self.root.rglob("*.py")]):
            rel = path.relative_to(self.root)
            if rel.parts[0] == TESTS_DIR or path.name.startswith("_"):
                continue
            if len(rel.parts) < 2:
                self.errors.append(
                    f"{path}: a model must live in a layer folder (staging/, marts/, ...)"
                )
                continue
            schema, name = rel.parts[0].lower(), path.stem.lower()
            full = f"{schema}.{name}"
            if full in self.models:
                self.errors.append(
                    f"{path}: model {full} is also defined in {self.models[full].path}"
                )
                continue
            text = path.read_text()
            if path.suffix == ".py":
                self.models[full] = self._python_model(full, path, text)
            else:
                self.models[full] = Model(
                    name=full,
                    path=path,
                    sql=text.strip().rstrip(";").strip(),
                    materialized="view" if schema in VIEW_LAYERS else "table",
                    code_version=_hash(text.encode()),
                )

    def _python_model(self, full: str, path: Path, text: str) -> Model:
        try:
            refs = refs_in_source(text, str(path))
        except PythonModelError as err:
            self.errors.append(str(err))
            refs = set()
        return Model(
            name=full,
            path=path,
            sql="",
            materialized="table",
            language="python",
            refs=refs,
            code_version=_hash(text.encode()),
        )

    def seeds(self) -> None:
        folder = self.root / SEED_SCHEMA
        for path in sorted(folder.glob("*.csv")) if folder.is_dir() else []:
            full = f"{SEED_SCHEMA}.{path.stem.lower()}"
            self.models[full] = Model(
                name=full,
                path=path,
                sql="",
                materialized="seed",
                code_version=_hash(path.read_bytes()),
            )

    def yaml_files(self) -> None:
        for path in sorted([*self.root.rglob("*.yml"), *self.root.rglob("*.yaml")]):
            try:
                doc = yaml.safe_load(path.read_text()) or {}
            except yaml.YAMLError as err:
                self.errors.append(f"{path}: invalid YAML: {err}")
                continue
            for src in doc.get("sources") or []:
                for table in src.get("tables") or []:
                    tname = table["name"] if isinstance(table, dict) else str(table)
                    full = f"{src['name']}.{tname}".lower()
                    desc = table.get("description", "") if isinstance(table, dict) else ""
                    self.sources[full] = Source(full, desc)
            for kind in ("models", "seeds"):
                for entry in doc.get(kind) or []:
                    self.declarations.append((path, kind, entry))

    def apply_yaml(self) -> None:
        for path, kind, entry in self.declarations:
            try:
                _apply_yaml(self.root, path, kind, entry, self.models)
            except (TestDeclarationError, ProjectError) as err:
                self.errors.append(str(err))

    def resolve(self, ref: str) -> str | None:
        return _resolve(ref, self.models, self.sources)

    def dependencies(self) -> None:
        for model in self.models.values():
            if model.materialized == "seed":
                continue
            if model.language == "python":
                refs = model.refs
            else:
                try:
                    refs = relations_read(model.sql)
                except SqlError as err:
                    self.errors.append(f"{model.path}: {err}")
                    continue
            for ref in sorted(refs):
                self._add_dependency(model, ref)

    def _add_dependency(self, model: Model, ref: str) -> None:
        target = self.resolve(ref)
        if target is None:
            self.errors.append(
                f"{model.path}: reads {ref}, which is neither a model in {self.root} nor a "
                "source declared in a YAML 'sources:' block"
            )
        elif target == model.name:
            self.errors.append(f"{model.path}: model {model.name} reads itself")
        elif target in self.models:
            model.depends_on.add(target)
        else:
            model.sources.add(target)

    def test_references(self) -> None:
        for model in self.models.values():
            for test in model.tests:
                resolved = set()
                for ref in test.depends_on:
                    target = self.resolve(ref)
                    if target is None:
                        self.errors.append(
                            f"{test.path}: test {test.name} reads {ref}, which is neither "
                            "a model nor a declared source"
                        )
                        continue
                    resolved.add(target)
                    if target != ref:
                        test.sql = test.sql.replace(f" {ref} as parent", f" {target} as parent")
                test.depends_on = resolved

    def singular_tests(self) -> list[DataTest]:
        singular: list[DataTest] = []
        tests_dir = self.root / TESTS_DIR
        for path in sorted(tests_dir.rglob("*.sql")) if tests_dir.is_dir() else []:
            try:
                singular.append(_singular_test(path, self.models, self.sources))
            except (SqlError, TestDeclarationError, ProjectError) as err:
                self.errors.append(f"{path}: {err}")
        return singular


def _resolve(ref: str, models: dict[str, Model], sources: dict[str, Source]) -> str | None:
    if ref in models or ref in sources:
        return ref
    if "." in ref:
        return None
    candidates = [n for n in [*models, *sources] if n.split(".")[-1] == ref]
    return candidates[0] if len(candidates) == 1 else None


def _yaml_model(
    root: Path, path: Path, kind: str, entry: dict[str, Any], models: dict[str, Model]
) -> Model:
    if not isinstance(entry, dict) or "name" not in entry:
        raise ProjectError(f"{path}: every {kind} entry needs a name")
    name = str(entry["name"]).lower()
    if "." not in name:
        rel = path.parent.relative_to(root)
        schema = SEED_SCHEMA if kind == "seeds" else (rel.parts[0] if rel.parts else "")
        name = f"{schema}.{name}"
    model = models.get(name)
    if model is None:
        raise ProjectError(f"{path}: documents {kind[:-1]} {entry['name']!r}, but no {name} exists")
    return model


def _apply_config(path: Path, model: Model, config: dict[str, Any]) -> None:
    name = model.name
    materialized = config.get("materialized")
    if materialized:
        allowed = ("table",) if model.language == "python" else ("view", "table", "incremental")
        if model.materialized == "seed" or materialized not in allowed:
            raise ProjectError(
                f"{path}: {name}: materialized must be {'|'.join(allowed)} (seeds are tables)"
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


def _apply_yaml(
    root: Path, path: Path, kind: str, entry: dict[str, Any], models: dict[str, Model]
) -> None:
    model = _yaml_model(root, path, kind, entry, models)
    name = model.name
    model.description = str(entry.get("description") or "").strip()
    model.meta = dict(entry.get("meta") or {})
    _apply_config(path, model, entry.get("config") or {})
    depends_on = entry.get("depends_on") or []
    if depends_on and model.language != "python":
        raise ProjectError(
            f"{path}: {name}: depends_on is for Python models (a SQL model's inputs are "
            "what its SELECT reads)"
        )
    model.refs |= {str(d).lower() for d in depends_on}
    for decl in entry.get("tests") or entry.get("data_tests") or []:
        test_kind, args = parse_declaration(decl)
        model.tests.append(compile_generic(test_kind, args, name, None, str(path)))
    for column in entry.get("columns") or []:
        cname = str(column["name"])
        model.columns[cname] = str(column.get("description") or "").strip()
        if column.get("data_type"):
            model.data_types[cname] = str(column["data_type"]).upper()
        for decl in column.get("tests") or column.get("data_tests") or []:
            test_kind, args = parse_declaration(decl)
            model.tests.append(compile_generic(test_kind, args, name, cname, str(path)))


def _singular_test(path: Path, models: dict[str, Model], sources: dict[str, Source]) -> DataTest:
    text = path.read_text()
    sql = text.strip().rstrip(";").strip()
    reads = set()
    for ref in relations_read(sql):
        target = _resolve(ref, models, sources)
        if target is None:
            raise ProjectError(f"reads {ref}, which is neither a model nor a declared source")
        reads.add(target)
    attached = [r for r in reads if r in models]
    if not attached:
        raise ProjectError("a singular test must read at least one model")
    # attach to the model built last among those it reads (a leaf of the subgraph)
    order = {n: i for i, n in enumerate(Project._toposort(models))}
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
        loader = _Loader(root)
        loader.model_files()
        loader.seeds()
        loader.yaml_files()
        loader.apply_yaml()  # before dependencies: a Python model's depends_on is in the YAML
        loader.dependencies()
        loader.test_references()
        singular = loader.singular_tests()
        if loader.errors:
            raise ProjectError("dbt_like project errors:\n  " + "\n  ".join(loader.errors))
        project = cls(root, loader.models, loader.sources, singular)
        for test in singular:
            project.models[test.model].tests.append(test)
        return project

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
