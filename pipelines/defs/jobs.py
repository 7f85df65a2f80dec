"""Jobs, the daily schedule, and the sensor that builds the models after the sources.

* ``daily_sources_job`` -- every source asset for one date partition (one step per source,
  in-process so warehouse writers run one after another);
* ``models_job``        -- every SQL model (dbt_like) over whatever the sources loaded;
* ``daily_schedule``    -- runs ``daily_sources_job`` for today's date (UTC) at the cron in
  ``[schedule]`` of the config; RUNNING by default;
* ``build_models_after_sources`` -- when a ``daily_sources_job`` run finishes, *successful or
  not*, launches ``models_job``: one failing source must not stop the marts from building
  from what did arrive (ARCHITECTURE.md, "Isolation").
"""

import os

import dagster as dg

from pipelines.defs.sources import MARKET_GROUP, SOURCE_GROUP
from pipelines.lib.config import load_config

MODELS_GROUP = "models"


def sources_executor() -> dg.ExecutorDefinition:
    """In-process on the DuckDB file (its writers run one after another anyway); on a DuckLake
    warehouse (``GPU_TRACKER_WAREHOUSE=ducklake:...``) the multiprocess executor, so sources
    fetch, parse and load in parallel processes (at most ``GPU_TRACKER_SOURCE_PROCESSES``,
    default 4; the ``duckdb_warehouse`` pool limit of the instance still applies -- see
    deploy/dagster_postgres.yaml)."""
    from pipelines.lib import lake

    try:
        on_lake = lake.target_for(load_config().warehouse_path) is not None
    except (lake.LakeError, OSError, ValueError):
        on_lake = False  # a broken target fails, with its one line, when a step connects
    if not on_lake:
        return dg.in_process_executor
    processes = int(os.environ.get("GPU_TRACKER_SOURCE_PROCESSES", "") or 4)
    return dg.multiprocess_executor.configured({"max_concurrent": processes})


daily_sources_job = dg.define_asset_job(
    name="daily_sources_job",
    selection=dg.AssetSelection.groups(SOURCE_GROUP, MARKET_GROUP),
    executor_def=sources_executor(),
    description="Fetch (or replay), archive, parse and load every source (GPU offers, model catalogs, "
    "API prices, SEC facts) for one date.",
)

models_job = dg.define_asset_job(
    name="models_job",
    selection=dg.AssetSelection.groups(MODELS_GROUP),
    executor_def=dg.in_process_executor,
    description="Build every SQL model in sql/ (staging -> marts) and run its data tests.",
)


def build_daily_schedule() -> dg.ScheduleDefinition:
    schedule_cfg = load_config().data.get("schedule", {})

    @dg.schedule(
        name="daily_schedule",
        job=daily_sources_job,
        cron_schedule=schedule_cfg.get("cron", "0 6 * * *"),
        execution_timezone=schedule_cfg.get("timezone", "UTC"),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day: load every source for today's date (UTC).",
    )
    def _daily_schedule(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.date().isoformat()
        return dg.RunRequest(run_key=day, partition_key=day)

    return _daily_schedule


def _models_request(context: dg.RunStatusSensorContext) -> dg.RunRequest:
    run = context.dagster_run
    return dg.RunRequest(
        run_key=f"models-after-{run.run_id}",
        tags={
            "gpu_tracker/after_run": run.run_id,
            "gpu_tracker/partition": run.tags.get("dagster/partition", ""),
        },
    )


@dg.run_status_sensor(
    name="build_models_after_sources_success",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[daily_sources_job],
    request_job=models_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Build the models when a daily sources run succeeds.",
)
def build_models_after_sources_success(context: dg.RunStatusSensorContext):
    return _models_request(context)


@dg.run_status_sensor(
    name="build_models_after_sources_failure",
    run_status=dg.DagsterRunStatus.FAILURE,
    monitored_jobs=[daily_sources_job],
    request_job=models_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Build the models from what arrived when some source of a daily run failed.",
)
def build_models_after_sources_failure(context: dg.RunStatusSensorContext):
    return _models_request(context)
