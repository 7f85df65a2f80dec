"""dbt_like: a small dbt-like runner for the SQL models in ``sql/``.

    from dbt_like import Project
    project = Project.load("sql")
    result = project.build(duckdb_connection, select=["+marts.gpu_price_daily"])

See ``dbt_like.project`` for the layout and YAML, ``dbt_like.datatests`` for the tests,
``python -m dbt_like --help`` for the command line.
"""

from dbt_like.datatests import DataTest, TestDeclarationError
from dbt_like.graph import SqlError, relations_read
from dbt_like.project import Model, Project, ProjectError, Source
from dbt_like.runner import BuildResult, ModelOutcome, TestOutcome

__all__ = [
    "BuildResult",
    "DataTest",
    "Model",
    "ModelOutcome",
    "Project",
    "ProjectError",
    "Source",
    "SqlError",
    "TestDeclarationError",
    "TestOutcome",
    "relations_read",
]
