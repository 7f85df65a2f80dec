"""marts.provider_spreads: cheapest vs dearest provider, tier medians, hyperscaler premium."""

import polars as pl

from pipelines.lib.analytics.gpu_market import provider_spreads


def model(ctx) -> pl.DataFrame:
    return provider_spreads(ctx.ref("marts.gpu_price_daily"))
