"""Polars marts (market index and its constituents, cost per FLOP, spreads, daily summary,
price changes) and the published files.

The computations are pure functions in ``pipelines.lib.market_index`` and
``pipelines.lib.analytics``; these assets read their inputs from the warehouse, call them,
and replace each mart in one transaction. They run in ``models_job`` after the SQL models
(same group), under the warehouse writer lock and pool. Each mart has blocking checks (not
empty, unique key) so a broken mart never gets published; the index has one more: every
like-for-like change lies between its matched providers' smallest and largest price
relative (the constituents' unique key is one provider once per date x gpu x pricing x
segment). A rebuild that changes already published values of the index or the daily
summary appends them, old and new, to ``marts.restatements`` (METHODOLOGY.md section 6).
"""

import datetime as dt

import dagster as dg
import polars as pl

from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL
from pipelines.lib import analytics, market_index, publish, warehouse

PRICE_DAILY = dg.AssetKey(["marts", "gpu_price_daily"])
GPU_SPECS = dg.AssetKey(["seeds", "gpu_specs"])
COMPARABLE_OFFERS = dg.AssetKey(["intermediate", "int_comparable_offers"])

MART_DEPS = {
    "index_constituents": [COMPARABLE_OFFERS],
    "gpu_price_index": [COMPARABLE_OFFERS],
    "cost_per_flop": [PRICE_DAILY, GPU_SPECS],
    "provider_spreads": [PRICE_DAILY],
    "daily_summary": [PRICE_DAILY, COMPARABLE_OFFERS],
    "price_changes": [PRICE_DAILY],
}
# marts that need the index (computed first, from the offers)
INDEX_MARTS = {"index_constituents", "gpu_price_index", "daily_summary"}
MART_DOCS = {
    "index_constituents": "Per date x gpu_model x pricing x segment x provider: the provider's one vote "
    "(price_used, source_used after source precedence), whether it is in the "
    "index and, if not, why (exclusion_reason), with each hygiene rule's flag.",
    "gpu_price_index": "Like-for-like GPU rental price index per date x gpu_model x pricing x segment "
    "(all/hyperscaler/neocloud/marketplace): Jevons change over the providers on both "
    "index dates, chained index_level (100 at the start), link status, confidence.",
    "cost_per_flop": "USD per dense PFLOP-hour per precision (usd_per_pflop_hour_bf16 ...) and USD per "
    "GB-VRAM-hour, per date x gpu_model x provider x pricing, from each provider's lowest price.",
    "provider_spreads": "Per date x gpu_model x pricing: cheapest and dearest provider, max/min ratio, "
    "p25/median/p75 across providers, tier medians and hyperscaler premiums.",
    "daily_summary": "Per date x gpu_model x pricing: cross-sectional market median, p25/p75, lowest price "
    "and who offers it and their change vs 1/7/30 days; like-for-like changes from the "
    "index; providers, offers, availability, coverage and confidence.",
    "price_changes": "Every move of a provider's lowest price for a GPU and price type against its "
    "previous observation (kind up/down), and series seen for the first time (new).",
}


def mart_key(name: str) -> dg.AssetKey:
    return dg.AssetKey(["marts", name])


def _compute(
    name: str, prices: pl.DataFrame, specs: pl.DataFrame | None, index: dict[str, pl.DataFrame]
) -> pl.DataFrame:
    if name == "cost_per_flop":
        return analytics.cost_per_flop(prices, specs)
    if name in ("index_constituents", "gpu_price_index"):
        return index[name]
    if name == "daily_summary":
        return analytics.daily_summary(prices, index["gpu_price_index"])
    return getattr(analytics, name)(prices)


def _index_marts(con) -> dict[str, pl.DataFrame]:
    observations = con.sql(market_index.observations_sql()).pl()
    constituents = market_index.index_constituents(observations)
    return {
        "index_constituents": constituents,
        "gpu_price_index": market_index.gpu_price_index(constituents),
    }


def _index_checks(name: str, frame: pl.DataFrame) -> list[dg.AssetCheckResult]:
    if name != "gpu_price_index":
        return []
    linked = frame.filter(pl.col("change_1d_pct").is_not_null())
    rel = 1.0 + linked["change_1d_pct"] / 100.0
    eps = 1e-9
    outside = int(
        ((rel < linked["min_relative"] - eps) | (rel > linked["max_relative"] + eps)).sum()
    )
    return [
        dg.AssetCheckResult(
            asset_key=mart_key(name),
            check_name="change_within_matched_relatives",
            passed=outside == 0,
            metadata={"linked_rows": linked.height, "rows_outside": outside},
        )
    ]


def _published(con, name: str) -> pl.DataFrame | None:
    exists = con.execute(
        "select count(*) from information_schema.tables where table_schema = 'marts' "
        "and table_name = ?",
        [name],
    ).fetchone()[0]
    return con.sql(f"select * from marts.{name}").pl() if exists else None


def _record_restatements(
    con, name: str, before: pl.DataFrame | None, after: pl.DataFrame, run_id: str
) -> int:
    """Append to ``marts.restatements`` every published value of ``name`` this rebuild
    changed or removed (METHODOLOGY.md section 6); returns how many."""
    if name not in market_index.RESTATED_MARTS or before is None:
        return 0
    keys, columns = market_index.RESTATED_MARTS[name]
    rows = market_index.restatements(
        before,
        after,
        name,
        keys,
        columns,
        dt.datetime.now(dt.UTC),
        f"rebuild in Dagster run {run_id}",
    )
    if rows.height:
        con.register("_restated", rows.to_arrow())
        con.execute(
            "create table if not exists marts.restatements as select * from _restated limit 0"
        )
        con.execute("insert into marts.restatements select * from _restated")
        con.unregister("_restated")
    return rows.height


def _check_results(name: str, frame: pl.DataFrame) -> list[dg.AssetCheckResult]:
    keys = analytics.MART_KEYS[name]
    dupes = frame.height - frame.select(keys).unique().height
    return [
        *_index_checks(name, frame),
        # empty is a warning: a warehouse with no GPU offers yet (market sources only) is not corrupt
        dg.AssetCheckResult(
            asset_key=mart_key(name),
            check_name="not_empty",
            passed=frame.height > 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows": frame.height},
        ),
        dg.AssetCheckResult(
            asset_key=mart_key(name),
            check_name="unique_key",
            passed=dupes == 0,
            metadata={"key": ", ".join(keys), "duplicate_rows": dupes},
        ),
    ]


@dg.multi_asset(
    name="polars_marts",
    specs=[
        dg.AssetSpec(
            mart_key(name),
            deps=deps,
            description=MART_DOCS[name],
            group_name=MODELS_GROUP,
            kinds={"polars", "duckdb"},
            skippable=True,
            metadata={"methodology_version": analytics.METHODOLOGY_VERSION},
        )
        for name, deps in MART_DEPS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            check,
            asset=mart_key(name),
            blocking=check == "unique_key",
            description=f"{check.replace('_', ' ')} ({', '.join(analytics.MART_KEYS[name])})",
        )
        for name in MART_DEPS
        for check in ("not_empty", "unique_key")
    ]
    + [
        dg.AssetCheckSpec(
            "change_within_matched_relatives",
            asset=mart_key("gpu_price_index"),
            blocking=True,
            description="every like-for-like change lies between the smallest and largest "
            "price relative of the providers it matched",
        ),
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def polars_marts(context: dg.AssetExecutionContext, tracker: TrackerResource):
    selected = [k.path[-1] for k in context.selected_asset_keys]
    with warehouse.writer(tracker.db_path()) as con:
        prices = con.sql("select * from marts.gpu_price_daily").pl()
        specs = (
            con.sql("select * from seeds.gpu_specs").pl() if "cost_per_flop" in selected else None
        )
        index = _index_marts(con) if INDEX_MARTS & set(selected) else {}
        for name in MART_DEPS:
            if name not in selected:
                continue
            frame = _compute(name, prices, specs, index)
            before = _published(con, name) if name in market_index.RESTATED_MARTS else None
            warehouse.replace_table(con, f"marts.{name}", frame)
            restated = _record_restatements(con, name, before, frame, context.run.run_id)
            context.log.info(
                f"marts.{name}: {frame.height} rows"
                + (f", {restated} restated values" if restated else "")
            )
            metadata = {"dagster/row_count": frame.height}
            if name in market_index.RESTATED_MARTS:
                metadata["restated_values"] = restated
            yield dg.MaterializeResult(asset_key=mart_key(name), metadata=metadata)
            yield from _check_results(name, frame)


@dg.asset(
    key=dg.AssetKey(["published", "daily"]),
    # every published mart: the report and files are written after all of them are built
    deps=[
        PRICE_DAILY,
        *(mart_key(n) for n in MART_DEPS),
        mart_key("api_price_families"),
        mart_key("serving_cost_daily"),
    ],
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
