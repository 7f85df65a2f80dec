"""marts.api_prices_daily: USD per 1M tokens per date x source x model, the other source beside."""

import polars as pl

from pipelines.lib.analytics.api_prices import api_prices_daily


def model(ctx) -> pl.DataFrame:
    return api_prices_daily(ctx.ref("staging.stg_raw__api_prices"))
