"""The Dagster resource every asset uses to find config, warehouse and archive.

``TrackerResource`` carries only paths (strings), so a run can override them in run config:
the CLI's ``--from-archive DIR`` becomes ``resources.tracker.config.from_archive``. Nothing
is read from the environment or the config file at import time.

The config file is read and validated once per run, when Dagster sets the resource up for
execution (``setup_for_execution``): every asset of the run then sees the same ``Config``
(``load()``) and typed ``Settings`` (``settings``), and a config file that does not validate
fails the run at its start, in one line. Used outside a run (a sensor, a test), ``load()``
reads the file each time it is called.

When a run starts, the resource also records the run worker's pid in the run's tags (unless
the launcher already did): a run whose process is later found dead is marked failed and its
``duckdb_warehouse`` pool slot freed (``pipelines.launch.reap_dead_runs``), also for runs the
daemon launched.

``tracker_resources`` binds the resource under the key ``tracker`` for ``dg``'s
``load_from_defs_folder``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg
from pydantic import PrivateAttr

from pipelines.launch import PID_TAG, process_tags
from pipelines.lib.config import Config, load_config
from pipelines.lib.settings import Settings


class TrackerResource(dg.ConfigurableResource):
    """Where the tracker's config, warehouse and replay archive are."""

    config_path: str = ""  # empty: GPU_TRACKER_CONFIG / gpu_tracker.toml
    from_archive: str = ""  # empty: live fetching
    warehouse: str = ""  # empty: GPU_TRACKER_WAREHOUSE / config / default (same resolution)

    _config: Config | None = PrivateAttr(default=None)

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        self._config = self._read()
        run = context.run
        if context.instance is None or run is None or PID_TAG in run.tags:
            return
        context.instance.add_run_tags(run.run_id, process_tags())

    def _read(self) -> Config:
        return load_config(
            Path(self.config_path) if self.config_path else None, warehouse=self.warehouse or None
        )

    def load(self) -> Config:
        """The run's config (validated once, at setup), or a fresh read outside a run."""
        return self._config if self._config is not None else self._read()

    @property
    def settings(self) -> Settings:
        """The typed settings of ``load()``."""
        return self.load().settings

    def db_path(self) -> Path:
        return self.load().warehouse_path

    def archive_dir(self) -> Path | None:
        return Path(self.from_archive) if self.from_archive else None


@dg.definitions
def tracker_resources() -> dg.Definitions:
    """The ``tracker`` resource, for ``load_from_defs_folder`` (reads no config: the resource
    reads it when a run sets it up)."""
    return dg.Definitions(resources={"tracker": TrackerResource()})
