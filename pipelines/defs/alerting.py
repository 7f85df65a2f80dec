"""Alerting in Dagster: evaluate and deliver after the marts build, and alert on failed runs.

* ``alerts_job``               -- one op: ``evaluate_and_deliver`` for the newest date (or the
  partition date the models run was launched for), under the warehouse writer pool;
* ``alerts_after_models``      -- RUNNING by default: when a ``models_job`` run succeeds, launch
  ``alerts_job``;
* ``alert_on_run_failure``     -- RUNNING by default: any failed run (other than its own) becomes a
  ``run_failure`` alert in ``marts.alerts`` and is delivered.
"""

import datetime as dt

import dagster as dg

from pipelines.defs.jobs import models_job
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL
from pipelines.lib import alerts


@dg.op(pool=WAREHOUSE_POOL, config_schema={"date": dg.Field(str, default_value="")})
def evaluate_alerts(context: dg.OpExecutionContext, tracker: TrackerResource) -> None:
    config = tracker.load()
    day = dt.date.fromisoformat(context.op_config["date"]) if context.op_config["date"] else None
    result = alerts.evaluate_and_deliver(config.warehouse_path, day, config.data.get("alerts", {}))
    context.log.info(
        f"alerts for {result.day}: {result.evaluated} raised, {result.new} new, "
        f"{result.delivered} delivered, {result.still_pending} pending"
    )
    if result.still_pending:
        context.log.warning(
            f"{result.still_pending} alert(s) undelivered; retried on the next evaluation"
        )


@dg.job(
    name="alerts_job",
    executor_def=dg.in_process_executor,
    description="Evaluate the alert rules and deliver pending alerts (outbox marts.alerts).",
)
def alerts_job():
    evaluate_alerts()


@dg.run_status_sensor(
    name="alerts_after_models",
    run_status=dg.DagsterRunStatus.SUCCESS,
    monitored_jobs=[models_job],
    request_job=alerts_job,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="After the marts build, evaluate the alert rules and deliver.",
)
def alerts_after_models(context: dg.RunStatusSensorContext):
    day = context.dagster_run.tags.get("gpu_tracker/partition", "")
    return dg.RunRequest(
        run_key=f"alerts-after-{context.dagster_run.run_id}",
        run_config={"ops": {"evaluate_alerts": {"config": {"date": day}}}},
    )


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Record and deliver a run_failure alert for every failed run.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.job_name == "alerts_job":
        return  # never alert about the alerter in a loop; its failure is in the run history
    message = context.failure_event.message or "run failed"
    config = TrackerResource().load()
    alerts.alert_failed_run(
        config.warehouse_path,
        run.run_id,
        run.job_name,
        message,
        dt.datetime.now(dt.UTC).date(),
        config.data.get("alerts", {}),
    )
