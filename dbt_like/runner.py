"""Build models and run their data tests against a DuckDB connection.

``build`` walks the selected models in dependency order. Each model is materialised in its
own transaction (``CREATE OR REPLACE VIEW|TABLE ... AS <select>``), so a failing model
leaves its previous version in place. After a model builds, its tests run. A model whose
upstream model failed, was skipped, or has a failing ``error``-severity test is skipped
(dbt ``build`` semantics); ``warn`` tests never block.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

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


def _relation_type(con, name: str) -> str | None:
    schema, table = name.split(".")
    row = con.execute(
        "select table_type from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    if row is None:
        return None
    return "view" if row[0] == "VIEW" else "table"


def _on_ducklake(con) -> bool:
    row = con.execute(
        "select type from duckdb_databases() where database_name = current_database()"
    ).fetchone()
    return bool(row) and row[0] == "ducklake"


def materialize(con, model: Model) -> int | None:
    """Create or replace one model in one transaction; return its row count (tables)."""
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {model.schema}")
        kind = "view" if model.materialized == "view" else "table"
        existing = _relation_type(con, model.name)
        if existing and existing != kind:
            con.execute(f"drop {existing} {model.name}")
        if model.materialized == "seed":
            path = str(model.path).replace("'", "''")
            types = ""
            if model.column_types:
                pairs = ", ".join(f"'{c}': '{t}'" for c, t in model.column_types.items())
                types = f", types = {{{pairs}}}"
            body = f"select * from read_csv('{path}', header = true, auto_detect = true{types})"
        else:
            body = model.sql
        con.execute(f"create or replace {kind} {model.name} as\n{body}")
        rows = None
        if kind == "table":
            rows = con.execute(f"select count(*) from {model.name}").fetchone()[0]
        con.execute("commit")
        return rows
    except BaseException:
        con.execute("rollback")
        raise


STATE_TABLE = "_dbt_like.incremental_state"


def _literal(value) -> str:
    """A partition value as a SQL literal (a literal, not a parameter: DuckDB pushes
    ``col = <literal>`` down through the model's views to the scan, not ``col = ?``)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return (
            f"TIMESTAMPTZ '{value.isoformat()}'"
            if value.tzinfo
            else f"TIMESTAMP '{value.isoformat()}'"
        )
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


def materialize_incremental(
    con, model: Model, lineage: str, full_refresh: bool = False
) -> tuple[int, str]:
    """Build an incremental model in one transaction: in full the first time, when its SQL or
    anything upstream changed (``lineage``), on ``full_refresh``, or when more partitions
    changed than ``full_refresh_above``; otherwise delete and re-insert only the partitions
    loaded since the stored watermark. Returns (rows, what was done)."""
    inc = model.incremental
    assert inc is not None
    con.execute("begin transaction")
    try:
        con.execute(f"create schema if not exists {model.schema}")
        con.execute("create schema if not exists _dbt_like")
        # DuckLake has no PRIMARY KEY constraints; the delete-then-insert below keeps one row
        # per model either way
        key = "" if _on_ducklake(con) else " primary key"
        con.execute(
            f"create table if not exists {STATE_TABLE} "
            f"(model varchar{key}, lineage varchar, watermark varchar, built_at timestamptz)"
        )
        existing = _relation_type(con, model.name)
        state = con.execute(
            f"select lineage, watermark from {STATE_TABLE} where model = ?", [model.name]
        ).fetchone()
        new_watermark = con.execute(inc.watermark).fetchone()[0]
        why_full = (
            "full refresh asked"
            if full_refresh
            else "first build"
            if existing != "table" or state is None
            else "its SQL or an upstream model changed"
            if state[0] != lineage
            else "no watermark stored"
            if state[1] is None
            else ""
        )
        changed: list = []
        if not why_full:
            changed = [r[0] for r in con.execute(inc.changed_partitions, [state[1]]).fetchall()]
            if len(changed) > inc.full_refresh_above:
                why_full = f"{len(changed)} partitions changed (> {inc.full_refresh_above})"
        if why_full:
            if existing and existing != "table":
                con.execute(f"drop {existing} {model.name}")
            con.execute(f"create or replace table {model.name} as\n{model.sql}")
            done = f"full build: {why_full}"
        else:
            col = inc.partition_by
            for value in changed:
                cond = f"{col} is null" if value is None else f"{col} = {_literal(value)}"
                con.execute(f"delete from {model.name} where {cond}")
                con.execute(
                    f"insert into {model.name} select * from (\n{model.sql}\n) as m where {cond}"
                )
            done = f"incremental: {len(changed)} {col} partition(s) rebuilt"
        con.execute(f"delete from {STATE_TABLE} where model = ?", [model.name])
        con.execute(
            f"insert into {STATE_TABLE} values (?, ?, ?, now())",
            [model.name, lineage, None if new_watermark is None else str(new_watermark)],
        )
        rows = con.execute(f"select count(*) from {model.name}").fetchone()[0]
        con.execute("commit")
        return rows, done
    except BaseException:
        con.execute("rollback")
        raise


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


def build(
    project: Project,
    con,
    selected: list[str],
    run_tests: bool = True,
    log=None,
    full_refresh: bool = False,
) -> BuildResult:
    result = BuildResult()
    blocked_by: dict[str, str] = {}  # model -> why its dependants must not build
    selected_set = set(selected)
    total = len(selected)
    for i, name in enumerate(selected, 1):
        model = project.models[name]
        upstream_problems = [
            f"{d} ({blocked_by[d]})" for d in sorted(model.depends_on) if d in blocked_by
        ]
        if upstream_problems:
            result.models[name] = ModelOutcome(
                name, "skipped", message="upstream: " + "; ".join(upstream_problems)
            )
            blocked_by[name] = "skipped"
            for test in model.tests:
                result.tests.append(
                    TestOutcome(test.name, name, test.severity, "skipped", message="model skipped")
                )
            _log(log, logging.WARNING, f"[{i}/{total}] SKIP {name}: {result.models[name].message}")
            continue
        start = time.perf_counter()
        done = ""
        try:
            if model.materialized == "incremental":
                rows, done = materialize_incremental(
                    con, model, project.lineage_version(name), full_refresh
                )
            else:
                rows = materialize(con, model)
        except duckdb.Error as err:
            outcome = ModelOutcome(
                name, "error", time.perf_counter() - start, message=f"{model.path}: {err}"
            )
            result.models[name] = outcome
            blocked_by[name] = "failed"
            _log(log, logging.ERROR, f"[{i}/{total}] ERROR {name}: {outcome.message}")
            for test in model.tests:
                result.tests.append(
                    TestOutcome(test.name, name, test.severity, "skipped", message="model failed")
                )
            continue
        outcome = ModelOutcome(name, "success", time.perf_counter() - start, rows, message=done)
        result.models[name] = outcome
        _log(
            log,
            logging.INFO,
            f"[{i}/{total}] OK {model.materialized} {name}"
            f"{'' if rows is None else f' ({rows} rows)'}{f', {done}' if done else ''} in {outcome.seconds:.2f}s",
        )
        if not run_tests:
            continue
        for test in model.tests:
            missing = [
                d
                for d in test.depends_on
                if d in selected_set
                and d != name
                and result.models.get(d, None) is not None
                and result.models[d].status != "success"
            ]
            if missing:
                result.tests.append(
                    TestOutcome(
                        test.name,
                        name,
                        test.severity,
                        "skipped",
                        message=f"needs {', '.join(missing)}",
                    )
                )
                continue
            t = run_test(con, test)
            result.tests.append(t)
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
                f"    test {t.status.upper()} {t.name}"
                f"{'' if t.status == 'pass' else ': ' + t.message}",
            )
            if t.blocks:
                blocked_by[name] = f"test {t.name} failed"
    return result


def run_tests_only(project: Project, con, selected: list[str], log=None) -> BuildResult:
    result = BuildResult()
    for name in selected:
        for test in project.models[name].tests:
            t = run_test(con, test)
            result.tests.append(t)
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
                f"test {t.status.upper()} {t.name}{'' if t.status == 'pass' else ': ' + t.message}",
            )
    return result
