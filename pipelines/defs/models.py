"""The SQL models in ``sql/`` as Dagster assets, mapped the way dagster-dbt maps dbt models.

* one asset per model, key = relation name (``marts.gpu_price_daily`` -> ``marts/gpu_price_daily``);
* deps from the model graph (parsed by dbt_like with sqlglot); models reading ``raw.*``
  depend on the source assets that load those raw tables;
* description from the YAML docs, code version = hash of the SQL;
* one asset check per data test; error-severity tests are blocking, so a failing test
  stops the models downstream of it (dbt build semantics, enforced by dbt_like).

All models build in one step under the warehouse writer lock and pool.
"""

from pathlib import Path

import dagster as dg

from dbt_like import Project
from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL, source_asset_key
from pipelines.lib import registry, warehouse
from pipelines.lib.config import REPO_ROOT
from pipelines.lib.ingest import GPU_SOURCES, MARKET_SOURCES

SQL_DIR = REPO_ROOT / "sql"

# raw table -> the asset keys that load it (every source declares its raw tables in its SPEC;
# each source also writes the quarantine and the load log)
RAW_TABLE_PRODUCERS: dict[str, list[dg.AssetKey]] = {
    **{
        table: [source_asset_key(s) for s in ids]
        for table, ids in registry.raw_table_producers().items()
    },
    "raw.quarantine": [source_asset_key(s) for s in [*GPU_SOURCES, *MARKET_SOURCES]],
    "raw.load_log": [source_asset_key(s) for s in [*GPU_SOURCES, *MARKET_SOURCES]],
}


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("."))


class SqlModelsConfig(dg.Config):
    """``full_refresh``: rebuild incremental models (``marts.gpu_price_daily``) from scratch."""

    full_refresh: bool = False


def build_model_assets(sql_dir: Path = SQL_DIR) -> dg.AssetsDefinition:
    """One multi-asset covering every model of the dbt_like project in ``sql_dir``."""
    project = Project.load(sql_dir)
    specs, check_specs = [], []
    for name, model in project.models.items():
        deps = [model_key(d) for d in sorted(model.depends_on)]
        for src in sorted(model.sources):
            deps.extend(RAW_TABLE_PRODUCERS.get(src, []))
        specs.append(
            dg.AssetSpec(
                key=model_key(name),
                deps=deps,
                description=model.description or None,
                group_name=MODELS_GROUP,
                code_version=model.code_version,
                kinds={"sql", "duckdb"},
                skippable=True,
                metadata={
                    "relation": name,
                    "path": str(Path(model.path).relative_to(sql_dir.parent)),
                    "materialized": model.materialized,
                },
            )
        )
        for test in model.tests:
            check_specs.append(
                dg.AssetCheckSpec(
                    name=_check_name(test.name),
                    asset=model_key(name),
                    description=f"{test.name} (severity {test.severity})",
                    blocking=test.severity == "error",
                    additional_deps=[
                        model_key(d)
                        for d in sorted(test.depends_on)
                        if d != name and d in project.models
                    ],
                )
            )

    @dg.multi_asset(
        name="sql_models",
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        pool=WAREHOUSE_POOL,
    )
    def _sql_models(
        context: dg.AssetExecutionContext, config: SqlModelsConfig, tracker: TrackerResource
    ):
        selected = [".".join(k.path) for k in context.selected_asset_keys]
        with warehouse.writer(tracker.db_path()) as con:
            result = project.build(con, select=selected, full_refresh=config.full_refresh)
        failed_models = []
        for name, outcome in result.models.items():
            if outcome.status == "success":
                yield dg.MaterializeResult(
                    asset_key=model_key(name),
                    metadata={
                        "seconds": round(outcome.seconds, 3),
                        **({"dagster/row_count": outcome.rows} if outcome.rows is not None else {}),
                        **({"build": outcome.message} if outcome.message else {}),
                    },
                )
            else:
                failed_models.append(f"{name}: {outcome.status} {outcome.message}".strip())
                context.log.error(f"model {name} {outcome.status}: {outcome.message}")
        for test in result.tests:
            yield dg.AssetCheckResult(
                asset_key=model_key(test.model),
                check_name=_check_name(test.name),
                passed=test.status == "pass",
                severity=dg.AssetCheckSeverity.ERROR
                if test.severity == "error"
                else dg.AssetCheckSeverity.WARN,
                metadata={"failing_rows": test.failures, "message": test.message or ""},
            )
        if failed_models:
            raise dg.Failure(description="; ".join(failed_models)[:2000])

    return _sql_models


def _check_name(test_name: str) -> str:
    """Dagster check names allow letters, digits and underscores only."""
    out = "".join(c if c.isalnum() else "_" for c in test_name)
    return out[:200]
