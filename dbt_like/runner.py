"""Build models and run their data tests against a DuckDB warehouse.

``build`` walks the selected models in dependency order. Each model is materialised in its
own transaction (``CREATE OR REPLACE VIEW|TABLE ... AS <select>``), so a failing model
leaves its previous version in place. SQL models run inside DuckDB on a writer connection;
a Python model reads its inputs through readers, computes with no connection held and writes
its table in one short writer transaction (``dbt_like.session``). A column the YAML types
(``data_type``) must come out with that type, or the model fails. After a model builds, its tests run. A model whose
upstream model failed, was skipped, or has a failing ``error``-severity test is skipped
(dbt ``build`` semantics); ``warn`` tests never block.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from dbt_like.materialize import (  # noqa: F401  (re-exported: their home was this module)
    STATE_TABLE,
    _literal,
    _relation_type,
    materialize,
    materialize_incremental,
)
from dbt_like.python import ModelContext, load_module
from dbt_like.session import Session, as_session

if TYPE_CHECKING:
    from dbt_like.datatests import DataTest
    from dbt_like.project import Model, Project

logger = logging.getLogger("dbt_like")

SAMPLE_ROWS = 5


@dataclass
class ModelOutcome:
    name: str
    status: str  # success | error | skipped
    seconds: float = 0.0
    rows: int | None = None
    message: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)  # from a Python model's write()


@dataclass
class TestOutcome:
    name: str
    model: str
    severity: str
    status: str  # pass | fail | warn | error | skipped
    failures: int = 0
    message: str = ""
    seconds: float = 0.0

    __test__ = False

    @property
    def blocks(self) -> bool:
        return self.severity == "error" and self.status in ("fail", "error")


@dataclass
class BuildResult:
    models: dict[str, ModelOutcome] = field(default_factory=dict)
    tests: list[TestOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every model built and no error-severity test failed."""
        return all(m.status == "success" for m in self.models.values()) and not any(
            t.blocks for t in self.tests
        )

    def summary(self) -> str:
        def by(items, s):
            return sum(1 for i in items if i.status == s)

        ms, ts = list(self.models.values()), self.tests
        return (
            f"models: {by(ms, 'success')} built, {by(ms, 'error')} failed, {by(ms, 'skipped')} skipped; "
            f"tests: {by(ts, 'pass')} passed, {by(ts, 'fail')} failed, {by(ts, 'warn')} warned, "
            f"{by(ts, 'error')} errored, {by(ts, 'skipped')} skipped"
        )


def run_test(con, test: DataTest) -> TestOutcome:
    start = time.perf_counter()
    try:
        failures = con.execute(f"select count(*) from (\n{test.sql}\n) as failing").fetchone()[0]
        sample = ""
        if failures:
            cur = con.execute(f"select * from (\n{test.sql}\n) as failing limit {SAMPLE_ROWS}")
            cols = [d[0] for d in cur.description]
            rows = cur.fetchall()
            sample = "; ".join(", ".join(f"{c}={v!r}" for c, v in zip(cols, r)) for r in rows)
    except duckdb.Error as err:  # the test's SQL itself failed: report, counts as failing
        return TestOutcome(
            test.name,
            test.model,
            test.severity,
            "error",
            message=f"{test.path}: {err}",
            seconds=time.perf_counter() - start,
        )
    if failures == 0:
        status = "pass"
    else:
        status = "fail" if test.severity == "error" else "warn"
    message = f"{failures} failing row(s): {sample}" if failures else ""
    return TestOutcome(
        test.name,
        test.model,
        test.severity,
        status,
        int(failures),
        message,
        time.perf_counter() - start,
    )


def _log(log, level: int, msg: str) -> None:
    """``log`` is a logging.Logger or anything with its ``log(level, msg)`` (Dagster's)."""
    (log or logger).log(level, msg)


class _Writer:
    """One writer connection kept open across consecutive SQL models and closed before a
    Python model reads its inputs, so the writer is held for writes (and the tests that
    check them), never while a Python model computes."""

    def __init__(self, session: Session):
        self.session = session
        self._stack: contextlib.ExitStack | None = None
        self.con = None

    def get(self):
        if self.con is None:
            stack = contextlib.ExitStack()
            self.con = stack.enter_context(self.session.writing())
            self._stack = stack
        return self.con

    def close(self) -> None:
        stack, self._stack, self.con = self._stack, None, None
        if stack is not None:
            stack.close()


@dataclass
class _Build:
    project: Project
    session: Session
    writer: _Writer
    full_refresh: bool = False
    config: dict[str, Any] | None = None
    run_id: str = ""
    log: Any = None

    def materialize(self, model: Model) -> tuple[int | None, str, dict[str, Any]]:
        """Build one model; returns (rows, what was done, extra metadata)."""
        if model.language == "python":
            return self._python(model)
        if model.materialized == "incremental":
            rows, done = materialize_incremental(
                self.writer.get(),
                model,
                self.project.lineage_version(model.name),
                self.full_refresh,
            )
            return rows, done, {}
        return materialize(self.writer.get(), model), "", {}

    def _python(self, model: Model) -> tuple[int, str, dict[str, Any]]:
        self.writer.close()  # read, compute, then write: no writer held while computing
        module = load_module(model.name, model.path)
        ctx = ModelContext(
            name=model.name,
            allowed=model.reads,
            reader=self.session.reading,
            replace_table=self.session.replace_table,
            config=dict(self.config or {}),
            run_id=self.run_id,
            log=self.log or logger,
        )
        start = time.perf_counter()
        frame = module.model(ctx)
        computed = time.perf_counter() - start
        con = self.writer.get()
        custom = getattr(module, "write", None)
        if custom is not None:
            meta = dict(custom(ctx, con, frame) or {})
        else:
            ctx.replace(con, frame)
            meta = {}
        return frame.height, f"computed in {computed:.2f}s", meta


def check_types(con, model: Model) -> str:
    """'' when every column the YAML types (``data_type``) exists with that type, else what
    differs (the YAML is where readers take the types from, so it must be true)."""
    if not model.data_types:
        return ""
    schema, table = model.name.split(".")
    actual = {
        c: t.upper()
        for c, t in con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = ? and table_name = ?",
            [schema, table],
        ).fetchall()
    }
    wrong = [
        f"{c} is {actual.get(c, 'missing')}, YAML says {t}"
        for c, t in model.data_types.items()
        if actual.get(c) != t
    ]
    return "; ".join(wrong)


def _skip_tests(result: BuildResult, model: Model, why: str) -> None:
    for test in model.tests:
        result.tests.append(
            TestOutcome(test.name, model.name, test.severity, "skipped", message=why)
        )


def _run_model_tests(
    con, model: Model, result: BuildResult, selected: set[str], log
) -> TestOutcome | None:
    """Run the model's tests; returns the first blocking failure."""
    blocking = None
    for test in model.tests:
        missing = [
            d
            for d in test.depends_on
            if d in selected
            and d != model.name
            and result.models.get(d, None) is not None
            and result.models[d].status != "success"
        ]
        if missing:
            result.tests.append(
                TestOutcome(
                    test.name,
                    model.name,
                    test.severity,
                    "skipped",
                    message=f"needs {', '.join(missing)}",
                )
            )
            continue
        t = run_test(con, test)
        result.tests.append(t)
        _log_test(log, t, "    ")
        if t.blocks and blocking is None:
            blocking = t
    return blocking


def _log_test(log, t: TestOutcome, indent: str = "") -> None:
    level = (
        logging.INFO
        if t.status == "pass"
        else logging.WARNING
        if t.status == "warn"
        else logging.ERROR
    )
    _log(
        log,
        level,
        f"{indent}test {t.status.upper()} {t.name}{'' if t.status == 'pass' else ': ' + t.message}",
    )


def build(
    project: Project,
    con,
    selected: list[str],
    run_tests: bool = True,
    log=None,
    full_refresh: bool = False,
    config: dict[str, Any] | None = None,
    run_id: str = "",
) -> BuildResult:
    """Build ``selected`` (in graph order) and run their tests; see the module docstring."""
    session = as_session(con)
    job = _Build(project, session, _Writer(session), full_refresh, config, run_id, log)
    try:
        return _build_all(job, selected, run_tests, log)
    finally:
        job.writer.close()


def _build_all(job: _Build, selected: list[str], run_tests: bool, log) -> BuildResult:
    result = BuildResult()
    blocked_by: dict[str, str] = {}  # model -> why its dependants must not build
    selected_set = set(selected)
    total = len(selected)
    for i, name in enumerate(selected, 1):
        model = job.project.models[name]
        upstream_problems = [
            f"{d} ({blocked_by[d]})" for d in sorted(model.depends_on) if d in blocked_by
        ]
        if upstream_problems:
            result.models[name] = ModelOutcome(
                name, "skipped", message="upstream: " + "; ".join(upstream_problems)
            )
            blocked_by[name] = "skipped"
            _skip_tests(result, model, "model skipped")
            _log(log, logging.WARNING, f"[{i}/{total}] SKIP {name}: {result.models[name].message}")
            continue
        outcome = _build_one(job, model)
        result.models[name] = outcome
        if outcome.status != "success":
            blocked_by[name] = "failed"
            _log(log, logging.ERROR, f"[{i}/{total}] ERROR {name}: {outcome.message}")
            _skip_tests(result, model, "model failed")
            continue
        rows, done = outcome.rows, outcome.message
        _log(
            log,
            logging.INFO,
            f"[{i}/{total}] OK {model.materialized} {name}"
            f"{'' if rows is None else f' ({rows} rows)'}{f', {done}' if done else ''} "
            f"in {outcome.seconds:.2f}s",
        )
        if run_tests:
            failed = _run_model_tests(job.writer.get(), model, result, selected_set, log)
            if failed is not None:
                blocked_by[name] = f"test {failed.name} failed"
    return result


def _build_one(job: _Build, model: Model) -> ModelOutcome:
    start = time.perf_counter()
    # a Python model's own code may raise anything (a missing column, a polars error): that
    # is this model failing, reported like a SQL error, not the whole build crashing
    errors = (Exception,) if model.language == "python" else (duckdb.Error,)
    try:
        rows, done, meta = job.materialize(model)
        wrong = check_types(job.writer.get(), model)
    except errors as err:
        return ModelOutcome(
            model.name,
            "error",
            time.perf_counter() - start,
            message=f"{model.path}: {type(err).__name__}: {err}"
            if model.language == "python"
            else f"{model.path}: {err}",
        )
    if wrong:
        return ModelOutcome(
            model.name,
            "error",
            time.perf_counter() - start,
            rows,
            message=f"{model.path}: column types differ from the YAML: {wrong}",
        )
    return ModelOutcome(model.name, "success", time.perf_counter() - start, rows, done, meta)


def run_tests_only(project: Project, con, selected: list[str], log=None) -> BuildResult:
    """Run the selected models' tests against what is in the warehouse (a reader)."""
    result = BuildResult()
    with as_session(con).reading() as c:
        for name in selected:
            for test in project.models[name].tests:
                t = run_test(c, test)
                result.tests.append(t)
                _log_test(log, t)
    return result
