"""marts.api_price_families: the cheapest output price per date of well-known model families,
given in ``[api_families]`` of the config (label = regex on model_key)."""

import polars as pl

from pipelines.lib.analytics.api_prices import DEFAULT_API_FAMILIES, cheapest_by_family


def model(ctx) -> pl.DataFrame:
    families = ctx.config.get("api_families") or DEFAULT_API_FAMILIES
    return cheapest_by_family(ctx.ref("marts.api_prices_daily"), families)
