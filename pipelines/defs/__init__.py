"""Dagster objects only: assets, checks, jobs, schedules, sensors, resources.

Plain logic lives in ``pipelines.lib`` (no Dagster imports there).
"""

from __future__ import annotations

import dagster as dg


def build_definitions() -> dg.Definitions:
    """Assemble the code location."""
    from pipelines.defs.alerting import alert_on_run_failure, alerts_after_models, alerts_job
    from pipelines.defs.analytics import polars_marts, published_daily
    from pipelines.defs.jobs import (
        build_daily_schedule,
        build_models_after_sources_failure,
        build_models_after_sources_success,
        daily_sources_job,
        models_job,
    )
    from pipelines.defs.market import market_marts
    from pipelines.defs.models import build_model_assets
    from pipelines.defs.resources import TrackerResource
    from pipelines.defs.serving import serving_cost_daily
    from pipelines.defs.sources import build_market_source_assets, build_source_assets
    from pipelines.lib.redact import install_log_redaction

    install_log_redaction()  # secrets from the environment never reach a log line or the event log

    return dg.Definitions(
        assets=[
            *build_source_assets(),
            *build_market_source_assets(),
            build_model_assets(),
            polars_marts,
            market_marts,
            serving_cost_daily,
            published_daily,
        ],
        jobs=[daily_sources_job, models_job, alerts_job],
        schedules=[build_daily_schedule()],
        sensors=[
            build_models_after_sources_success,
            build_models_after_sources_failure,
            alerts_after_models,
            alert_on_run_failure,
        ],
        resources={"tracker": TrackerResource()},
    )
