"""Python models: a ``.py`` file beside the SQL ones whose ``model(ctx)`` returns a polars frame.

A file ``sql/marts/daily_summary.py`` is the model ``marts.daily_summary``::

    def model(ctx) -> pl.DataFrame:
        prices = ctx.ref("marts.gpu_price_daily")     # a declared input, as a polars frame
        return gpu_market.daily_summary(prices, ctx.ref("marts.gpu_price_index"))

Its inputs are the relations named by ``ctx.ref("...")`` in the file (found by parsing it,
as dbt does) plus ``depends_on:`` in its YAML (for inputs read with ``ctx.sql(query)``);
reading anything else is an error, so the graph is always what the model reads. The runner
calls ``model(ctx)`` with no connection open: each ``ctx.ref`` / ``ctx.sql`` reads through a
short-lived reader, the computation runs outside any lock, and the frame is then written in
one short writer transaction (``CREATE OR REPLACE TABLE``).

A file may also define ``write(ctx, con, frame) -> dict`` to write its table itself inside
that writer session (e.g. to record what a rebuild changed before replacing it); it returns
metadata for the build log. ``ctx.replace(con, frame)`` is the default write.
"""

from __future__ import annotations

import ast
import importlib.util
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from dbt_like.graph import relations_read


class PythonModelError(ValueError):
    """A Python model file that cannot be read, or a read outside its declared inputs."""


def refs_in_source(text: str, path: str = "") -> set[str]:
    """Relation names given as string literals to ``<anything>.ref("...")`` calls."""
    try:
        tree = ast.parse(text, filename=path)
    except SyntaxError as err:
        raise PythonModelError(f"{path}: cannot parse Python model: {err}") from err
    has_model = any(
        isinstance(node, ast.FunctionDef) and node.name == "model" for node in tree.body
    )
    if not has_model:
        raise PythonModelError(f"{path}: a Python model must define model(ctx)")
    refs = set()
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "ref"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            refs.add(node.args[0].value.lower())
    return refs


def load_module(name: str, path: Path) -> ModuleType:
    """Import the model file under a private module name (``dbt_like_models.<schema>.<name>``)."""
    module_name = f"dbt_like_models.{name}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise PythonModelError(f"{path}: cannot import Python model")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception:
        sys.modules.pop(module_name, None)
        raise
    if not callable(getattr(module, "model", None)):
        raise PythonModelError(f"{path}: a Python model must define model(ctx)")
    return module


@dataclass
class ModelContext:
    """What a Python model sees: its inputs, the build's config, a logger.

    ``reader`` is a callable returning a context manager that yields a DuckDB connection
    (the session's ``reading``); ``replace_table(con, name, frame)`` writes a frame."""

    name: str
    allowed: set[str]
    reader: Callable[[], Any]
    replace_table: Callable[[Any, str, Any], None]
    config: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    log: Any = field(default_factory=lambda: logging.getLogger("dbt_like"))

    def _check(self, relation: str) -> str:
        name = relation.lower()
        if name not in self.allowed:
            raise PythonModelError(
                f"{self.name} reads {relation}, which is not among its inputs "
                f"({', '.join(sorted(self.allowed)) or 'none'}): ref it or add it to depends_on"
            )
        return name

    def ref(self, relation: str):
        """The whole relation as a polars frame, read through a short-lived reader."""
        name = self._check(relation)
        with self.reader() as con:
            return con.sql(f"select * from {name}").pl()

    def sql(self, query: str):
        """A SELECT over declared inputs, run by DuckDB, as a polars frame."""
        for relation in relations_read(query):
            self._check(relation)
        with self.reader() as con:
            return con.sql(query).pl()

    def replace(self, con, frame) -> None:
        """Replace this model's table with ``frame`` (one transaction)."""
        self.replace_table(con, self.name, frame)
