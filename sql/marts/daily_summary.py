"""marts.daily_summary: the market's day per GPU and price type -- cross-sectional median,
lowest price and who, their changes, the like-for-like changes from the index, confidence.

A rebuild that changes values already published appends them to ``marts.restatements``.
"""

import polars as pl

from pipelines.lib.analytics import gpu_market, restatements


def model(ctx) -> pl.DataFrame:
    return gpu_market.daily_summary(
        ctx.ref("marts.gpu_price_daily"), ctx.ref("marts.gpu_price_index")
    )


def write(ctx, con, frame: pl.DataFrame) -> dict:
    return restatements.write_restating(ctx, con, frame)
