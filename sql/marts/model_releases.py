"""marts.model_releases: one row per model across OpenRouter, Hugging Face and Epoch AI."""

import polars as pl

from pipelines.lib.analytics.model_releases import model_releases
from pipelines.lib.model_keys import model_key


def model(ctx) -> pl.DataFrame:
    return model_releases(ctx.ref("staging.stg_raw__model_catalog"), model_key)
