"""The Dagster code location: every asset, check, job, schedule and sensor of the tracker.

``dg`` loads ``pipelines/defs/`` (``[tool.dg]`` in pyproject.toml); on top of what the modules
declare this adds the automation conditions and freshness policies
(``pipelines.defs.automation.apply_automation``) and, if ``pipelines.defs.resources`` binds
none, the ``tracker`` resource. Start the UI with ``gpu-tracker ui`` (``dg dev``); check with
``dg check defs``.

A quiet CLI (``GPU_TRACKER_QUIET=1``, set by ``pipelines.launch.configure_output``) also
quiets the run workers the multiprocess executor starts: they import this module first.
"""

import os
from pathlib import Path

import dagster as dg

from pipelines.launch import QUIET_ENV, quiet_process
from pipelines.lib.redact import install_log_redaction

PROJECT_ROOT = Path(__file__).resolve().parents[1]

if os.environ.get(QUIET_ENV) == "1":
    quiet_process()  # before the defs modules load: their decorators warn at import
install_log_redaction()  # secrets from the environment never reach a log line or the event log


def _load() -> dg.Definitions:
    from pipelines.defs.automation import apply_automation
    from pipelines.defs.resources import TrackerResource

    loaded = dg.load_from_defs_folder(path_within_project=PROJECT_ROOT)
    if "tracker" not in loaded.resources:
        loaded = dg.Definitions.merge(
            loaded, dg.Definitions(resources={"tracker": TrackerResource()})
        )
    return apply_automation(loaded)


defs = _load()
