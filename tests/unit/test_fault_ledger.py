"""The #10 fault ledger names only tests that exist (a renamed test must not vanish from it)."""

import ast
from pathlib import Path

from tests.fault_ledger import FAULT_KINDS, kind_of

TESTS = Path(__file__).resolve().parents[1]


def test_every_ledger_entry_is_a_real_test_function():
    functions = {}
    for path in TESTS.rglob("test_*.py"):
        tree = ast.parse(path.read_text())
        functions.setdefault(path.name, set()).update(
            n.name
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name.startswith("test_")
        )
    missing = [
        k for k in FAULT_KINDS if k.split("::")[1] not in functions.get(k.split("::")[0], set())
    ]
    assert missing == []


def test_parametrized_ids_fold_into_their_fault_kind():
    assert (
        kind_of("tests/unit/test_sql_console.py::test_statement_timeout_interrupts_a_runaway_query")
        == "sql: runaway query (timeout)"
    )
    assert kind_of(
        "tests/unit/test_sql_console.py::test_no_statement_can_touch_the_databases_own_files"
        "[.wal-copy]"
    ).startswith("sql: COPY")
    assert kind_of("tests/unit/test_analytics.py::test_something_else") is None
