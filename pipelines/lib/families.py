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

SERVING_BENCHMARK_SCHEMA: dict[str, pl.DataType] = {
    # measured LLM serving throughput (mlperf_inference, inferencex); see pipelines.lib.serving
    "date": pl.Date,  # observation date (the archive folder's date)
    "source": pl.Utf8,  # mlperf_inference | inferencex
    "round": pl.Utf8,  # MLPerf round ("v6.1"); InferenceX: the sweep's data date
    "benchmark_model": pl.Utf8,  # official benchmark name: "llama2-70b-99.9", "gpt-oss-120b"
    "model_id": pl.Utf8,  # the model as the submitter named it ("llama3_1-8b", "zai-org/GLM-4.7")
    "model_key": pl.Utf8,  # tracker join key (pipelines.lib.model_keys): "llama-2-70b-chat"
    "accuracy_target": pl.Utf8,  # "99" | "99.9" (MLPerf accuracy targets); null if none
    "submitter": pl.Utf8,
    "division": pl.Utf8,  # closed | open (MLPerf); inferencex for InferenceX sweeps
    "availability": pl.Utf8,  # available | preview | rdi
    "system": pl.Utf8,  # system name as submitted
    "platform": pl.Utf8,  # submitter's platform id ("8xMI355X_2xEPYC_9575F")
    "scenario": pl.Utf8,  # Offline | Server | Interactive (MLPerf); sweep point label for InferenceX
    "precision": pl.Utf8,  # weight data types, lower-case (self-reported free text)
    "framework": pl.Utf8,
    "accelerator_name": pl.Utf8,  # as written in the payload
    "gpu_model": pl.Utf8,  # canonical id (pipelines.lib.gpus); null on problem rows
    "gpu_variant_assumed": pl.Boolean,
    "nodes": pl.Int64,
    "accelerators_per_node": pl.Int64,
    "total_accelerators": pl.Int64,
    "result_tokens_per_second": pl.Float64,  # whole system under test, output tokens/s
    "tokens_per_second_per_gpu": pl.Float64,  # OUTPUT tokens/s per accelerator
    "total_tokens_per_second_per_gpu": pl.Float64,  # input + output per accelerator, where given
    "concurrency": pl.Int64,  # InferenceX sweep point; null for MLPerf
    "input_tokens_per_request": pl.Int64,  # InferenceX isl
    "output_tokens_per_request": pl.Int64,  # InferenceX osl
    "inferred": pl.Boolean,  # MLPerf: derived from a run in another scenario
    "payload_name": pl.Utf8,
    "problem": pl.Utf8,
}

FX_RATES_SCHEMA: dict[str, pl.DataType] = {
    # reference exchange rates (ecb_fx): converts non-USD offers at normalisation time
    "date": pl.Date,  # observation date (the archive folder's date)
    "source": pl.Utf8,  # ecb_fx
    "rate_date": pl.Date,  # the date the publisher gives the rates (the ECB's Cube time)
    "base_currency": pl.Utf8,  # EUR
    "currency": pl.Utf8,  # ISO 4217: USD, GBP, JPY ...
    "rate": pl.Float64,  # units of ``currency`` per 1 ``base_currency``; null on problem rows
    "rate_raw": pl.Utf8,  # the rate as written
    "payload_name": pl.Utf8,
    "problem": pl.Utf8,
}

FAMILY_SCHEMAS: dict[str, dict[str, pl.DataType]] = {
    "raw.model_catalog": MODEL_CATALOG_SCHEMA,
    "raw.api_prices": API_PRICE_SCHEMA,
    "raw.sec_facts": SEC_FACTS_SCHEMA,
    "raw.serving_benchmarks": SERVING_BENCHMARK_SCHEMA,
    "raw.fx_rates": FX_RATES_SCHEMA,
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
    return frame.select(
        [
            (pl.col(c).cast(t, strict=True) if c in frame.columns else pl.lit(None, dtype=t)).alias(
                c
            )
            for c, t in cols.items()
        ]
    )
