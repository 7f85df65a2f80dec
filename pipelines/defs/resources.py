"""The Dagster resource every asset uses to find config, warehouse and archive.

``TrackerResource`` carries only paths (strings), so a run can override them in run config:
the CLI's ``--from-archive DIR`` becomes ``resources.tracker.config.from_archive``. Nothing
is read from the environment at import time.

When a run starts, the resource records the run worker's pid in the run's tags (unless the
launcher already did): a run whose process is later found dead is marked failed and its
``duckdb_warehouse`` pool slot freed (``pipelines.launch.reap_dead_runs``), also for runs the
daemon launched.
"""

from pathlib import Path

import dagster as dg

from pipelines.launch import PID_TAG, process_tags
from pipelines.lib.config import Config, load_config


class TrackerResource(dg.ConfigurableResource):
    """Where the tracker's config, warehouse and replay archive are."""

    config_path: str = ""  # empty: GPU_TRACKER_CONFIG / gpu_tracker.toml
    from_archive: str = ""  # empty: live fetching
    warehouse: str = ""  # empty: GPU_TRACKER_WAREHOUSE / config / default

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        run = context.run
        if context.instance is None or run is None or PID_TAG in run.tags:
            return
        context.instance.add_run_tags(run.run_id, process_tags())

    def load(self) -> Config:
        config = load_config(Path(self.config_path) if self.config_path else None)
        if self.warehouse:
            config = Config(**{**config.__dict__, "warehouse_path": Path(self.warehouse)})
        return config

    def db_path(self) -> Path:
        return self.load().warehouse_path

    def archive_dir(self) -> Path | None:
        return Path(self.from_archive) if self.from_archive else None
