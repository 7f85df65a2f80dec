"""Model releases, API prices, NVIDIA financials and the margin indicators as Dagster assets.

Pure logic: ``pipelines.lib.market`` (releases, API prices, indicators), ``pipelines.lib.
financials`` (quarters from SEC facts), ``pipelines.lib.model_keys`` (joining model ids across
sources). These assets read the raw family tables and the GPU marts, compute, and replace
each mart in one transaction under the warehouse writer lock; each mart gets a blocking
unique-key check. They run in ``models_job`` with the other marts.
"""

import dagster as dg
import polars as pl

from pipelines.defs.analytics import GPU_SPECS, mart_key
from pipelines.defs.jobs import MODELS_GROUP
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import WAREHOUSE_POOL, source_asset_key
from pipelines.lib import market, registry, warehouse


def _producers(raw_table: str) -> list[dg.AssetKey]:
    """The source assets that load ``raw_table`` (from each source's SPEC)."""
    return [source_asset_key(s) for s in registry.raw_table_producers().get(raw_table, [])]


MARKET_MARTS: dict[str, dict] = {
    "model_releases": {
        "deps": _producers("raw.model_catalog"),
        "key": ["model_key"],
        "doc": "One row per model across OpenRouter, Hugging Face and Epoch AI: first seen, organization, "
        "parameters, active parameters (mixture-of-experts), context length, sources.",
    },
    "api_prices_daily": {
        "deps": _producers("raw.api_prices"),
        "key": ["date", "source", "model_id"],
        "doc": "USD per 1M input / output tokens per date x source x model; OpenRouter and LiteLLM kept "
        "apart, each row with the other source's latest price for the same model and the disagreement.",
    },
    "api_price_families": {
        "deps": [mart_key("api_prices_daily")],
        "key": ["family", "date"],
        "doc": "Cheapest price per 1M output tokens per date for well-known model families (config "
        "[api_families]), across every source and route that lists them.",
    },
    "nvidia_financials": {
        "deps": _producers("raw.sec_facts"),
        "key": ["fiscal_year", "fiscal_quarter"],
        "doc": "NVIDIA per fiscal quarter from SEC EDGAR XBRL: revenue, cost of revenue, gross profit, "
        "gross margin (Q4 = fiscal year - 9-month year to date).",
    },
    "nvidia_margin_indicators": {
        "deps": [
            mart_key("daily_summary"),
            mart_key("provider_spreads"),
            GPU_SPECS,
            mart_key("model_releases"),
            mart_key("api_prices_daily"),
            mart_key("nvidia_financials"),
        ],
        "key": ["date", "indicator", "subject", "pricing"],
        "doc": "Daily (quarterly where the input is) indicators linking GPU prices to NVIDIA's margins: "
        "NVIDIA vs AMD and vs custom-silicon cost per PFLOP, hyperscaler premium, rental-implied "
        "revenue / payback / value vs build cost, generation price vs FLOPS, API margin proxy, "
        "reported gross margin beside the H100 rental index. Formula and assumptions on every row.",
    },
}

DEFAULT_API_FAMILIES = {
    "GPT-4o": r"^gpt-4o(-20\d\d-\d\d-\d\d)?$",
    "GPT-4o mini": r"^gpt-4o-mini(-20\d\d-\d\d-\d\d)?$",
    "Claude 3.5 Sonnet": r"^claude-3[.-]5-sonnet",
    "Llama 3.1 70B": r"llama-3\.1-70b",
    "Llama 3.1 8B": r"llama-3\.1-8b",
    "DeepSeek V3": r"deepseek-(v3|chat)$",
}


def _table(con, name: str) -> pl.DataFrame | None:
    schema, table = name.split(".")
    exists = con.execute(
        "select 1 from information_schema.tables where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchone()
    return con.sql(f"select * from {name}").pl() if exists else None


def _unique_check(name: str, frame: pl.DataFrame) -> dg.AssetCheckResult:
    keys = MARKET_MARTS[name]["key"]
    dupes = frame.height - frame.select(keys).unique().height if frame.height else 0
    return dg.AssetCheckResult(
        asset_key=mart_key(name),
        check_name="unique_key",
        passed=dupes == 0,
        metadata={"key": ", ".join(keys), "duplicate_rows": dupes, "rows": frame.height},
    )


@dg.multi_asset(
    name="market_marts",
    specs=[
        dg.AssetSpec(
            mart_key(n),
            deps=m["deps"],
            description=m["doc"],
            group_name=MODELS_GROUP,
            kinds={"polars", "duckdb"},
            skippable=True,
        )
        for n, m in MARKET_MARTS.items()
    ],
    check_specs=[
        dg.AssetCheckSpec(
            "unique_key",
            asset=mart_key(n),
            blocking=True,
            description=f"unique on ({', '.join(m['key'])})",
        )
        for n, m in MARKET_MARTS.items()
    ],
    can_subset=True,
    pool=WAREHOUSE_POOL,
)
def market_marts(context: dg.AssetExecutionContext, tracker: TrackerResource):
    from pipelines.lib.financials import quarterly_financials
    from pipelines.lib.model_keys import model_key

    config = tracker.load()
    selected = {k.path[-1] for k in context.selected_asset_keys}
    economics = config.data.get("economics", {})
    families = config.data.get("api_families") or DEFAULT_API_FAMILIES
    with warehouse.writer(config.warehouse_path) as con:
        built: dict[str, pl.DataFrame] = {}

        def put(name: str, frame: pl.DataFrame):
            warehouse.replace_table(con, f"marts.{name}", frame)
            built[name] = frame
            context.log.info(f"marts.{name}: {frame.height} rows")
            yield dg.MaterializeResult(
                asset_key=mart_key(name), metadata={"dagster/row_count": frame.height}
            )
            yield _unique_check(name, frame)

        if "model_releases" in selected:
            yield from put(
                "model_releases", market.model_releases(_table(con, "raw.model_catalog"), model_key)
            )
        if "api_prices_daily" in selected:
            yield from put(
                "api_prices_daily", market.api_prices_daily(_table(con, "raw.api_prices"))
            )
        if "api_price_families" in selected:
            api = built.get("api_prices_daily")
            api = api if api is not None else _table(con, "marts.api_prices_daily")
            yield from put(
                "api_price_families",
                market.cheapest_by_family(
                    api if api is not None else pl.DataFrame(schema={"model_key": pl.Utf8}),
                    families,
                ),
            )
        if "nvidia_financials" in selected:
            yield from put(
                "nvidia_financials",
                quarterly_financials(_table(con, "raw.sec_facts"), cik="0001045810"),
            )
        if "nvidia_margin_indicators" in selected:

            def get(name):
                return built[name] if name in built else _table(con, f"marts.{name}")

            summary, spreads = get("daily_summary"), get("provider_spreads")
            if summary is None or spreads is None:
                raise dg.Failure(
                    "marts.daily_summary / marts.provider_spreads missing: build the GPU marts first"
                )
            yield from put(
                "nvidia_margin_indicators",
                market.margin_indicators(
                    summary=summary,
                    spreads=spreads,
                    specs=_table(con, "seeds.gpu_specs"),
                    releases=get("model_releases"),
                    api_daily=get("api_prices_daily"),
                    financials=get("nvidia_financials"),
                    config=economics,
                ),
            )
