"""dbt_like: a small dbt-like runner for the SQL models in ``sql/``.

    from dbt_like import Project
    project = Project.load("sql")
    result = project.build(duckdb_connection, select=["+marts.gpu_price_daily"])

See ``dbt_like.project`` for the layout and YAML, ``dbt_like.python`` for Python models,
``dbt_like.session`` for where a build gets its connections, ``dbt_like.datatests`` for the
tests, ``python -m dbt_like --help`` for the command line.
"""

from dbt_like.datatests import DataTest, TestDeclarationError
from dbt_like.graph import SqlError, relations_read
from dbt_like.project import Model, Project, ProjectError, Source
from dbt_like.python import ModelContext, PythonModelError
from dbt_like.runner import BuildResult, ModelOutcome, TestOutcome
from dbt_like.session import ConnectionSession, Session

__all__ = [
    "BuildResult",
    "ConnectionSession",
    "DataTest",
    "Model",
    "ModelContext",
    "ModelOutcome",
    "Project",
    "ProjectError",
    "PythonModelError",
    "Session",
    "Source",
    "SqlError",
    "TestDeclarationError",
    "TestOutcome",
    "relations_read",
]
