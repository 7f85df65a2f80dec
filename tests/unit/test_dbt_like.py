"""dbt_like: dependency extraction, ordering, errors, data tests and build semantics, on small
projects written into tmp_path (and the real sql/ project's graph)."""

from __future__ import annotations

import textwrap
from pathlib import Path

import duckdb
import pytest

from dbt_like import Project, ProjectError, SqlError, relations_read
from dbt_like.__main__ import main as dbt_like_main
from pipelines.lib.config import REPO_ROOT


def write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return root


SOURCES = """
sources:
  - name: raw
    tables: [{name: events}, {name: other}]
"""


@pytest.fixture
def con():
    c = duckdb.connect()
    c.execute("create schema raw")
    c.execute(
        "create table raw.events as select * from (values (1, 'a', 10.0), (2, 'b', 20.0), "
        "(3, 'b', 30.0)) t(id, kind, amount)"
    )
    yield c
    c.close()


# ---------------------------------------------------------------- dependency extraction


def test_cte_names_shadow_tables_and_are_not_dependencies():
    sql = """
    with events as (select * from raw.events),
         b as (select * from events join staging.kinds k using (kind))
    select * from b
    """
    assert relations_read(sql) == {"raw.events", "staging.kinds"}


def test_subqueries_lateral_set_operations_and_where_in():
    sql = """
    select * from (select id from staging.a) s
    where s.id in (select id from marts.b)
    union all
    select id from intermediate.c, lateral (select 1 as one) l
    """
    assert relations_read(sql) == {"staging.a", "marts.b", "intermediate.c"}


def test_table_functions_are_not_relations():
    sql = "select * from staging.x, range(x.n) as r(i) union all select * from read_csv('f.csv')"
    assert relations_read(sql) == {"staging.x"}


def test_qualified_and_bare_names_are_kept_as_written():
    assert relations_read("select * from Staging.Foo join bar using (id)") == {"staging.foo", "bar"}


def test_non_select_is_refused():
    with pytest.raises(SqlError, match="expected a SELECT"):
        relations_read("delete from raw.events")
    with pytest.raises(SqlError, match="exactly one"):
        relations_read("select 1; select 2")


# ---------------------------------------------------------------- project loading


def test_order_materialization_and_bare_name_resolution(tmp_path):
    root = write(
        tmp_path / "sql",
        {
            "_sources.yml": SOURCES,
            "marts/m_total.sql": "select kind, sum(amount) as total from stg_events group by kind",
            "staging/stg_events.sql": "select * from raw.events",
            "intermediate/int_kinds.sql": "select distinct kind from staging.stg_events",
            "marts/m_kinds.sql": "select * from intermediate.int_kinds join marts.m_total using (kind)",
        },
    )
    project = Project.load(root)
    order = list(project.models)
    assert (
        order.index("staging.stg_events")
        < order.index("marts.m_total")
        < order.index("marts.m_kinds")
    )
    assert order.index("intermediate.int_kinds") < order.index("marts.m_kinds")
    assert project.models["marts.m_total"].depends_on == {"staging.stg_events"}
    assert project.models["staging.stg_events"].sources == {"raw.events"}
    assert project.models["staging.stg_events"].materialized == "view"
    assert project.models["intermediate.int_kinds"].materialized == "view"
    assert project.models["marts.m_kinds"].materialized == "table"
    assert len(project.models["marts.m_total"].code_version) == 16


def test_cycle_is_an_error_naming_the_files(tmp_path):
    root = write(
        tmp_path / "sql",
        {
            "marts/a.sql": "select * from marts.b",
            "marts/b.sql": "select * from marts.a",
        },
    )
    with pytest.raises(ProjectError, match=r"dependency cycle: .*marts[./]a.*marts[./]b") as err:
        Project.load(root)
    assert "a.sql" in str(err.value) and "b.sql" in str(err.value)


def test_missing_relation_is_an_error_naming_the_file(tmp_path):
    root = write(
        tmp_path / "sql",
        {
            "_sources.yml": SOURCES,
            "marts/a.sql": "select * from raw.events join marts.nope using (id)",
        },
    )
    with pytest.raises(ProjectError, match=r"a\.sql: reads marts\.nope, which is neither"):
        Project.load(root)


def test_yaml_for_a_missing_model_and_unknown_test_are_errors(tmp_path):
    root = write(
        tmp_path / "sql",
        {
            "_sources.yml": SOURCES,
            "marts/a.sql": "select * from raw.events",
            "marts/_marts.yml": """
            models:
              - name: a
                columns:
                  - name: id
                    tests: [is_positive]
              - name: typo
        """,
        },
    )
    with pytest.raises(ProjectError) as err:
        Project.load(root)
    assert "unknown test 'is_positive'" in str(err.value)
    assert "no marts.typo exists" in str(err.value)


def test_code_version_changes_with_the_sql(tmp_path):
    files = {"_sources.yml": SOURCES, "marts/a.sql": "select * from raw.events"}
    v1 = Project.load(write(tmp_path / "one", files)).models["marts.a"].code_version
    files["marts/a.sql"] = "select id from raw.events"
    v2 = Project.load(write(tmp_path / "two", files)).models["marts.a"].code_version
    assert v1 != v2


# ---------------------------------------------------------------- data tests + build

TESTED = {
    "_sources.yml": SOURCES,
    "staging/stg_events.sql": "select * from raw.events",
    "marts/by_kind.sql": "select kind, count(*) as n, sum(amount) as total from staging.stg_events group by kind",
    "marts/report.sql": "select * from marts.by_kind where n > 0",
    "marts/_marts.yml": """
        models:
          - name: by_kind
            description: Events per kind.
            columns:
              - name: kind
                description: The kind.
                tests:
                  - not_null
                  - unique
                  - accepted_values: {values: [a, b]}
              - name: total
                tests:
                  - accepted_range: {min_value: 0, max_value: 100}
            tests:
              - expression_is_true: {expression: "total > 0"}
              - not_empty
    """,
}


def test_every_generic_test_passes_on_good_data(tmp_path, con):
    project = Project.load(write(tmp_path / "sql", TESTED))
    result = project.build(con)
    assert result.ok, result.summary()
    assert {m: o.status for m, o in result.models.items()} == {
        "staging.stg_events": "success",
        "marts.by_kind": "success",
        "marts.report": "success",
    }
    assert result.models["marts.by_kind"].rows == 2
    assert result.models["staging.stg_events"].rows is None  # a view: not counted
    assert sorted(t.name for t in result.tests) == sorted(
        [
            "not_null_by_kind_kind",
            "unique_by_kind_kind",
            "accepted_values_by_kind_kind",
            "accepted_range_by_kind_total",
            "not_empty_by_kind",
            next(
                t.name
                for t in result.tests
                if t.name.startswith("expression_is_true_by_kind_total_0_")
            ),
        ]
    )
    assert all(t.status == "pass" for t in result.tests)
    kinds = con.execute(
        "select table_name, table_type from information_schema.tables "
        "where table_schema in ('staging', 'marts') order by 1"
    ).fetchall()
    assert kinds == [("by_kind", "BASE TABLE"), ("report", "BASE TABLE"), ("stg_events", "VIEW")]


def test_failing_error_test_blocks_downstream_and_reports_rows(tmp_path, con):
    con.execute("insert into raw.events values (4, 'c', 5.0)")  # 'c' is not an accepted value
    project = Project.load(write(tmp_path / "sql", TESTED))
    result = project.build(con)
    assert not result.ok
    failed = {t.name: t for t in result.tests if t.status != "pass"}
    assert list(failed) == ["accepted_values_by_kind_kind"]
    assert failed["accepted_values_by_kind_kind"].failures == 1
    assert "value='c'" in failed["accepted_values_by_kind_kind"].message
    assert result.models["marts.by_kind"].status == "success"  # built, but its test failed
    assert result.models["marts.report"].status == "skipped"
    assert "accepted_values_by_kind_kind" in result.models["marts.report"].message


def test_failing_warn_test_does_not_block(tmp_path, con):
    files = dict(TESTED)
    files["marts/_marts.yml"] = TESTED["marts/_marts.yml"].replace(
        "accepted_values: {values: [a, b]}", "accepted_values: {values: [a], severity: warn}"
    )
    result = Project.load(write(tmp_path / "sql", files)).build(con)
    assert result.ok
    warned = [t for t in result.tests if t.status == "warn"]
    assert [(t.name, t.failures) for t in warned] == [("accepted_values_by_kind_kind", 1)]
    assert result.models["marts.report"].status == "success"


def test_row_condition_and_composite_unique_and_relationships(tmp_path, con):
    con.execute("create table raw.other as select * from (values ('a'), ('z')) t(kind)")
    files = {
        "_sources.yml": SOURCES,
        "staging/stg_events.sql": "select * from raw.events",
        "staging/stg_other.sql": "select * from raw.other",
        "staging/_staging.yml": """
            models:
              - name: stg_events
                columns:
                  - name: kind
                    tests:
                      - relationships: {to: staging.stg_other, field: kind}
                      - unique: {row_condition: "kind = 'a'"}
                tests:
                  - unique: {columns: [kind, amount]}
                  - expression_is_true: {expression: "amount < 25", where: "kind = 'b'", severity: warn}
        """,
    }
    result = Project.load(write(tmp_path / "sql", files)).build(con)
    outcome = {t.name.split("__where")[0]: (t.status, t.failures) for t in result.tests}
    rel = next(k for k in outcome if k.startswith("relationships"))
    assert outcome[rel] == ("fail", 1)  # kind 'b' is not in stg_other
    assert outcome["unique_stg_events_kind"] == ("pass", 0)  # only kind 'a' rows are tested
    assert outcome["unique_stg_events_kind__amount"] == ("pass", 0)
    expr = next(k for k in outcome if k.startswith("expression_is_true"))
    assert outcome[expr] == ("warn", 1)  # the 'b' row with 30.0


def test_model_error_keeps_previous_version_and_skips_downstream(tmp_path, con):
    root = write(tmp_path / "sql", TESTED)
    Project.load(root).build(con)
    (root / "marts/by_kind.sql").write_text(
        "select kind, count(*) as n, sum(nope) as total from staging.stg_events group by kind"
    )
    result = Project.load(root).build(con)
    assert result.models["marts.by_kind"].status == "error"
    assert "by_kind.sql" in result.models["marts.by_kind"].message
    assert "nope" in result.models["marts.by_kind"].message
    assert result.models["marts.report"].status == "skipped"
    assert con.execute("select count(*) from marts.by_kind").fetchone() == (
        2,
    )  # old version intact


def test_singular_tests_attach_to_the_last_model_they_read(tmp_path, con):
    files = dict(TESTED)
    files["tests/assert_totals_match.sql"] = """
        -- severity: warn
        select r.kind from marts.report r join staging.stg_events e using (kind)
        group by r.kind, r.total having sum(e.amount) <> r.total + 1
    """
    project = Project.load(write(tmp_path / "sql", files))
    singular = [t for t in project.models["marts.report"].tests if t.kind == "singular"]
    assert [(t.name, t.severity, sorted(t.depends_on)) for t in singular] == [
        ("singular_assert_totals_match", "warn", ["marts.report", "staging.stg_events"])
    ]
    result = project.build(con)
    t = next(t for t in result.tests if t.name == "singular_assert_totals_match")
    assert (t.status, t.failures) == ("warn", 2)  # every kind's total is off by the +1


def test_materialization_can_change_between_builds(tmp_path, con):
    root = write(tmp_path / "sql", TESTED)
    Project.load(root).build(con)
    (root / "staging/_staging.yml").write_text(
        "models:\n  - name: stg_events\n    config: {materialized: table}\n"
    )
    result = Project.load(root).build(con, select=["staging.stg_events"])
    assert result.models["staging.stg_events"].rows == 3
    assert con.execute(
        "select table_type from information_schema.tables where table_name = 'stg_events'"
    ).fetchone() == ("BASE TABLE",)


def test_selectors(tmp_path):
    project = Project.load(write(tmp_path / "sql", TESTED))
    assert project.select(["by_kind"]) == ["marts.by_kind"]
    assert project.select(["+marts.by_kind"]) == ["staging.stg_events", "marts.by_kind"]
    assert project.select(["stg_events+"]) == [
        "staging.stg_events",
        "marts.by_kind",
        "marts.report",
    ]
    assert project.select(["marts.*"], exclude=["report"]) == ["marts.by_kind"]
    with pytest.raises(ProjectError, match="matches no model"):
        project.select(["by_knd"])


def test_selected_build_only_touches_selection(tmp_path, con):
    project = Project.load(write(tmp_path / "sql", TESTED))
    project.build(con)
    result = project.build(con, select=["marts.report"])
    assert list(result.models) == ["marts.report"]
    assert result.tests == []


def test_seed_loads_csv_with_declared_types(tmp_path, con):
    files = {
        "seeds/specs.csv": "gpu,launch,tflops\nH100,2022-09-20,989.4\nA100,2020-05-14,312\n",
        "seeds/_seeds.yml": """
            seeds:
              - name: specs
                config: {column_types: {launch: VARCHAR}}
                columns:
                  - name: gpu
                    tests: [unique]
        """,
        "marts/fast.sql": "select gpu from seeds.specs where tflops > 500",
    }
    project = Project.load(write(tmp_path / "sql", files))
    assert project.models["marts.fast"].depends_on == {"seeds.specs"}
    result = project.build(con)
    assert result.ok
    assert result.models["seeds.specs"].rows == 2
    assert con.execute(
        "select typeof(launch), typeof(tflops) from seeds.specs limit 1"
    ).fetchone() == ("VARCHAR", "DOUBLE")
    assert con.execute("select * from marts.fast").fetchall() == [("H100",)]


def test_cli_ls_build_test(tmp_path, capsys):
    root = write(tmp_path / "sql", TESTED)
    db = tmp_path / "w.duckdb"
    c = duckdb.connect(str(db))
    c.execute("create schema raw")
    c.execute("create table raw.events as select 1 as id, 'a' as kind, 1.0 as amount")
    c.close()
    assert dbt_like_main(["--project-dir", str(root), "ls"]) == 0
    out = capsys.readouterr().out
    assert "marts.by_kind" in out and "table" in out and "<- staging.stg_events" in out
    assert dbt_like_main(["--project-dir", str(root), "--db", str(db), "build"]) == 0
    assert "3 built" in capsys.readouterr().out
    c = duckdb.connect(str(db))
    c.execute("insert into raw.events values (2, 'zz', 1.0)")
    c.close()
    # `test` checks what is materialized (the old by_kind table still passes); `build` rebuilds
    assert (
        dbt_like_main(["--project-dir", str(root), "--db", str(db), "test", "--select", "by_kind"])
        == 0
    )
    assert "6 passed, 0 failed" in capsys.readouterr().out
    assert dbt_like_main(["--project-dir", str(root), "--db", str(db), "build"]) == 1
    assert "1 failed" in capsys.readouterr().out
    assert dbt_like_main(["--project-dir", str(root), "ls", "--select", "nothing_like_this"]) == 2


# ---------------------------------------------------------------- the real project


def test_real_sql_project_graph():
    project = Project.load(REPO_ROOT / "sql")
    daily = project.models["marts.gpu_price_daily"]
    assert daily.depends_on == {"intermediate.int_comparable_offers"}
    assert project.models["intermediate.int_comparable_offers"].materialized == "view"
    assert project.models["staging.stg_raw__gpu_offers"].sources == {"raw.gpu_offers"}
    assert project.models["seeds.gpu_specs"].materialized == "seed"
    assert daily.description and daily.columns["price_min"]
    assert any(
        t.kind == "relationships" and t.depends_on == {"marts.gpu_price_daily", "seeds.gpu_specs"}
        for t in daily.tests
    )


# ---------------------------------------------------------------- Python models

PY_MODEL = {
    "_sources.yml": SOURCES,
    "staging/stg_events.sql": "select * from raw.events",
    "marts/kinds_py.py": """
        import polars as pl


        def model(ctx) -> pl.DataFrame:
            events = ctx.ref("staging.stg_events").with_columns(pl.col("amount").cast(pl.Float64))
            total = float(ctx.sql("select sum(amount) as s from raw.events")["s"][0])
            return (
                events.group_by("kind")
                .agg(pl.col("amount").sum().alias("total"))
                .with_columns((pl.col("total") / total).alias("share"))
                .sort("kind")
            )
    """,
    "marts/after_py.sql": "select kind from marts.kinds_py where share > 0",
    "marts/_py.yml": """
        models:
          - name: kinds_py
            description: Amount per kind, from a Python model.
            depends_on: [raw.events]
            columns:
              - {name: kind, data_type: VARCHAR, description: The kind., tests: [not_null, unique]}
              - {name: total, data_type: DOUBLE}
              - {name: share, data_type: DOUBLE, tests: [{accepted_range: {min_value: 0, max_value: 1}}]}
    """,
}


def test_python_model_graph_build_tests_and_column_types(tmp_path, con):
    project = Project.load(write(tmp_path / "sql", PY_MODEL))
    m = project.models["marts.kinds_py"]
    assert (m.language, m.materialized) == ("python", "table")
    assert m.depends_on == {"staging.stg_events"} and m.sources == {"raw.events"}
    assert project.models["marts.after_py"].depends_on == {"marts.kinds_py"}
    assert list(project.models).index("marts.kinds_py") < list(project.models).index(
        "marts.after_py"
    )
    assert project.columns("kinds_py") == {"kind": "VARCHAR", "total": "DOUBLE", "share": "DOUBLE"}
    result = project.build(con)
    assert result.ok, result.summary()
    assert result.models["marts.kinds_py"].rows == 2
    assert con.execute("select * from marts.kinds_py order by kind").fetchall() == [
        ("a", 10.0, 10.0 / 60.0),
        ("b", 50.0, 50.0 / 60.0),
    ]
    assert {t.name for t in result.tests if t.model == "marts.kinds_py"} == {
        "not_null_kinds_py_kind",
        "unique_kinds_py_kind",
        "accepted_range_kinds_py_share",
    }
    assert con.execute("select count(*) from marts.after_py").fetchone() == (2,)


def test_python_model_reading_an_undeclared_relation_fails_and_blocks(tmp_path, con):
    files = dict(PY_MODEL)
    files["marts/_py.yml"] = files["marts/_py.yml"].replace("depends_on: [raw.events]", "")
    result = Project.load(write(tmp_path / "sql", files)).build(con)
    failed = result.models["marts.kinds_py"]
    assert failed.status == "error" and "not among its inputs" in failed.message
    assert "raw.events" in failed.message
    assert result.models["marts.after_py"].status == "skipped"


def test_python_model_whose_types_differ_from_the_yaml_fails(tmp_path, con):
    files = dict(PY_MODEL)
    files["marts/_py.yml"] = files["marts/_py.yml"].replace(
        "{name: total, data_type: DOUBLE}", "{name: total, data_type: BIGINT}"
    )
    result = Project.load(write(tmp_path / "sql", files)).build(con)
    failed = result.models["marts.kinds_py"]
    assert failed.status == "error"
    assert "total is DOUBLE, YAML says BIGINT" in failed.message
    assert result.models["marts.after_py"].status == "skipped"


def test_python_model_without_model_function_is_a_load_error(tmp_path):
    files = dict(PY_MODEL)
    files["marts/kinds_py.py"] = "x = 1\n"
    with pytest.raises(ProjectError, match="must define model"):
        Project.load(write(tmp_path / "sql", files))


class _RecordingSession:
    """A session that logs when its writer and readers open and close."""

    def __init__(self, con, events):
        self.con, self.events = con, events

    def _cm(self, kind):
        import contextlib

        @contextlib.contextmanager
        def cm():
            self.events.append(f"{kind} open")
            try:
                yield self.con
            finally:
                self.events.append(f"{kind} close")

        return cm()

    def writing(self):
        return self._cm("writer")

    def reading(self):
        return self._cm("reader")

    def replace_table(self, con, name, frame):
        self.events.append(f"replace {name}")
        from dbt_like.session import replace_table

        replace_table(con, name, frame)


def test_python_model_computes_with_no_writer_open_and_custom_write(tmp_path, con):
    files = dict(PY_MODEL)
    files["marts/kinds_py.py"] = textwrap.dedent(files["marts/kinds_py.py"]).replace(
        "    return (", "    ctx.config['events'].append('compute')\n    return ("
    ) + (
        "\n\ndef write(ctx, con, frame):\n"
        "    ctx.config['events'].append('custom write')\n"
        "    ctx.replace(con, frame)\n"
        "    return {'written_rows': frame.height}\n"
    )
    events: list[str] = []
    project = Project.load(write(tmp_path / "sql", files))
    result = project.build(_RecordingSession(con, events), config={"events": events})
    assert result.ok, result.summary()
    assert result.models["marts.kinds_py"].metadata == {"written_rows": 2}
    start = events.index("compute")
    # the writer the SQL models used is closed before the Python model reads; the model reads
    # through two readers, computes with nothing open, then writes in a new writer
    before = events[:start]
    assert before[-4:] == ["reader open", "reader close", "reader open", "reader close"]
    assert before.count("writer open") == before.count("writer close") == 1
    assert events[start + 1 : start + 4] == [
        "writer open",
        "custom write",
        "replace marts.kinds_py",
    ]
