"""marts.cost_per_flop: USD per dense PFLOP-hour per precision, per provider's lowest price."""

import polars as pl

from pipelines.lib.analytics.cost_per_flop import cost_per_flop


def model(ctx) -> pl.DataFrame:
    return cost_per_flop(ctx.ref("marts.gpu_price_daily"), ctx.ref("seeds.gpu_specs"))
