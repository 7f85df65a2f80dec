"""Each mart's column types, read from the one place they are declared: the YAML under ``sql/``.

Every model's columns carry a ``data_type`` there (checked after every build by dbt_like), so
the report and the published files take types from here instead of re-typing them::

    columns("daily_summary")        -> {"date": "DATE", "market_median": "DOUBLE", ...}
    column_kinds("daily_summary")   -> {"date": "date", "market_median": "num", ...}
    unique_key("daily_summary")     -> ["date", "gpu_model", "pricing"]

A bare name is a mart (``marts.<name>``); ``schema.name`` names any model.
"""

from __future__ import annotations

from pipelines.lib.model_build import project

# DuckDB type -> the report's kinds (num | int | str | bool | date)
KINDS = {
    "DOUBLE": "num",
    "FLOAT": "num",
    "DECIMAL": "num",
    "BIGINT": "int",
    "INTEGER": "int",
    "UINTEGER": "int",
    "UBIGINT": "int",
    "SMALLINT": "int",
    "VARCHAR": "str",
    "BOOLEAN": "bool",
    "DATE": "date",
}


def _name(mart: str) -> str:
    return mart if "." in mart else f"marts.{mart}"


def columns(mart: str) -> dict[str, str]:
    """``{column: DuckDB type}`` in declared order."""
    return project().columns(_name(mart))


def kind(duckdb_type: str) -> str:
    """The report's kind of a DuckDB type (``DECIMAL(18,3)`` -> num); str when unknown."""
    return KINDS.get(duckdb_type.split("(")[0].strip().upper(), "str")


def column_kinds(mart: str) -> dict[str, str]:
    """``{column: num | int | str | bool | date}`` in declared order."""
    return {c: kind(t) for c, t in columns(mart).items()}


def unique_key(mart: str) -> list[str]:
    """The columns of the mart's ``unique`` test (its grain)."""
    model = project().models[_name(mart)]
    for test in model.tests:
        if test.kind == "unique":
            return test.key_columns
    raise KeyError(f"{model.name} declares no unique test")


def published() -> tuple[str, ...]:
    """The marts whose YAML says ``meta: {published: true}``, in declaration order: the tables
    written to ``published/<date>/`` (a new mart is published by saying so where it is declared)."""
    return tuple(
        m.short_name
        for m in project().models.values()
        if m.schema == "marts" and (m.meta or {}).get("published")
    )
