"""Reading a project folder: model files, seeds, YAML docs and tests, dependencies.

``load_parts(root)`` returns the models, sources and singular tests of ``root`` or raises one
``ProjectError`` listing every problem found (bad SQL, unknown relation, bad YAML ...).
"""

from __future__ import annotations

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
from dbt_like.model import (
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
from dbt_like.python import PythonModelError, refs_in_source


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
    order = {n: i for i, n in enumerate(toposort(models))}
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


def load_parts(root: Path) -> tuple[dict[str, Model], dict[str, Source], list[DataTest]]:
    """Models, sources and singular tests of the project folder ``root``."""
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
    return loader.models, loader.sources, singular
