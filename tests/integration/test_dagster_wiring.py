"""The code location as dg loads it (issue #11 items 1, 5, 6): ``dg check defs`` passes, the
models and alerts follow by automation conditions evaluated by one sensor (no run-status
sensors but the run-failure one, which only requests a run), and imports and alerts are
asset materializations recorded in the Dagster event log.

Archives are assembled in tmp_path from the real payloads in ../shared/data."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from pipelines.cli import main as cli

REPO = Path(__file__).resolve().parents[2]
DAY = "2026-05-24"
LAMBDA = "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv"


def _archive(tmp_path, shared_data) -> Path:
    folder = tmp_path / "archive" / "skypilot_catalog" / DAY
    folder.mkdir(parents=True)
    shutil.copy(shared_data / LAMBDA, folder / "lambda.csv")
    return tmp_path / "archive"


def _materializations(instance, key: dg.AssetKey) -> list:
    return list(instance.fetch_materializations(key, limit=100).records)


@pytest.mark.slow  # ~10 s: dg loads the code location in a fresh process
def test_dg_check_defs_passes():
    dg_cli = Path(sys.executable).with_name("dg")
    done = subprocess.run(
        [str(dg_cli if dg_cli.exists() else "dg"), "check", "defs"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


def test_one_automation_sensor_and_no_run_status_sensors_but_the_failure_alert():
    from pipelines.definitions import defs

    repo = defs.get_repository_def()
    automation = [
        s for s in repo.sensor_defs if isinstance(s, dg.AutomationConditionSensorDefinition)
    ]
    assert [s.name for s in automation] == ["automation_sensor"]
    assert automation[0].default_status == dg.DefaultSensorStatus.RUNNING
    run_status = [s for s in repo.sensor_defs if isinstance(s, dg.RunStatusSensorDefinition)]
    assert [s.name for s in run_status] == ["alert_on_run_failure"]
    assert run_status[0].job_name == "alerts_job"  # it requests a run; it writes nothing itself

    graph = defs.resolve_asset_graph()
    models = dg.AssetSelection.groups("models").resolve(graph)
    assert dg.AssetKey(["marts", "gpu_price_daily"]) in models
    for key in models:
        assert graph.get(key).automation_condition.get_label() == "after_sources", key
    alerts = graph.get(dg.AssetKey(["marts", "alerts"]))
    assert alerts.automation_condition.get_label() == "after_marts"
    assert graph.get(dg.AssetKey(["marts", "daily_summary"])).freshness_policy is not None
    # sources are launched (schedule, CLI), never by a condition
    assert graph.get(dg.AssetKey(["raw", "skypilot_catalog"])).automation_condition is None
    # an import feeds the same models as the GPU sources
    staging = graph.get(dg.AssetKey(["raw", "imported_offers"])).child_keys
    assert dg.AssetKey(["staging", "stg_raw__gpu_offers"]) in staging


def test_models_and_alerts_are_requested_after_a_source_loads(tracker_env, tmp_path, shared_data):
    from pipelines.definitions import defs

    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0  # nothing loaded yet: nothing to build

    archive = _archive(tmp_path, shared_data)
    source = defs.resolve_job_def("daily_sources_job")
    result = source.execute_in_process(
        run_config={"resources": {"tracker": {"config": {"from_archive": str(archive)}}}},
        instance=instance,
        partition_key=DAY,
        asset_selection=[dg.AssetKey(["raw", "skypilot_catalog"])],
    )
    assert result.success
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.get_num_requested(dg.AssetKey(["marts", "gpu_price_daily"])) == 1
    assert second.get_num_requested(dg.AssetKey(["published", "daily"])) == 1
    # the alerts follow the marts they read, in the same tick (after them in the run)
    assert second.get_num_requested(dg.AssetKey(["marts", "alerts"])) == 1
    assert second.get_num_requested(dg.AssetKey(["raw", "imported_offers"])) == 0
    assert second.get_num_requested(dg.AssetKey(["raw", "skypilot_catalog"])) == 0
    # once requested, not again until a source loads anew
    third = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=second.cursor)
    assert third.total_requested == 0


def test_models_follow_a_source_run_that_failed_too(tracker_env, tmp_path):
    from pipelines.definitions import defs

    broken = tmp_path / "archive" / "lambda_pricing" / DAY
    broken.mkdir(parents=True)
    (broken / "pricing.html").write_text("<html><body><p>We moved our pricing!</p></body></html>")
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    result = defs.resolve_job_def("daily_sources_job").execute_in_process(
        run_config={
            "resources": {"tracker": {"config": {"from_archive": str(tmp_path / "archive")}}}
        },
        instance=instance,
        partition_key=DAY,
        asset_selection=[dg.AssetKey(["raw", "lambda_pricing"])],
        raise_on_error=False,
    )
    assert not result.success  # nothing arrived, but its failure is in raw.load_log
    second = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    assert second.get_num_requested(dg.AssetKey(["staging", "stg_raw__gpu_offers"])) == 1
    assert second.get_num_requested(dg.AssetKey(["marts", "gpu_price_daily"])) == 1


def test_failed_run_requests_an_alerts_run_that_records_it(tracker_env, tmp_path):
    from pipelines.definitions import defs
    from pipelines.defs.alerting import alert_on_run_failure

    instance = dg.DagsterInstance.ephemeral()
    failing = defs.resolve_job_def("import_job").execute_in_process(
        run_config={
            "ops": {"import_price_history": {"config": {"path": str(tmp_path / "missing.csv")}}}
        },
        instance=instance,
        raise_on_error=False,
    )
    assert not failing.success
    run = instance.get_run_by_id(failing.run_id)
    failure = next(e for e in failing.all_events if e.event_type_value == "PIPELINE_FAILURE")
    context = dg.build_run_status_sensor_context(
        sensor_name="alert_on_run_failure",
        dagster_instance=instance,
        dagster_run=run,
        dagster_event=failure,
    ).for_run_failure()
    request = alert_on_run_failure(context)
    assert request.run_key == f"run-failure-{run.run_id}"
    config = request.run_config["ops"]["evaluate_alerts"]["config"]
    assert config["failed_run_id"] == run.run_id and config["failed_job"] == "import_job"

    db = tracker_env / "gpu_market.duckdb"
    assert not db.exists()  # the sensor wrote nothing
    alerts = defs.resolve_job_def("alerts_job").execute_in_process(
        run_config=request.run_config, instance=instance
    )
    assert alerts.success
    con = duckdb.connect(str(db), read_only=True)
    try:
        rows = con.execute("select rule, subject from marts.alerts").fetchall()
    finally:
        con.close()
    assert rows == [("run_failure", "run/import_job")]
    (materialization,) = alerts.asset_materializations_for_node("evaluate_alerts")
    assert materialization.metadata["new"].value == 1


@pytest.mark.slow  # a run, the models and the alerts through the CLI
def test_cli_alerts_is_a_materialization_in_the_event_log(
    tracker_env, tmp_path, shared_data, capsys, monkeypatch
):
    monkeypatch.delenv("GPU_TRACKER_WEBHOOK_URL", raising=False)
    archive = _archive(tmp_path, shared_data)
    assert cli(["run", "--date", DAY, "--from-archive", str(archive)]) == 0
    assert cli(["alerts", "--date", DAY]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith(f"alerts for {DAY}: ") and out[-1].endswith(
        "0 still pending (see marts.alerts)"
    )
    instance = dg.DagsterInstance.get()
    (record,) = _materializations(instance, dg.AssetKey(["marts", "alerts"]))
    metadata = record.asset_materialization.metadata
    assert metadata["date"].value == DAY and metadata["still_pending"].value == 0
    runs = {r.job_name for r in instance.get_runs()}
    assert runs == {"daily_sources_job", "models_job", "alerts_job"}
