"""marts.price_changes: every move of a provider's lowest price against its previous one."""

import polars as pl

from pipelines.lib.analytics.price_changes import price_changes


def model(ctx) -> pl.DataFrame:
    return price_changes(ctx.ref("marts.gpu_price_daily"))
