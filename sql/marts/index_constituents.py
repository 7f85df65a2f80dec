"""marts.index_constituents: one vote per provider per day and index series, included or why not.

DuckDB aggregates the comparable offers to observations (``observations_sql``: the lowest price
per provider x feed x region); polars applies the hygiene rules (pipelines.lib.analytics).
"""

import polars as pl

from pipelines.lib.analytics import gpu_index


def model(ctx) -> pl.DataFrame:
    return gpu_index.index_constituents(ctx.sql(gpu_index.observations_sql()))
