"""The Dagster code location: every asset, check, job, schedule and sensor of the tracker.

Load with ``dagster dev -m pipelines.definitions`` (or ``gpu-tracker ui``).
"""

from pipelines.defs import build_definitions

defs = build_definitions()
