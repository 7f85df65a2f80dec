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
    key_columns: list[str] = field(default_factory=list)  # unique: the key it checks

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


@dataclass
class _Spec:
    """One generic test being compiled: where it is declared and its remaining arguments."""

    kind: str
    args: dict[str, Any]
    model: str
    column: str | None
    relation: str  # the model, or the rows its ``where`` keeps
    path: str
    depends: set[str] = field(default_factory=set)
    key_columns: list[str] = field(default_factory=list)

    @property
    def col(self) -> str | None:
        return _quote_ident(self.column) if self.column else None

    @property
    def short(self) -> str:
        return self.model.split(".")[-1]

    def need(self, key: str) -> Any:
        if key not in self.args:
            where = f"{self.model}{'.' + self.column if self.column else ''}"
            raise TestDeclarationError(f"{self.path}: test {self.kind} on {where} needs {key!r}")
        return self.args.pop(key)

    def need_column(self) -> str:
        if not self.col:
            raise TestDeclarationError(
                f"{self.path}: {self.kind} on {self.model} must be declared under a column"
            )
        return self.col


def _not_null(t: _Spec) -> tuple[str, str]:
    col = t.need_column()
    return f"select * from {t.relation} as t where {col} is null", f"not_null_{t.short}_{t.column}"


def _unique(t: _Spec) -> tuple[str, str]:
    cols = t.args.pop("columns", None) or ([t.column] if t.column else None)
    if not cols:
        raise TestDeclarationError(
            f"{t.path}: unique on {t.model} needs a column or columns: [...]"
        )
    t.key_columns = [str(c) for c in cols]
    cols_sql = ", ".join(_quote_ident(c) for c in cols)
    sql = (
        f"select {cols_sql}, count(*) as n_records from {t.relation} as t "
        f"group by {cols_sql} having count(*) > 1"
    )
    return sql, f"unique_{t.short}_{'__'.join(cols)}"


def _accepted_values(t: _Spec) -> tuple[str, str]:
    values = t.need("values")
    if not t.col or not isinstance(values, list) or not values:
        raise TestDeclarationError(
            f"{t.path}: accepted_values on {t.model} needs a column and values: [...]"
        )
    col, in_list = t.col, ", ".join(_literal(v) for v in values)
    sql = (
        f"select {col} as value, count(*) as n_records from {t.relation} as t "
        f"where {col} is not null and {col} not in ({in_list}) group by {col}"
    )
    return sql, f"accepted_values_{t.short}_{t.column}"


def _relationships(t: _Spec) -> tuple[str, str]:
    to, to_field = t.need("to"), t.need("field")
    col = t.need_column()
    parent = _quote_ident(to_field)
    sql = (
        f"select child.{col} as value, count(*) as n_records from {t.relation} as child "
        f"left join {to} as parent on child.{col} = parent.{parent} "
        f"where child.{col} is not null and parent.{parent} is null "
        f"group by child.{col}"
    )
    t.depends.add(str(to).lower())
    return sql, f"relationships_{t.short}_{t.column}__{_slug(str(to))}_{to_field}"


def _expression_is_true(t: _Spec) -> tuple[str, str]:
    expression = t.need("expression")
    sql = f"select * from {t.relation} as t where not ({expression})"
    name = f"expression_is_true_{t.short}_{_slug(expression)[:60]}_{_short_hash(expression)}"
    return sql, name


def _accepted_range(t: _Spec) -> tuple[str, str]:
    col = t.need_column()
    inclusive = bool(t.args.pop("inclusive", True))
    lo, hi = t.args.pop("min_value", None), t.args.pop("max_value", None)
    if lo is None and hi is None:
        raise TestDeclarationError(
            f"{t.path}: accepted_range on {t.model}.{t.column} needs min_value or max_value"
        )
    ge, le = (">=", "<=") if inclusive else (">", "<")
    conds = [f"{col} {op} {_literal(v)}" for op, v in ((ge, lo), (le, hi)) if v is not None]
    sql = f"select * from {t.relation} as t where {col} is not null and not ({' and '.join(conds)})"
    return sql, f"accepted_range_{t.short}_{t.column}"


def _not_empty(t: _Spec) -> tuple[str, str]:
    sql = f"select 'no rows' as problem where not exists (select 1 from {t.relation} as t)"
    return sql, f"not_empty_{t.short}"


GENERIC_TESTS = {
    "not_null": _not_null,
    "unique": _unique,
    "accepted_values": _accepted_values,
    "relationships": _relationships,
    "expression_is_true": _expression_is_true,
    "accepted_range": _accepted_range,
    "not_empty": _not_empty,
}


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
    compiler = GENERIC_TESTS.get(kind)
    if compiler is None:
        raise TestDeclarationError(
            f"{path}: unknown test {kind!r} on {model} (known: {', '.join(GENERIC_TESTS)})"
        )
    spec = _Spec(kind, args, model, column, relation, path, depends={model})
    sql, name = compiler(spec)
    if spec.args:
        raise TestDeclarationError(
            f"{path}: test {kind} on {model}: unknown argument(s) {sorted(spec.args)}"
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
        depends_on=spec.depends,
        path=path,
        key_columns=spec.key_columns,
    )


_SEVERITY_COMMENT = re.compile(r"^\s*--\s*severity\s*:\s*(\w+)", re.IGNORECASE | re.MULTILINE)


def singular_severity(sql: str, path: str) -> str:
    match = _SEVERITY_COMMENT.search(sql)
    severity = match.group(1).lower() if match else "error"
    if severity not in SEVERITIES:
        raise TestDeclarationError(f"{path}: severity must be error|warn, got {severity!r}")
    return severity
