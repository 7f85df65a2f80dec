"""marts.nvidia_margin_indicators: indicators linking GPU rental prices to NVIDIA's margins,
with formula and assumptions (``[economics]`` of the config) on every row."""

import polars as pl

from pipelines.lib.analytics.nvidia import margin_indicators


def model(ctx) -> pl.DataFrame:
    return margin_indicators(
        summary=ctx.ref("marts.daily_summary"),
        spreads=ctx.ref("marts.provider_spreads"),
        specs=ctx.ref("seeds.gpu_specs"),
        releases=ctx.ref("marts.model_releases"),
        api_daily=ctx.ref("marts.api_prices_daily"),
        financials=ctx.ref("marts.nvidia_financials"),
        config=ctx.config.get("economics") or {},
    )
