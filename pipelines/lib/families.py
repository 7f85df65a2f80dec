"""Raw table schemas of the non-GPU source families: model catalogs, API prices, SEC facts.

A source module of these families (``pipelines/lib/sources/<id>.py``) exposes, like a GPU
source, ``SOURCE_ID``, ``fetch(client, source_cfg, day) -> list[Payload | FetchFailure]``
and a *pure* ``parse(name, content) -> dict[str, pl.DataFrame]`` that maps raw table name
(keys of ``FAMILY_SCHEMAS``) to rows with exactly that table's columns **except** ``date``
and ``source`` (ingest adds them) -- one payload may feed two tables (OpenRouter's models
list is both a model catalog and an API price list).

Every frame carries a ``problem`` column: null for a good row, else a short reason
(``unparseable_price``, ``negative_price``, ``missing_id`` ...). Ingest moves problem rows to
``raw.quarantine`` with that reason and loads the rest: nothing is dropped silently. A
payload whose structure is not recognised raises ``ParseError`` (never "zero rows, success").

Prices are USD per **1M tokens** (``*_usd_per_mtok``), converted from the source's per-token
figure with ``Decimal`` so 0.000003 becomes exactly 3.0; the original string/number is kept.
"""

from __future__ import annotations

import polars as pl

MODEL_CATALOG_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,  # observation date (the archive folder's date)
    "source": pl.Utf8,  # openrouter | huggingface | epoch_models
    "model_id": pl.Utf8,  # as the source names it: "openai/gpt-4o", "meta-llama/Llama-3.1-8B"
    "model_name": pl.Utf8,
    "organization": pl.Utf8,  # lower-case slug: openai, anthropic, meta-llama, google ...
    "created_at": pl.Datetime("us", "UTC"),  # listing / creation time where the source has it
    "publication_date": pl.Date,  # Epoch: publication date
    "parameters": pl.Float64,  # total parameters
    "active_parameters": pl.Float64,  # mixture-of-experts active parameters, where known
    "context_length": pl.Int64,
    "training_compute_flop": pl.Float64,  # Epoch
    "training_tokens": pl.Float64,  # Epoch: dataset size in tokens where given
    "pipeline_tag": pl.Utf8,  # HF: text-generation ...
    "downloads": pl.Int64,
    "likes": pl.Int64,
    "payload_name": pl.Utf8,
    "problem": pl.Utf8,
}

API_PRICE_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,
    "source": pl.Utf8,  # openrouter | litellm_prices
    "model_id": pl.Utf8,  # as the source names it
    "model_key": pl.Utf8,  # join key across sources: lower-case, vendor prefix and route suffixes stripped
    "organization": pl.Utf8,
    "mode": pl.Utf8,  # chat | completion | embedding | image_generation ... (LiteLLM 'mode'); null if unknown
    "input_usd_per_mtok": pl.Float64,
    "output_usd_per_mtok": pl.Float64,
    "input_price_raw": pl.Utf8,  # the source's per-token figure, as written
    "output_price_raw": pl.Utf8,
    "context_length": pl.Int64,
    "payload_name": pl.Utf8,
    "problem": pl.Utf8,
}

SEC_FACTS_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date,  # fetch date
    "source": pl.Utf8,  # sec_edgar
    "cik": pl.Utf8,  # 10 digits, zero-padded
    "entity": pl.Utf8,
    "concept": pl.Utf8,  # us-gaap concept: Revenues, CostOfRevenue, GrossProfit ...
    "unit": pl.Utf8,  # USD
    "fiscal_year": pl.Int64,  # fy of the filing
    "fiscal_period": pl.Utf8,  # fp of the filing: Q1 Q2 Q3 FY
    "form": pl.Utf8,  # 10-Q, 10-K ...
    "period_start": pl.Date,
    "period_end": pl.Date,
    "value": pl.Float64,
    "accession": pl.Utf8,
    "filed": pl.Date,
    "frame": pl.Utf8,  # CY2024Q3 ... where given
    "payload_name": pl.Utf8,
    "problem": pl.Utf8,
}

FAMILY_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "raw.model_catalog": MODEL_CATALOG_SCHEMA,
    "raw.api_prices": API_PRICE_SCHEMA,
    "raw.sec_facts": SEC_FACTS_SCHEMA,
}


def parsed_columns(table: str) -> dict[str, pl.DataType]:
    """The columns ``parse`` must return for ``table`` (everything but date and source)."""
    return {k: v for k, v in FAMILY_SCHEMAS[table].items() if k not in ("date", "source")}


def empty_frame(table: str) -> pl.DataFrame:
    return pl.DataFrame(schema=parsed_columns(table))


def conform(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with exactly the parsed columns of ``table``, in order, cast to their types;
    missing columns become nulls. Unknown extra columns are an error (a typo, not data)."""
    cols = parsed_columns(table)
    extra = [c for c in frame.columns if c not in cols]
    if extra:
        raise ValueError(f"{table}: unexpected column(s) {extra}")
    return frame.select([
        (pl.col(c).cast(t, strict=True) if c in frame.columns else pl.lit(None, dtype=t)).alias(c)
        for c, t in cols.items()
    ])
