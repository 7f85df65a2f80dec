"""Every model of the ``sql/`` project -- SQL and Python -- as Dagster assets, plus the published files.

Mapped the way dagster-dbt maps a dbt project, from what the project declares (YAML + files):

* one asset per model, key = relation name (``marts.daily_summary`` -> ``marts/daily_summary``);
* deps from the model graph (a SQL model's SELECT, a Python model's ``ctx.ref`` calls and
  ``depends_on``); models reading ``raw.*`` depend on the source assets that load it;
* description, column schema (names, types, docs) and metadata from the YAML; code version =
  hash of the model's file;
* one asset check per data test; error-severity tests are blocking, so a failing test stops
  the models downstream of it (dbt build semantics, enforced by dbt_like).

All models build in one step, ``sql_models``, in the ``duckdb_warehouse`` pool: SQL models on
the writer, Python models reading through readers and computing with no lock held, each
writing its table in one short transaction (``pipelines.lib.model_build``). A mart is added
by its YAML entry and its model file; nothing here changes.

``published_daily`` writes the newest day's marts as Parquet/CSV and the HTML report.
"""

from pathlib import Path

import dagster as dg

from dbt_like import Model, Project
from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL, source_asset_key
from pipelines.lib import model_build, publish, registry, warehouse

SQL_DIR = model_build.SQL_DIR


def _raw_table_producers() -> dict[str, list[dg.AssetKey]]:
    """raw table -> the source assets that load it (each source declares its raw tables in
    its SPEC; every source also writes the quarantine and the load log)."""
    producers = {
        table: [source_asset_key(s) for s in ids]
        for table, ids in registry.raw_table_producers().items()
    }
    every_source = [source_asset_key(s) for s in registry.ids()]
    return {**producers, "raw.quarantine": every_source, "raw.load_log": every_source}


RAW_TABLE_PRODUCERS = _raw_table_producers()


def model_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(name.split("."))


class SqlModelsConfig(dg.Config):
    """``full_refresh``: rebuild incremental models (``marts.gpu_price_daily``) from scratch."""

    full_refresh: bool = False


def _check_name(test_name: str) -> str:
    """Dagster check names allow letters, digits and underscores only."""
    out = "".join(c if c.isalnum() else "_" for c in test_name)
    return out[:200]


def _metadata(model: Model, sql_dir: Path) -> dict:
    metadata = {
        "relation": model.name,
        "path": str(Path(model.path).relative_to(sql_dir.parent)),
        "materialized": model.materialized,
        "language": model.language,
        **{str(k): v for k, v in model.meta.items() if isinstance(v, (str, int, float, bool))},
    }
    if model.columns or model.data_types:
        names = list(dict.fromkeys([*model.data_types, *model.columns]))
        metadata["dagster/column_schema"] = dg.TableSchema(
            columns=[
                dg.TableColumn(
                    name=c,
                    type=model.data_types.get(c, "unknown"),
                    description=model.columns.get(c) or None,
                )
                for c in names
            ]
        )
    return metadata


def _spec(project: Project, model: Model, sql_dir: Path) -> dg.AssetSpec:
    deps = [model_key(d) for d in sorted(model.depends_on)]
    for src in sorted(model.sources):
        deps.extend(RAW_TABLE_PRODUCERS.get(src, []))
    return dg.AssetSpec(
        key=model_key(model.name),
        deps=deps,
        description=model.description or None,
        group_name=MODELS_GROUP,
        code_version=model.code_version,
        kinds={"polars", "duckdb"} if model.language == "python" else {"sql", "duckdb"},
        skippable=True,
        metadata=_metadata(model, sql_dir),
    )


def _check_specs(project: Project, model: Model) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(
            name=_check_name(test.name),
            asset=model_key(model.name),
            description=f"{test.name} (severity {test.severity})",
            blocking=test.severity == "error",
            additional_deps=[
                model_key(d)
                for d in sorted(test.depends_on)
                if d != model.name and d in project.models
            ],
        )
        for test in model.tests
    ]


def _results(context: dg.AssetExecutionContext, result):
    """Dagster events of a dbt_like build: materializations, check results, then a failure
    naming every model that did not build."""
    failed = []
    for name, outcome in result.models.items():
        if outcome.status == "success":
            yield dg.MaterializeResult(
                asset_key=model_key(name),
                metadata={
                    "seconds": round(outcome.seconds, 3),
                    **({"dagster/row_count": outcome.rows} if outcome.rows is not None else {}),
                    **({"build": outcome.message} if outcome.message else {}),
                    **outcome.metadata,
                },
            )
        else:
            failed.append(f"{name}: {outcome.status} {outcome.message}".strip())
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
    if failed:
        raise dg.Failure(description="; ".join(failed)[:2000])


def build_model_assets(sql_dir: Path = SQL_DIR) -> dg.AssetsDefinition:
    """One multi-asset covering every model of the dbt_like project in ``sql_dir``."""
    project = Project.load(sql_dir)
    specs = [_spec(project, model, sql_dir) for model in project.models.values()]
    check_specs = [c for model in project.models.values() for c in _check_specs(project, model)]

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
        tracker_config = tracker.load()
        result = project.build(
            model_build.WarehouseSession(tracker_config.warehouse_path),
            select=selected,
            full_refresh=config.full_refresh,
            config=tracker_config.data,
            run_id=context.run.run_id,
        )
        yield from _results(context, result)

    return _sql_models


sql_models = build_model_assets()

# every published mart: the report and files are written after all of them are built
PUBLISHED_DEPS = [model_key(f"marts.{name}") for name in publish.PUBLISHED_TABLES]


@dg.asset(
    key=dg.AssetKey(["published", "daily"]),
    deps=PUBLISHED_DEPS,
    group_name=MODELS_GROUP,
    kinds={"parquet", "csv", "html"},
    description="The newest day's marts as Parquet and CSV plus the static HTML report, under "
    "warehouse/published/<date>/ and warehouse/published/latest/.",
)
def published_daily(
    context: dg.AssetExecutionContext, tracker: TrackerResource
) -> dg.MaterializeResult:
    config = tracker.load()
    with warehouse.reader(config.warehouse_path) as con:
        frames = publish.read_marts(con)
    if publish.latest_date(frames) is None:
        context.log.warning("no GPU prices in the warehouse yet: nothing to publish")
        return dg.MaterializeResult(metadata={"published": False, "reason": "no GPU price data"})
    folder = publish.publish(frames, config.published_dir)
    context.log.info(f"published {folder}")
    return dg.MaterializeResult(
        metadata={
            "folder": str(folder),
            "report": dg.MetadataValue.path(str(folder / "report.html")),
            "as_of": folder.name,
        }
    )
