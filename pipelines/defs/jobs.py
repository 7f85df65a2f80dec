"""The jobs the CLI, the schedule and the sensors launch.

* ``daily_sources_job`` -- every source asset for one date partition (or a range, in one run:
  single-run backfill policy). Its executor is ``multi_or_in_process_executor``: the CLI runs
  replays and backfills in its own process (``execute_in_process`` ignores the executor) and
  the live daily run, the schedule's included, with the multiprocess executor, so sources
  wait on the network side by side (``GPU_TRACKER_SOURCE_PROCESSES``, default 4; see
  ``pipelines.launch.run``). Warehouse writes stay one at a time under the writer lock.
* ``models_job``  -- every model (group ``models``: SQL, polars marts, published files) over
  whatever the sources loaded;
* ``import_job``  -- ``raw/imported_offers``: a third-party price history
  (``gpu-tracker import``), after which the CLI runs ``models_job``;
* ``alerts_job``  -- ``marts/alerts``: evaluate the rules and deliver (``gpu-tracker alerts``,
  and the run-failure sensor's requests); defined beside its sensor in
  ``pipelines.defs.alerting``.

After a scheduled sources run the models and then the alerts follow by automation
conditions (``pipelines.defs.automation``), not by run-status sensors. Nothing here reads
the config: the schedule, whose cron is configured, is in ``pipelines.defs.schedules``.
"""

import dagster as dg

from pipelines.defs.alerting import alerts_job
from pipelines.defs.imports import IMPORTED_OFFERS
from pipelines.defs.sources import MARKET_GROUP, SOURCE_GROUP

MODELS_GROUP = "models"

daily_sources_job = dg.define_asset_job(
    name="daily_sources_job",
    selection=dg.AssetSelection.groups(SOURCE_GROUP, MARKET_GROUP),
    executor_def=dg.multi_or_in_process_executor,
    description="Fetch (or replay), archive, parse and load every source (GPU offers, model catalogs, "
    "API prices, SEC facts) for one date.",
)

models_job = dg.define_asset_job(
    name="models_job",
    selection=dg.AssetSelection.groups(MODELS_GROUP),
    executor_def=dg.in_process_executor,
    description="Build every model (SQL in sql/, polars marts, published files) and run its data "
    "tests.",
)

import_job = dg.define_asset_job(
    name="import_job",
    selection=dg.AssetSelection.assets(IMPORTED_OFFERS),
    executor_def=dg.in_process_executor,
    description="Load a third-party price history (gpu-tracker import) as its own source.",
)

__all__ = ["MODELS_GROUP", "alerts_job", "daily_sources_job", "import_job", "models_job"]
