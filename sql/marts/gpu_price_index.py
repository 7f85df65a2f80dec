"""marts.gpu_price_index: the chained like-for-like (Jevons) index of the included votes.

A rebuild that changes values already published appends them to ``marts.restatements``
(METHODOLOGY.md section 6): hence the ``write`` below.
"""

import polars as pl

from pipelines.lib.analytics import gpu_index, restatements


def model(ctx) -> pl.DataFrame:
    return gpu_index.gpu_price_index(ctx.ref("marts.index_constituents"))


def write(ctx, con, frame: pl.DataFrame) -> dict:
    return restatements.write_restating(ctx, con, frame)
