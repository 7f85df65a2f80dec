"""Relations a SELECT reads, found by parsing it with sqlglot (no jinja, no ``ref()``).

``relations_read(sql)`` walks every scope of the statement (CTEs, subqueries, lateral
joins, set operations) and returns the tables it reads from. Names that a scope resolves
to a CTE are not tables; table functions (``range(...)``, ``read_parquet(...)``) are not
relations. Names come back as written: ``schema.name`` or a bare ``name``; the project
resolves bare names.
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError as SqlglotParseError
from sqlglot.optimizer.scope import build_scope

DIALECT = "duckdb"


class SqlError(ValueError):
    """A model file that is not exactly one parseable SELECT."""


def parse_select(sql: str) -> exp.Expression:
    """Parse ``sql`` as exactly one query (SELECT / UNION / WITH ... SELECT)."""
    try:
        statements = [s for s in sqlglot.parse(sql, read=DIALECT) if s is not None]
    except SqlglotParseError as err:
        raise SqlError(f"cannot parse SQL: {err}") from err
    if len(statements) != 1:
        raise SqlError(f"expected exactly one SELECT statement, found {len(statements)}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise SqlError(f"expected a SELECT, found {statement.key.upper()}")
    return statement


def relations_read(sql: str) -> set[str]:
    """Tables (``schema.name`` or bare ``name``, lower-cased) that the query reads."""
    statement = parse_select(sql)
    root = build_scope(statement)
    if root is None:  # pragma: no cover - parse_select guarantees a query
        raise SqlError("cannot build the query's scopes")
    found: set[str] = set()
    for scope in root.traverse():
        for source in scope.sources.values():
            if not isinstance(source, exp.Table):
                continue  # a CTE, subquery or lateral: its own scope is traversed
            if not isinstance(source.this, exp.Identifier):
                continue  # table function: range(...), read_csv(...)
            parts = [p for p in (source.db, source.name) if p]
            found.add(".".join(parts).lower())
    return found
