"""Incremental models in dbt_like, on the real ``sql/`` project and the real load path.

``marts.gpu_price_daily`` is rebuilt only for the dates loaded since its last build. The
invariant: after any sequence of loads and builds, the incremental table holds exactly what a
from-scratch build of the same SQL holds.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from dbt_like import Project
from pipelines.lib import warehouse
from pipelines.lib.offers import OFFER_SCHEMA, QUARANTINE_SCHEMA

SQL = Path(__file__).resolve().parents[2] / "sql"
MART = "marts.gpu_price_daily"
D1, D2, D3 = dt.date(2026, 6, 1), dt.date(2026, 6, 2), dt.date(2026, 6, 3)


def _offers(
    day: dt.date, prices: list[float], source: str = "synthetic", provider: str = "lambda"
) -> pl.DataFrame:
    rows = [
        {c: None for c in OFFER_SCHEMA}
        | {
            "date": day,
            "source": source,
            "provider": provider,
            "provider_tier": "neocloud",
            "gpu_name_raw": "H100 SXM",
            "gpu_model": "H100-SXM-80GB",
            "gpu_family": "H100",
            "gpu_variant_assumed": False,
            "gpu_count": 1,
            "instance_type": f"i{i}",
            "region": "us",
            "pricing": "on_demand",
            "price_original": p,
            "price_basis": "per_gpu",
            "currency": "USD",
            "price_usd_per_gpu_hour": p,
            "price_min_usd_per_gpu_hour": p,
            "price_max_usd_per_gpu_hour": p,
            "n_offers": 1,
        }
        for i, p in enumerate(prices)
    ]
    return pl.DataFrame(rows, schema=OFFER_SCHEMA)


def _load(db, day, prices, source="synthetic", provider="lambda"):
    warehouse.load_source_day(
        db,
        source=source,
        days=[day],
        offers=_offers(day, prices, source, provider),
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )


def _build(db, project=None, **kw):
    project = project or Project.load(SQL)
    with warehouse.writer(db) as con:
        result = project.build(con, **kw)
        table = con.sql(f"select * from {MART} order by all").pl()
        scratch = con.sql(f"select * from ({project.models[MART].sql}) order by all").pl()
    assert result.ok, result.summary()
    return result.models[MART].message, table, scratch


@pytest.fixture
def db(tmp_path):
    return tmp_path / "w.duckdb"


def test_only_loaded_dates_are_rebuilt_and_the_result_equals_a_full_build(db):
    _load(db, D1, [2.0, 3.0])
    _load(db, D2, [2.5])
    done, table, scratch = _build(db)
    assert done == "full build: first build"
    assert table.height == 2
    assert_frame_equal(table, scratch)

    _load(db, D3, [4.0, 5.0, 6.0])  # a new day
    _load(db, D1, [1.0])  # and a re-run of an old one with other prices
    done, table, scratch = _build(db)
    assert done == "incremental: 2 date partition(s) rebuilt"
    assert_frame_equal(table, scratch)
    assert table.filter(pl.col("date") == D1)["price_median"].to_list() == [1.0]
    assert table.filter(pl.col("date") == D3)["n_offers"].to_list() == [3]

    done, table2, _ = _build(db)  # nothing loaded since
    assert done == "incremental: 0 date partition(s) rebuilt"
    assert_frame_equal(table2, table)


def test_a_date_whose_offers_are_gone_loses_its_rows_and_other_sources_stay(db):
    _load(db, D1, [2.0])
    _load(db, D1, [9.0], source="other", provider="runpod")
    _load(db, D2, [2.5])
    _build(db)
    warehouse.load_source_day(
        db,
        source="synthetic",
        days=[D1],
        offers=_offers(D1, [])[:0],
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=["p"],
        mode="live",
    )
    done, table, scratch = _build(db)
    assert done == "incremental: 1 date partition(s) rebuilt"
    assert_frame_equal(table, scratch)
    assert table.filter(pl.col("date") == D1)["provider"].to_list() == ["runpod"]


def test_a_failed_reload_rebuilds_the_date_and_keeps_its_previous_rows(db):
    _load(db, D1, [2.0])
    _build(db)
    warehouse.record_failure(
        db,
        source="synthetic",
        day=D1,
        quarantine=pl.DataFrame(schema=QUARANTINE_SCHEMA),
        payloads=[],
        mode="live",
        error="HTTP 500",
    )
    done, table, scratch = _build(db)
    assert done == "incremental: 1 date partition(s) rebuilt"
    assert_frame_equal(table, scratch)
    assert table.height == 1


def test_changed_sql_upstream_full_refresh_and_backfills_rebuild_everything(db):
    _load(db, D1, [2.0])
    project = Project.load(SQL)
    _build(db, project)
    # an upstream model's SQL changes: the stored rows may be stale
    project.models["staging.stg_raw__gpu_offers"].code_version = "changed"
    done, table, scratch = _build(db, project)
    assert done == "full build: its SQL or an upstream model changed"
    assert_frame_equal(table, scratch)
    done, _, _ = _build(db, project, full_refresh=True)
    assert done == "full build: full refresh asked"
    # more dates than full_refresh_above: one full build beats one rebuild per date
    project.models[MART].incremental.full_refresh_above = 1
    _load(db, D2, [2.5])
    _load(db, D3, [3.5])
    done, table, scratch = _build(db, project)
    assert done == "full build: 2 partitions changed (> 1)"
    assert_frame_equal(table, scratch)


def test_a_failing_incremental_build_keeps_the_previous_table_and_watermark(db):
    _load(db, D1, [2.0])
    project = Project.load(SQL)
    _build(db, project)
    _load(db, D2, [2.5])
    broken = Project.load(SQL)
    broken.models[MART].sql = "select * from no_such_table"
    broken.models[MART].code_version = project.models[
        MART
    ].code_version  # same lineage: incremental path
    with warehouse.writer(db) as con:
        result = broken.build(con, select=[MART])
        assert result.models[MART].status == "error"
        assert con.sql(f"select count(*) from {MART}").fetchone()[0] == 1  # D1 only, untouched
    done, table, scratch = _build(db, project)  # D2 is still pending, and gets built
    assert done == "incremental: 1 date partition(s) rebuilt"
    assert_frame_equal(table, scratch)
    assert table.height == 2


def _restatements(db) -> list[tuple]:
    with warehouse.reader(db) as con:
        exists = con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = 'restatements'"
        ).fetchone()[0]
        if not exists:
            return []
        return con.execute(
            "select table_name, column_name, value_old, value_new, reason "
            "from marts.restatements order by all"
        ).fetchall()


@pytest.mark.slow  # three builds of the whole project (~10 s each on a busy 2-core machine)
def test_a_rebuild_that_changes_published_values_records_restatements(db):
    """METHODOLOGY.md section 6 through the real project and the tracker's own session (SQL
    models on the writer, Python models read -> compute -> write): a corrected price restates
    the index and the summary once; an identical rebuild restates nothing."""
    from pipelines.lib.model_build import build_models

    for day in (D1, D2):
        _load(db, day, [2.0])
        _load(db, day, [3.0], source="other", provider="runpod")
    first = build_models(db, run_id="run-1")
    assert first.ok, first.summary()
    assert _restatements(db) == []  # nothing was published before: nothing restated
    assert first.models["marts.gpu_price_index"].metadata == {"restated_values": 0}

    _load(db, D2, [2.2])  # lambda's D2 price, corrected by a parser fix
    second = build_models(db, run_id="run-2")
    assert second.ok, second.summary()
    rows = _restatements(db)
    index_rows = [r for r in rows if r[0] == "gpu_price_index"]
    summary_rows = [r for r in rows if r[0] == "daily_summary"]
    assert {r[1] for r in index_rows} >= {"index_level", "change_1d_pct"}
    assert ("daily_summary", "market_median", "2.5", "2.6", "rebuild in Dagster run run-2") in (
        summary_rows
    )
    assert {r[4] for r in rows} == {"rebuild in Dagster run run-2"}
    assert second.models["marts.gpu_price_index"].metadata["restated_values"] == len(index_rows)

    third = build_models(db, run_id="run-3")
    assert third.ok and third.models["marts.daily_summary"].metadata == {"restated_values": 0}
    assert _restatements(db) == rows
