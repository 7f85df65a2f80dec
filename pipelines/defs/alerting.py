"""Alerting in Dagster: the alerts are an asset, and a failed run becomes a request for it.

* ``marts/alerts`` (op ``evaluate_alerts``, group ``alerts``) -- ``evaluate_and_deliver`` for
  the configured date (default: the newest in ``marts.gpu_price_daily``): new alerts go into
  the outbox ``marts.alerts`` under the writer lock, delivery happens with no lock held
  (``pipelines.lib.alerts``); the counts are the materialization's metadata. With
  ``failed_run_id`` set it records and delivers that run's ``run_failure`` alert instead.
  It follows the marts by automation condition (``pipelines.defs.automation``);
* ``alerts_job``           -- that one asset (``gpu-tracker alerts``);
* ``alert_on_run_failure`` -- RUNNING by default: any failed run (other than the alerter's own)
  requests an ``alerts_job`` run with the failure in its config. The sensor itself writes
  nothing: every warehouse write is an asset materialization.

The asset takes no Dagster pool: it holds the warehouse writer lock only while it writes,
and a webhook or SMTP server that is slow to answer must not keep the model builds out.
"""

import datetime as dt

import dagster as dg

from pipelines.defs.resources import TrackerResource
from pipelines.lib import alerts

ALERTS_KEY = dg.AssetKey(["marts", "alerts"])
ALERTS_GROUP = "alerts"
ALERTS_OP = "evaluate_alerts"
# the tables the rules read (pipelines.lib.alerts): the alerts follow them
ALERT_INPUTS = [
    dg.AssetKey(["marts", name])
    for name in (
        "gpu_price_daily",
        "daily_summary",
        "price_changes",
        "model_releases",
        "api_prices_daily",
        "serving_cost_daily",
    )
]


class AlertsConfig(dg.Config):
    """``date``: the day to evaluate ("" = newest). ``failed_run_*``: record that failed run's
    alert instead of evaluating the rules (set by ``alert_on_run_failure``)."""

    date: str = ""
    failed_run_id: str = ""
    failed_job: str = ""
    failure_message: str = ""


@dg.multi_asset(
    name=ALERTS_OP,
    specs=[
        dg.AssetSpec(
            ALERTS_KEY,
            deps=ALERT_INPUTS,
            group_name=ALERTS_GROUP,
            description="The alert outbox: one row per alert (rule, subject, message), with its "
            "delivery state per channel (webhook, e-mail, log).",
            kinds={"python", "duckdb"},
            metadata={"table": "marts.alerts"},
        )
    ],
)
def evaluate_alerts(
    context: dg.AssetExecutionContext, config: AlertsConfig, tracker: TrackerResource
):
    settings = tracker.load()
    rules = settings.data.get("alerts", {})
    day = dt.date.fromisoformat(config.date) if config.date else None
    try:
        if config.failed_run_id:
            result = alerts.alert_failed_run(
                settings.warehouse_path,
                config.failed_run_id,
                config.failed_job,
                config.failure_message or "run failed",
                day or dt.datetime.now(dt.UTC).date(),
                rules,
            )
        else:
            result = alerts.evaluate_and_deliver(settings.warehouse_path, day, rules)
    except ValueError as exc:  # nothing to evaluate yet: said in one line
        raise dg.Failure(description=str(exc)) from None
    context.log.info(
        f"alerts for {result.day}: {result.evaluated} raised, {result.new} new, "
        f"{result.delivered} delivered, {result.still_pending} pending"
    )
    if result.still_pending:
        context.log.warning(
            f"{result.still_pending} alert(s) undelivered; retried on the next evaluation"
        )
    return dg.MaterializeResult(
        asset_key=ALERTS_KEY,
        metadata={
            "date": result.day.isoformat(),
            "raised": result.evaluated,
            "new": result.new,
            "delivered": result.delivered,
            "still_pending": result.still_pending,
            "delivery_unknown": result.unknown,
            "lines": "\n".join(result.lines)[:20000],
        },
    )


alerts_job = dg.define_asset_job(
    name="alerts_job",
    selection=dg.AssetSelection.assets(ALERTS_KEY),
    executor_def=dg.in_process_executor,
    description="Evaluate the alert rules and deliver pending alerts (outbox marts.alerts).",
)


@dg.run_failure_sensor(
    name="alert_on_run_failure",
    default_status=dg.DefaultSensorStatus.RUNNING,
    request_job=alerts_job,
    description="Every failed run requests a run of alerts_job that records and delivers its "
    "run_failure alert.",
)
def alert_on_run_failure(context: dg.RunFailureSensorContext):
    run = context.dagster_run
    if run.job_name == alerts_job.name:
        return None  # never alert about the alerter in a loop; its failure is in the run history
    config = {
        "date": dt.datetime.now(dt.UTC).date().isoformat(),
        "failed_run_id": run.run_id,
        "failed_job": run.job_name,
        "failure_message": (context.failure_event.message or "run failed")[:2000],
    }
    return dg.RunRequest(
        run_key=f"run-failure-{run.run_id}",
        run_config={"ops": {ALERTS_OP: {"config": config}}},
        tags={"gpu_tracker/failed_run": run.run_id},
    )
