"""What a dbt_like project is made of: models (SQL, Python, seeds), sources, their build order."""

from __future__ import annotations

import graphlib
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dbt_like.datatests import DataTest

VIEW_LAYERS = ("staging", "intermediate")
SEED_SCHEMA = "seeds"
TESTS_DIR = "tests"


class ProjectError(ValueError):
    """The project cannot be loaded: bad SQL, unknown relation, cycle, bad YAML."""


@dataclass
class Incremental:
    """How an ``incremental`` model finds the partitions to rebuild (YAML ``config``):

    * ``partition_by``        -- the model's partition column (e.g. ``date``);
    * ``watermark``           -- SQL returning one value that grows with every load
      (e.g. ``select max(loaded_at) from raw.load_log``), stored after each build;
    * ``changed_partitions``  -- SQL returning the partition values loaded since the stored
      watermark, given as its one ``?`` parameter (text; cast it);
    * ``full_refresh_above``  -- rebuild everything when more partitions changed (default 31):
      one partition at a time is the fast path for a daily load, not for a backfill.
    """

    partition_by: str
    watermark: str
    changed_partitions: str
    full_refresh_above: int = 31


@dataclass
class Model:
    name: str  # schema.name
    path: Path
    sql: str  # for a seed or a Python model: ""
    materialized: str  # view | table | incremental | seed
    language: str = "sql"  # sql | python
    description: str = ""
    columns: dict[str, str] = field(default_factory=dict)  # column -> description
    data_types: dict[str, str] = field(default_factory=dict)  # column -> declared type
    column_types: dict[str, str] = field(default_factory=dict)  # seeds: forced CSV types
    depends_on: set[str] = field(default_factory=set)  # models
    sources: set[str] = field(default_factory=set)  # declared sources read
    refs: set[str] = field(default_factory=set)  # Python: relations named in the file / YAML
    tests: list[DataTest] = field(default_factory=list)
    code_version: str = ""
    incremental: Incremental | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def schema(self) -> str:
        return self.name.split(".")[0]

    @property
    def short_name(self) -> str:
        return self.name.split(".")[1]

    @property
    def reads(self) -> set[str]:
        """Every relation (model or source) the model may read."""
        return self.depends_on | self.sources


@dataclass
class Source:
    name: str  # schema.table
    description: str = ""


def _hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def toposort(models: dict[str, Model]) -> list[str]:
    """Model names in build order; a model's tests may read other models (relationships):
    those build first too. A cycle is a ``ProjectError`` naming the files."""
    graph = {}
    for n, m in sorted(models.items()):
        test_reads = {d for t in m.tests for d in t.depends_on if d in models and d != n}
        graph[n] = sorted(m.depends_on | test_reads)
    sorter = graphlib.TopologicalSorter(graph)
    try:
        return list(sorter.static_order())
    except graphlib.CycleError as err:
        cycle = err.args[1]
        files = " -> ".join(f"{n} ({models[n].path})" for n in cycle)
        raise ProjectError(f"dependency cycle: {files}") from err
