"""Data tests: YAML declarations compiled to SQL that returns the failing rows.

Generic tests, declared under a column (``tests: [not_null]``) or a model::

    not_null                                   column is never NULL
    unique                 {columns: [a, b]}    no duplicate (combination of) values
    accepted_values        {values: [...]}      column only takes these values (NULL allowed)
    relationships          {to: seeds.x, field: id}   every non-NULL value exists in to.field
    expression_is_true     {expression: "..."}  the SQL expression holds on every row
    accepted_range         {min_value, max_value, inclusive: true}
    not_empty                                   the relation has at least one row

Every generic test also takes ``severity: error | warn`` (default error; ``config:
{severity: warn}`` is accepted as in dbt) and ``where`` / ``row_condition`` -- a SQL
condition that limits the rows tested (e.g. ``row_condition: "pricing = 'on_demand'"``).

Singular tests are ``.sql`` files under ``sql/tests/``: one SELECT returning the failing
rows; a ``-- severity: warn`` line sets their severity. They attach to the models they read.

A test passes when its query returns no rows. A failing ``error`` test blocks every model
downstream of its model in a build (dbt ``build`` semantics); a failing ``warn`` test is
reported only.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

SEVERITIES = ("error", "warn")


class TestDeclarationError(ValueError):
    """A test in YAML that cannot be compiled (unknown kind, missing argument)."""


@dataclass
class DataTest:
    name: str
    model: str  # the model the test is attached to (Dagster: the check's asset)
    kind: str
    sql: str  # returns the failing rows
    severity: str = "error"
    column: str | None = None
    depends_on: set[str] = field(default_factory=set)  # every relation the test reads
    path: str = ""  # file that declared it

    __test__ = False  # not a pytest test class


def _quote_ident(name: str) -> str:
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return name
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def parse_declaration(decl: Any) -> tuple[str, dict[str, Any]]:
    """``not_null`` or ``{accepted_values: {values: [...]}}`` -> (kind, args)."""
    if isinstance(decl, str):
        return decl, {}
    if isinstance(decl, dict) and len(decl) == 1:
        kind, args = next(iter(decl.items()))
        if args is None:
            args = {}
        if not isinstance(args, dict):
            raise TestDeclarationError(
                f"arguments of test {kind!r} must be a mapping, got {args!r}"
            )
        return str(kind), dict(args)
    raise TestDeclarationError(f"cannot read test declaration {decl!r}")


def compile_generic(
    kind: str, args: dict[str, Any], model: str, column: str | None, path: str = ""
) -> DataTest:
    """Compile one generic test on ``model`` (and ``column``) to its failing-rows SQL."""
    args = dict(args)
    config = args.pop("config", None) or {}
    severity = str(args.pop("severity", config.get("severity", "error"))).lower()
    if severity not in SEVERITIES:
        raise TestDeclarationError(f"{path}: test {kind} on {model}: severity must be error|warn")
    condition = args.pop("where", None) or args.pop("row_condition", None) or config.get("where")
    relation = f"(select * from {model} where {condition})" if condition else model
    col = _quote_ident(column) if column else None
    depends = {model}
    short = model.split(".")[-1]

    def need(key: str) -> Any:
        if key not in args:
            raise TestDeclarationError(
                f"{path}: test {kind} on {model}{'.' + column if column else ''} needs {key!r}"
            )
        return args.pop(key)

    if kind == "not_null":
        if not col:
            raise TestDeclarationError(
                f"{path}: not_null on {model} must be declared under a column"
            )
        sql = f"select * from {relation} as t where {col} is null"
        name = f"not_null_{short}_{column}"
    elif kind == "unique":
        cols = args.pop("columns", None) or ([column] if column else None)
        if not cols:
            raise TestDeclarationError(
                f"{path}: unique on {model} needs a column or columns: [...]"
            )
        cols_sql = ", ".join(_quote_ident(c) for c in cols)
        sql = (
            f"select {cols_sql}, count(*) as n_records from {relation} as t "
            f"group by {cols_sql} having count(*) > 1"
        )
        name = f"unique_{short}_{'__'.join(cols)}"
    elif kind == "accepted_values":
        values = need("values")
        if not col or not isinstance(values, list) or not values:
            raise TestDeclarationError(
                f"{path}: accepted_values on {model} needs a column and values: [...]"
            )
        in_list = ", ".join(_literal(v) for v in values)
        sql = (
            f"select {col} as value, count(*) as n_records from {relation} as t "
            f"where {col} is not null and {col} not in ({in_list}) group by {col}"
        )
        name = f"accepted_values_{short}_{column}"
    elif kind == "relationships":
        to, to_field = need("to"), need("field")
        if not col:
            raise TestDeclarationError(
                f"{path}: relationships on {model} must be declared under a column"
            )
        sql = (
            f"select child.{col} as value, count(*) as n_records from {relation} as child "
            f"left join {to} as parent on child.{col} = parent.{_quote_ident(to_field)} "
            f"where child.{col} is not null and parent.{_quote_ident(to_field)} is null "
            f"group by child.{col}"
        )
        depends.add(str(to).lower())
        name = f"relationships_{short}_{column}__{_slug(str(to))}_{to_field}"
    elif kind == "expression_is_true":
        expression = need("expression")
        sql = f"select * from {relation} as t where not ({expression})"
        name = f"expression_is_true_{short}_{_slug(expression)[:60]}_{_short_hash(expression)}"
    elif kind == "accepted_range":
        if not col:
            raise TestDeclarationError(
                f"{path}: accepted_range on {model} must be declared under a column"
            )
        inclusive = bool(args.pop("inclusive", True))
        lo, hi = args.pop("min_value", None), args.pop("max_value", None)
        if lo is None and hi is None:
            raise TestDeclarationError(
                f"{path}: accepted_range on {model}.{column} needs min_value or max_value"
            )
        ge, le = (">=", "<=") if inclusive else (">", "<")
        conds = []
        if lo is not None:
            conds.append(f"{col} {ge} {_literal(lo)}")
        if hi is not None:
            conds.append(f"{col} {le} {_literal(hi)}")
        sql = (
            f"select * from {relation} as t where {col} is not null and not ({' and '.join(conds)})"
        )
        name = f"accepted_range_{short}_{column}"
    elif kind == "not_empty":
        sql = f"select 'no rows' as problem where not exists (select 1 from {relation} as t)"
        name = f"not_empty_{short}"
    else:
        raise TestDeclarationError(
            f"{path}: unknown test {kind!r} on {model} (known: not_null, unique, "
            "accepted_values, relationships, expression_is_true, accepted_range, not_empty)"
        )
    if args:
        raise TestDeclarationError(
            f"{path}: test {kind} on {model}: unknown argument(s) {sorted(args)}"
        )
    if condition:
        name += f"__where_{_short_hash(str(condition))}"
    return DataTest(
        name=name,
        model=model,
        kind=kind,
        sql=sql,
        severity=severity,
        column=column,
        depends_on=depends,
        path=path,
    )


_SEVERITY_COMMENT = re.compile(r"^\s*--\s*severity\s*:\s*(\w+)", re.IGNORECASE | re.MULTILINE)


def singular_severity(sql: str, path: str) -> str:
    match = _SEVERITY_COMMENT.search(sql)
    severity = match.group(1).lower() if match else "error"
    if severity not in SEVERITIES:
        raise TestDeclarationError(f"{path}: severity must be error|warn, got {severity!r}")
    return severity
