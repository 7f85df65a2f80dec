"""What runs after what, declared as automation conditions, and how fresh the marts must be.

The schedule (``pipelines.defs.schedules``) loads the sources; everything downstream follows
by condition, evaluated by ONE sensor, ``automation_sensor`` (RUNNING by default), instead
of four run-status sensors:

* the models (group ``models``: SQL models, polars marts, published files) --
  ``MODELS_CONDITION``: as soon as any source partition was loaded (or failed) since the
  models last ran, and no source is still running. Unlike ``eager()`` it does not wait for
  *missing* upstream partitions: the sources are daily partitions since 2023 of which most
  were never loaded, and a source that failed today must not keep the marts from building
  from what did arrive (ARCHITECTURE.md, "Isolation");
* the alerts (``marts/alerts``) -- ``ALERTS_CONDITION``: the same rule one level down, after
  the marts they read;
* the imports (``raw/imported_offers``) have no condition: ``gpu-tracker import`` runs them.
  They write ``raw.gpu_offers`` like the GPU sources, so every model that reads a GPU source
  also depends on the import (added here): the lineage shows it, and the models follow an
  import launched from the UI too.

``FRESHNESS`` on every daily mart: warn when it is more than 26 hours old, fail past 30 (the
schedule runs once a day; a day and a few hours of slack for a slow or retried run).

``apply_automation()`` sets both on the loaded definitions (``pipelines/definitions.py``), so
the modules that declare the assets need not know about automation.
"""

import datetime as dt

import dagster as dg

from pipelines.defs.alerting import ALERTS_KEY
from pipelines.defs.imports import IMPORTED_OFFERS
from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.sources import SOURCE_GROUP

_AC = dg.AutomationCondition
# a dependency loaded, or its latest run just failed (the failure is in raw.load_log, and
# the marts are rebuilt from what the other sources delivered)
_UPSTREAM_CHANGED = _AC.any_deps_updated() | _AC.any_deps_match(_AC.execution_failed()).newly_true()

MODELS_CONDITION = (
    _UPSTREAM_CHANGED.since_last_handled() & ~_AC.any_deps_in_progress() & ~_AC.in_progress()
).with_label("after_sources")

ALERTS_CONDITION = (
    _AC.any_deps_updated().since_last_handled() & ~_AC.any_deps_in_progress() & ~_AC.in_progress()
).with_label("after_marts")

FRESHNESS = dg.FreshnessPolicy.time_window(
    fail_window=dt.timedelta(hours=30), warn_window=dt.timedelta(hours=26)
)

automation_sensor = dg.AutomationConditionSensorDefinition(
    "automation_sensor",
    target=dg.AssetSelection.all(),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="Builds the models after the sources and the alerts after the models, by the "
    "automation conditions of pipelines/defs/automation.py.",
)


def apply_automation(defs: dg.Definitions) -> dg.Definitions:
    """``defs`` with the models' and alerts' automation conditions and the marts' freshness."""
    models = dg.AssetSelection.groups(MODELS_GROUP)
    daily_marts = models & dg.AssetSelection.key_prefixes("marts")
    graph = defs.resolve_asset_graph()
    gpu_sources = dg.AssetSelection.groups(SOURCE_GROUP).resolve(graph)
    readers_of_offers = [
        key for key in models.resolve(graph) if graph.get(key).parent_keys & gpu_sources
    ]
    if readers_of_offers:
        defs = defs.map_resolved_asset_specs(
            func=lambda spec: spec.merge_attributes(deps=[IMPORTED_OFFERS]),
            selection=dg.AssetSelection.assets(*readers_of_offers),
        )
    defs = defs.map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(automation_condition=MODELS_CONDITION),
        selection=models,
    )
    defs = defs.map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(automation_condition=ALERTS_CONDITION),
        selection=dg.AssetSelection.assets(ALERTS_KEY),
    )
    return defs.map_resolved_asset_specs(
        func=lambda spec: spec.replace_attributes(freshness_policy=FRESHNESS),
        selection=daily_marts,
    )
