"""The daily schedule: ``daily_sources_job`` for today's date (UTC), RUNNING by default.

Its cron and timezone come from ``[schedule]`` of the config. Nothing reads the config when
this module is imported: the schedule is built inside a ``@dg.definitions`` function, which
dg evaluates when it loads the code location (``load_from_defs_folder``), not at import.

A scheduled run is the live daily run, so it runs its sources in parallel processes like
``gpu-tracker run`` does: the run request sets the multiprocess executor's
``max_concurrent`` to ``GPU_TRACKER_SOURCE_PROCESSES`` (default 4), read at each tick.
"""

import dagster as dg

from pipelines.defs.jobs import daily_sources_job
from pipelines.launch.run import multiprocess_config, source_processes
from pipelines.lib.config import load_config


@dg.definitions
def schedule_defs() -> dg.Definitions:
    """The schedule, with the configured cron (read when the code location loads)."""
    schedule = load_config().settings.schedule

    @dg.schedule(
        name="daily_schedule",
        job=daily_sources_job,
        cron_schedule=schedule.cron,
        execution_timezone=schedule.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Every day: load every source for today's date (UTC), in parallel processes.",
    )
    def daily_schedule(context: dg.ScheduleEvaluationContext):
        day = context.scheduled_execution_time.date().isoformat()
        execution = {"config": {"multiprocess": multiprocess_config(source_processes())}}
        return dg.RunRequest(run_key=day, partition_key=day, run_config={"execution": execution})

    return dg.Definitions(schedules=[daily_schedule])
