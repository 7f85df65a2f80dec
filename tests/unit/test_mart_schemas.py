"""The marts' column types come from one place, the YAML under sql/ (pipelines.lib.mart_schemas):
every mart declares a type for every column, and the report's coercion kinds agree with it."""

from __future__ import annotations

import pytest

from pipelines.lib import mart_schemas
from pipelines.lib.model_build import project

MARTS = [n.split(".")[1] for n in project().models if n.startswith("marts.")]


def test_every_mart_is_a_model_with_typed_columns_and_a_key():
    assert {
        "gpu_price_daily",
        "daily_summary",
        "gpu_price_index",
        "index_constituents",
        "cost_per_flop",
        "provider_spreads",
        "price_changes",
        "model_releases",
        "api_prices_daily",
        "api_price_families",
        "nvidia_financials",
        "nvidia_margin_indicators",
        "serving_cost_daily",
    } <= set(MARTS)
    for mart in MARTS:
        model = project().models[f"marts.{mart}"]
        assert model.description, mart
        assert mart_schemas.columns(mart), f"{mart} declares no column types"
        # every documented column is typed and every typed column documented
        assert set(model.columns) == set(model.data_types), mart
        assert all(model.columns.values()), f"{mart}: a column without a description"
        assert mart_schemas.unique_key(mart), mart
        assert set(mart_schemas.unique_key(mart)) <= set(model.data_types), mart


def test_kinds():
    assert mart_schemas.kind("DOUBLE") == "num" and mart_schemas.kind("UINTEGER") == "int"
    assert mart_schemas.kind("DECIMAL(18,3)") == "num" and mart_schemas.kind("DATE") == "date"
    assert mart_schemas.column_kinds("cost_per_flop")["bf16_is_fp16"] == "bool"
    with pytest.raises(Exception, match="no model"):
        mart_schemas.columns("no_such_mart")


def test_the_report_takes_its_types_from_the_yaml(monkeypatch):
    from pipelines.lib.report import schemas

    # the report's kinds are the YAML's, column for column
    for mart, kinds in schemas.SCHEMAS.items():
        declared = mart_schemas.column_kinds(mart)
        assert kinds == {c: declared[c] for c in schemas.READS[mart]}, mart
    assert schemas.SCHEMAS["daily_summary"]["coverage"] == "num"
    assert schemas.SCHEMAS["index_constituents"]["included"] == "bool"
    # a column the report reads but the YAML no longer declares fails at once, by name
    monkeypatch.setitem(schemas.READS, "daily_summary", ("date", "no_such_column"))
    with pytest.raises(KeyError, match="no_such_column"):
        schemas._schemas()


def test_the_published_marts_are_the_ones_the_yaml_marks():
    from pipelines.lib import publish

    assert set(publish.PUBLISHED_TABLES) == {
        "gpu_price_daily",
        "daily_summary",
        "provider_spreads",
        "cost_per_flop",
        "price_changes",
        "api_price_families",
        "gpu_price_index",
        "index_constituents",
        "serving_cost_daily",
    }
    # not published: intermediate marts and the NVIDIA/API detail (queried, not shipped daily)
    assert "model_releases" not in publish.PUBLISHED_TABLES
    assert "nvidia_margin_indicators" not in publish.PUBLISHED_TABLES
