"""End to end on temporary warehouses: Dagster materializations with partition keys, the
CLI (run / backfill / import / sql), idempotency, source isolation, schedule and sensors.

Archives are assembled in tmp_path from the real payloads in ../shared/data (copied into
the temp dir at test time only, never into the repository)."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main as cli
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import build_source_asset

DAY = "2026-05-24"
OBS = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"


def _archive(tmp_path, shared_data, day=DAY, clouds=("lambda", "verda", "nebius")):
    root = tmp_path / "archive"
    folder = root / "skypilot_catalog" / day
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "lambda": "lambda/v8_0f40703_us-east-1.csv",
        "verda": "verda/v8_000c1d0.csv",
        "nebius": "nebius/v8_0082b04.csv",
        "hyperstack": "hyperstack/v8_fdc9d90.csv",
    }
    for cloud in clouds:
        shutil.copy(shared_data / "skypilot_catalog" / files[cloud], folder / f"{cloud}.csv")
    return root


def _query(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def test_materialize_source_asset_with_partition_key(tracker_env, tmp_path, shared_data):
    archive = _archive(tmp_path, shared_data)
    db = tracker_env / "gpu_market.duckdb"
    asset = build_source_asset("skypilot_catalog")
    resources = {"tracker": TrackerResource(from_archive=str(archive), warehouse=str(db))}
    result = dg.materialize([asset], partition_key=DAY, resources=resources)
    assert result.success
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks == {
        "non_empty": True,
        "prices_positive": True,
        "no_duplicate_keys": True,
        "prices_within_bounds": True,
        "unmapped_gpu_names": True,
        "fetch_and_parse_errors": True,
    }
    first = _query(db, "SELECT * FROM raw.gpu_offers ORDER BY ALL")
    assert len(first) == 22 + 33 + 29
    # idempotent: the same date again replaces, never duplicates
    assert dg.materialize([asset], partition_key=DAY, resources=resources).success
    assert _query(db, "SELECT * FROM raw.gpu_offers ORDER BY ALL") == first
    assert (
        _query(db, "SELECT status, rows_loaded FROM raw.load_log ORDER BY loaded_at")
        == [("ok", 84)] * 2
    )


def test_unknown_gpu_name_quarantined_and_check_warns(tracker_env, tmp_path):
    archive = tmp_path / "archive" / "skypilot_catalog" / DAY
    archive.mkdir(parents=True)
    (archive / "lambda.csv").write_bytes(
        b"InstanceType,AcceleratorName,AcceleratorCount,Price,Region,SpotPrice\n"
        b"gpu_1x_h100_sxm5,H100,1,4.29,us-east-1,\n"
        b"gpu_1x_zz9,ZZ-9000,1,1.00,us-east-1,\n"
    )
    db = tracker_env / "gpu_market.duckdb"
    resources = {
        "tracker": TrackerResource(from_archive=str(tmp_path / "archive"), warehouse=str(db))
    }
    result = dg.materialize(
        [build_source_asset("skypilot_catalog")], partition_key=DAY, resources=resources
    )
    assert result.success  # a warning, not a failure: the known rows still load
    evals = {e.check_name: e for e in result.get_asset_check_evaluations()}
    assert not evals["unmapped_gpu_names"].passed
    assert evals["unmapped_gpu_names"].severity == dg.AssetCheckSeverity.WARN
    assert _query(db, "SELECT gpu_name_raw, reason FROM raw.quarantine") == [
        ("ZZ-9000", "unknown_gpu")
    ]
    assert _query(db, "SELECT gpu_model FROM raw.gpu_offers") == [("H100-SXM-80GB",)]


def test_cli_run_from_archive_builds_gpu_price_daily(tracker_env, tmp_path, shared_data, capsys):
    archive = _archive(tmp_path, shared_data)
    assert cli(["run", "--date", DAY, "--from-archive", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "run ok: 1 date(s), 1 source(s), 84 offers loaded, 0 quarantined" in out
    db = tracker_env / "gpu_market.duckdb"
    rows = _query(
        db,
        "SELECT price_min, price_max, n_offers FROM marts.gpu_price_daily WHERE "
        "provider = 'lambda' AND gpu_model = 'H100-SXM-80GB' AND pricing = 'on_demand'",
    )
    # lambda 8x H100 SXM: 31.92 / 8 = 3.99; 1x 4.29; 1x/2x/4x/8x = 4 offers
    assert rows == [(3.99, 4.29, 4)]
    rows = _query(
        db,
        "SELECT price_min, n_offers FROM marts.gpu_price_daily WHERE provider = 'nebius' "
        "AND gpu_model = 'H100-SXM-80GB' AND pricing = 'spot'",
    )
    assert rows == [(1.25, 2)]
    # Dagster recorded the runs in DAGSTER_HOME
    assert any((tracker_env / "dagster_home").rglob("*.db"))


def test_one_failing_source_does_not_stop_the_others(tracker_env, tmp_path, shared_data, capsys):
    archive = _archive(tmp_path, shared_data)
    broken = archive / "lambda_pricing" / DAY
    broken.mkdir(parents=True)
    (broken / "pricing.html").write_text("<html><body><p>We moved our pricing!</p></body></html>")
    code = cli(["run", "--date", DAY, "--from-archive", str(archive)])
    assert code == 1
    out, err = capsys.readouterr()
    assert "2 source(s)" in out and "1 failed step(s)" in out
    assert "lambda_pricing" in err
    db = tracker_env / "gpu_market.duckdb"
    assert _query(db, "SELECT count(*) FROM raw.gpu_offers WHERE source = 'skypilot_catalog'") == [
        (84,)
    ]
    assert _query(db, "SELECT source, status FROM raw.load_log ORDER BY source") == [
        ("lambda_pricing", "failed"),
        ("skypilot_catalog", "ok"),
    ]
    assert _query(db, "SELECT reason FROM raw.quarantine WHERE source = 'lambda_pricing'") == [
        ("unparseable_payload",)
    ]
    # the marts still built from what arrived
    assert _query(db, "SELECT count(*) > 0 FROM marts.gpu_price_daily") == [(True,)]
    # and the day's source health says who delivered (a mart added as SQL + YAML only)
    assert _query(
        db,
        "SELECT source, status, mode, rows_loaded, rows_quarantined, attempts "
        "FROM marts.source_health_daily ORDER BY source",
    ) == [
        ("lambda_pricing", "failed", "archive", 0, 1, 1),
        ("skypilot_catalog", "ok", "archive", 84, 0, 1),
    ]


def test_backfill_is_one_run_over_the_range(tracker_env, tmp_path, shared_data, capsys):
    archive = _archive(tmp_path, shared_data, day="2026-05-01", clouds=("lambda",))
    _archive(tmp_path, shared_data, day="2026-05-02", clouds=("lambda", "verda"))
    assert (
        cli(
            [
                "backfill",
                "--from-archive",
                str(archive),
                "--start",
                "2026-05-01",
                "--end",
                "2026-05-02",
            ]
        )
        == 0
    )
    db = tracker_env / "gpu_market.duckdb"
    assert _query(db, "SELECT date, count(*) FROM raw.gpu_offers GROUP BY date ORDER BY date") == [
        (dt.date(2026, 5, 1), 22),
        (dt.date(2026, 5, 2), 55),
    ]
    instance = dg.DagsterInstance.get()
    source_runs = [r for r in instance.get_runs() if r.job_name == "daily_sources_job"]
    assert len(source_runs) == 1


def test_import_obs_log_fills_gpu_price_daily(tracker_env, shared_data, capsys):
    assert cli(["import", str(shared_data / OBS), "--format", "obs-log"]) == 0
    out = capsys.readouterr().out
    # 26,282 log rows: 26,254 offers + 28 quarantined rows, and 19 statistics quarantined from
    # rows whose minimum is kept (methodology 2.0 import fixes, pipelines/lib/importers.py)
    assert (
        "source=obs_log 26254 offers over 125 dates (2026-02-11..2026-06-15), 47 quarantined" in out
    )
    db = tracker_env / "gpu_market.duckdb"
    # the import is an asset materialization in the event log (the UI shows it), not a side write
    (imported,) = (
        dg.DagsterInstance.get()
        .fetch_materializations(dg.AssetKey(["raw", "imported_offers"]), limit=10)
        .records
    )
    meta = imported.asset_materialization.metadata
    assert meta["source"].value == "obs_log" and meta["offers"].value == 26254

    def daily(day, provider, gpu, pricing):
        return _query(
            db,
            "SELECT price_min, n_offers FROM marts.gpu_price_daily WHERE date = ? AND "
            "provider = ? AND gpu_model = ? AND pricing = ?",
            [day, provider, gpu, pricing],
        )

    # vast.ai H100 SXM on 2026-06-01: 7 log rows, lowest 2.0011, 1+2+5+3+1+1+1 offers
    assert daily("2026-06-01", "vastai", "H100-SXM-80GB", "on_demand") == [(2.0011, 14)]
    assert daily("2026-06-01", "vastai", "H100-SXM-80GB", "spot") == [(1.125, 6)]
    # lambda 2026-02-11: instance prices 3.29/6.38/12.36/23.92 for 1/2/4/8 GPUs -> lowest 2.99 per GPU
    assert daily("2026-02-11", "lambda", "H100-SXM-80GB", "on_demand") == [(2.99, 36)]
    # nebius.com's 1.25 on 2026-05-08 is preemptible: spot, not on-demand
    assert daily("2026-05-08", "nebius", "H100-SXM-80GB", "spot") == [(1.25, 1)]
    assert daily("2026-05-08", "nebius", "H100-SXM-80GB", "on_demand") == []
    # re-import: same rows, no duplicates
    before = _query(db, "SELECT * FROM marts.gpu_price_daily ORDER BY ALL")
    assert cli(["import", str(shared_data / OBS), "--format", "obs-log"]) == 0
    assert _query(db, "SELECT * FROM marts.gpu_price_daily ORDER BY ALL") == before
    # every GPU mart is filled from the real history, and the day's files and report are published
    for mart in (
        "cost_per_flop",
        "provider_spreads",
        "daily_summary",
        "price_changes",
        "gpu_price_index",
        "index_constituents",
    ):
        assert _query(db, f"SELECT count(*) > 0 FROM marts.{mart}") == [(True,)], mart
    # cost per FLOP of an H100 SXM = its per-GPU-hour price / 0.9894 dense BF16 PFLOPS
    ((price, per_pflop),) = _query(
        db,
        "SELECT usd_per_gpu_hour, usd_per_pflop_hour_bf16 FROM marts.cost_per_flop "
        "WHERE gpu_model = 'H100-SXM-80GB' AND provider = 'vastai' "
        "AND pricing = 'on_demand' AND date = '2026-06-01'",
    )
    assert price == 2.0011 and per_pflop == pytest.approx(2.0011 / 0.9894)
    published = tracker_env / "published"
    report = (published / "2026-06-15" / "report.html").read_text()
    assert "<svg" in report and "H100-SXM-80GB" in report
    assert (published / "latest" / "daily_summary.parquet").exists()
    assert (published / "2026-06-15" / "cost_per_flop.csv").read_text().startswith("date,gpu_model")


def test_build_models_is_incremental_and_full_refresh_rebuilds(
    tracker_env, tmp_path, shared_data, capsys
):
    import dagster as dg

    archive = _archive(tmp_path, shared_data)
    assert cli(["run", "--date", DAY, "--from-archive", str(archive)]) == 0
    assert cli(["build-models"]) == 0
    assert cli(["build-models", "--full-refresh"]) == 0
    instance = dg.DagsterInstance.get()
    builds = [
        e.asset_materialization.metadata["build"].value
        for e in instance.get_event_records(
            dg.EventRecordsFilter(
                event_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                asset_key=dg.AssetKey(["marts", "gpu_price_daily"]),
            ),
            ascending=True,
        )
        for e in [e.event_log_entry]
    ]
    assert builds[0] == "full build: first build"
    assert builds[-2] == "incremental: 0 date partition(s) rebuilt"
    assert builds[-1] == "full build: full refresh asked"


def test_sql_is_read_only_and_formats(tracker_env, tmp_path, shared_data, capsys):
    archive = _archive(tmp_path, shared_data, clouds=("lambda",))
    assert cli(["run", "--date", DAY, "--from-archive", str(archive)]) == 0
    capsys.readouterr()
    assert cli(["sql", "select count(*) as n from raw.gpu_offers", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 22}]
    assert cli(["sql", "delete from raw.gpu_offers"]) == 2
    assert "read-only" in capsys.readouterr().err.lower()
    assert cli(["sql", "select count(*) as n from raw.gpu_offers", "--format", "csv"]) == 0
    assert capsys.readouterr().out == "n\n22\n"


def test_schedule_and_sensors_are_running():
    from pipelines.definitions import defs

    schedule = defs.resolve_schedule_def("daily_schedule")
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert schedule.cron_schedule == "0 6 * * *"
    context = dg.build_schedule_context(
        scheduled_execution_time=dt.datetime(2026, 5, 24, 6, tzinfo=dt.UTC),
        repository_def=defs.get_repository_def(),
    )
    (request,) = schedule.evaluate_tick(context).run_requests
    assert request.partition_key == "2026-05-24"
    # the models and alerts follow by automation conditions (one sensor), not run-status sensors
    for name in ("automation_sensor", "alert_on_run_failure"):
        assert defs.resolve_sensor_def(name).default_status == dg.DefaultSensorStatus.RUNNING
    # the schedule's live run fetches its sources in parallel processes
    assert request.run_config["execution"]["config"]["multiprocess"]["max_concurrent"] == 4


def test_every_source_has_an_asset_with_checks():
    from pipelines.definitions import defs
    from pipelines.lib.ingest import GPU_SOURCES

    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    for source in GPU_SOURCES:
        assert f"raw/{source}" in keys
    assert "marts/gpu_price_daily" in keys


@pytest.mark.parametrize(
    "argv,message",
    [
        (["run", "--date", "2030-01-01"], "in the future"),
        (["run", "--sources", "nope"], "unknown source"),
        (
            [
                "backfill",
                "--from-archive",
                "/nonexistent",
                "--start",
                "2026-01-02",
                "--end",
                "2026-01-01",
            ],
            "before",
        ),
    ],
)
def test_cli_errors_are_one_line(tracker_env, capsys, argv, message):
    assert cli(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1
