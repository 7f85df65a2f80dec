"""marts.nvidia_financials: NVIDIA's fiscal quarters from its SEC EDGAR XBRL facts."""

import polars as pl

from pipelines.lib.financials import quarterly_financials

NVIDIA_CIK = "0001045810"


def model(ctx) -> pl.DataFrame:
    return quarterly_financials(ctx.ref("staging.stg_raw__sec_facts"), cik=NVIDIA_CIK)
