"""Serving cost on the imported real price history joined to real MLPerf benchmark rows:
``gpu-tracker import`` of the 125-day observation log, the MLPerf summaries replayed from an
archive through the market-source ingest path, the real LiteLLM price map as the API side;
then ``marts.serving_cost_daily`` (the Dagster asset) and ``gpu-tracker serving-cost``."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import dagster as dg
import duckdb
import polars as pl
import pytest

from pipelines.cli import main as cli
from pipelines.defs.models import sql_models
from pipelines.defs.resources import TrackerResource
from pipelines.lib import ingest, market, publish, serving, warehouse
from pipelines.lib.alerts import alert_config, rule_serving_cost_move
from pipelines.lib.config import load_config
from pipelines.lib.report import render_report
from pipelines.lib.sources import litellm_prices

OBS = "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"
LITELLM = "api_prices/litellm/model_prices_and_context_window_2026-06-06_litellm-1.88.0.json.gz"
LOAD_DAY = dt.date(2026, 6, 15)


def _rows(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


@pytest.fixture
def loaded(tracker_env, tmp_path, shared_data, monkeypatch):
    assert cli(["import", str(shared_data / OBS), "--format", "obs-log"]) == 0
    config = load_config()
    # the summaries as the archive holds them: <archive>/mlperf_inference/<date>/<name>
    day_dir = tmp_path / "archive" / "mlperf_inference" / LOAD_DAY.isoformat()
    day_dir.mkdir(parents=True)
    for f in (shared_data / "serving_benchmarks").glob("mlperf_inference_*"):
        shutil.copyfile(f, day_dir / f.name)
    # until the lead wires the source into the registry-driven ingest
    monkeypatch.setitem(
        ingest.MARKET_SOURCES, "mlperf_inference", "pipelines.lib.sources.mlperf_inference"
    )
    res = ingest.ingest_market(
        "mlperf_inference", LOAD_DAY, config, from_archive=tmp_path / "archive"
    )
    warehouse.load_market_day(
        config.warehouse_path,
        source="mlperf_inference",
        days=[LOAD_DAY],
        tables=res.tables,
        quarantine=res.quarantine,
        payloads=res.payloads,
        mode=res.mode,
        status=res.status,
    )
    # the API side: the real LiteLLM price map of 2026-06-06 through the API-price mart
    content = (shared_data / LITELLM).read_bytes()
    prices = litellm_prices.parse("model_prices.json.gz", content)["raw.api_prices"]
    prices = prices.filter(prices["problem"].is_null())
    prices = prices.select(
        pl.lit(dt.date(2026, 6, 6)).alias("date"),
        pl.lit("litellm_prices").alias("source"),
        pl.all(),
    )
    with warehouse.writer(config.warehouse_path) as con:
        warehouse.replace_table(con, "marts.api_prices_daily", market.api_prices_daily(prices))
    return config.warehouse_path


@pytest.mark.slow
def test_serving_cost_on_the_real_price_history(loaded, capsys):
    db = loaded
    # every token row is kept: loaded or quarantined (with its accelerator name)
    n_loaded = _rows(db, "select count(*) from raw.serving_benchmarks")[0][0]
    n_quarantined = _rows(
        db, "select count(*) from raw.quarantine where source = 'mlperf_inference'"
    )[0][0]
    assert (n_loaded, n_quarantined) == (312 + 379 + 329 + 287, 17 + 27 + 55 + 67)
    assert (
        _rows(
            db,
            "select count(*) from raw.quarantine where source = 'mlperf_inference' and "
            "reason = 'mixed_accelerators' and record like '%MI350X%'",
        )[0][0]
        == 8
    )

    # the serving-cost model alone, out of the one multi-asset of every sql/ model
    result = dg.materialize(
        [sql_models],
        selection=[dg.AssetKey(["marts", "serving_cost_daily"])],
        resources={"tracker": TrackerResource()},
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]

    # one real row by hand: H200 SXM on-demand on 2026-06-01, llama2-70b (Dell XE9680, v5.1)
    median, lowest, provider = _rows(
        db,
        "select market_level_like_for_like, lowest_price, lowest_provider from "
        "marts.daily_summary where date = '2026-06-01' and "
        "gpu_model = 'H200-SXM-141GB' and pricing = 'on_demand'",
    )[0]
    row = _rows(
        db,
        "select usd_per_gpu_hour, tokens_per_second_per_gpu, usd_per_million_output_tokens, "
        "usd_per_gpu_hour_cheapest, cheapest_provider, usd_per_million_output_tokens_cheapest, "
        "benchmark_source, benchmark_round, benchmark_system, scenario, "
        "api_output_usd_per_mtok, api_price_date, serving_margin "
        "from marts.serving_cost_daily where date = '2026-06-01' and "
        "model = 'llama-2-70b-chat' and gpu_model = 'H200-SXM-141GB' and pricing = 'on_demand'",
    )
    assert len(row) == 1
    (
        price,
        tps,
        cost,
        cheap,
        cheap_provider,
        cheap_cost,
        src,
        rnd,
        system,
        scenario,
        api,
        api_date,
        margin,
    ) = row[0]
    assert (
        price == pytest.approx(median)
        and cheap == pytest.approx(lowest)
        and cheap_provider == provider
    )
    # the like-for-like level is the chained index in USD, anchored at the newest date's median
    # of included votes: level(d) = median(newest) x index(d) / index(newest)
    anchor, anchor_index = _rows(
        db,
        "select last(median_price_included order by date), "
        "last(index_level order by date) from marts.gpu_price_index where "
        "gpu_model = 'H200-SXM-141GB' and pricing = 'on_demand' and segment = 'all'",
    )[0]
    level, index = _rows(
        db,
        "select level_usd_per_gpu_hour, index_level from marts.gpu_price_index where "
        "gpu_model = 'H200-SXM-141GB' and pricing = 'on_demand' and segment = 'all' "
        "and date = '2026-06-01'",
    )[0]
    assert level == pytest.approx(price) and level == pytest.approx(anchor * index / anchor_index)
    assert tps == pytest.approx(35316.7 / 8)
    assert cost == pytest.approx(median / (tps * 3600) * 1e6)
    assert cheap_cost == pytest.approx(lowest / (tps * 3600) * 1e6)
    assert (src, rnd, system, scenario) == (
        "mlperf_inference",
        "v5.1",
        "Dell PowerEdge XE9680 (8xH200-SXM-141GB, TensorRT)",
        "Offline",
    )
    assert api is None and api_date is None and margin is None  # 2026-06-01 is before the price map
    # after 2026-06-06 the LiteLLM price sits beside it: cheapest paid llama-2-70b-chat = $2.75
    api, api_date, margin, cost = _rows(
        db,
        "select api_output_usd_per_mtok, api_price_date, serving_margin, "
        "usd_per_million_output_tokens from marts.serving_cost_daily "
        "where date = '2026-06-15' and model = 'llama-2-70b-chat' and "
        "gpu_model = 'H200-SXM-141GB' and pricing = 'on_demand'",
    )[0]
    assert (api, str(api_date)) == (2.75, "2026-06-06")
    assert margin == pytest.approx(2.75 / cost)

    # fills for every model x GPU that has both a benchmark and a price, ranked per model
    keys = _rows(
        db,
        "select count(*), count(distinct (date, model, gpu_model, pricing)) "
        "from marts.serving_cost_daily",
    )[0]
    assert keys[0] == keys[1] > 0
    ranks = _rows(
        db,
        "select gpu_model, cost_rank from marts.serving_cost_daily where date = '2026-06-15' "
        "and model = 'llama-2-70b-chat' and pricing = 'on_demand' order by "
        "usd_per_million_output_tokens",
    )
    assert [r for _, r in ranks] == list(range(1, len(ranks) + 1)) and len(ranks) >= 4
    expected_pairs = _rows(
        db,
        """
        with b as (select distinct model_key, gpu_model from raw.serving_benchmarks
                   where division = 'closed' and availability = 'available' and scenario = 'Offline'),
             p as (select distinct gpu_model from marts.daily_summary where market_median > 0)
        select count(*) from b join p using (gpu_model)""",
    )[0][0]
    assert (
        _rows(db, "select count(distinct (model, gpu_model)) from marts.serving_cost_daily")[0][0]
        == expected_pairs
    )

    # the CLI: the done-when command, and --date pricing from the same market level
    capsys.readouterr()
    assert (
        cli(
            [
                "serving-cost",
                "--model",
                "llama2-70b",
                "--gpu",
                "H200-SXM-141GB",
                "--usd-per-hour",
                "3.00",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"]["round"] == "v5.1" and out["benchmark"]["accelerators"] == 8
    assert out["usd_per_million_output_tokens"] == pytest.approx(3.0 / (35316.7 / 8 * 3600) * 1e6)
    assert (
        cli(
            [
                "serving-cost",
                "--model",
                "llama2-70b",
                "--gpu",
                "H200-SXM-141GB",
                "--date",
                "2026-06-01",
                "--format",
                "json",
            ]
        )
        == 0
    )
    out = json.loads(capsys.readouterr().out)
    assert out["usd_per_gpu_hour"] == pytest.approx(median)
    assert out["usd_per_million_output_tokens"] == pytest.approx(median / (tps * 3600) * 1e6)
    assert serving.MARKET_LEVEL[1] in out["price_basis"]

    con = duckdb.connect(str(db), read_only=True)
    try:
        frames = publish.read_marts(con)
        mart = con.sql("select * from marts.serving_cost_daily").pl()
    finally:
        con.close()

    # the alert rule: a model's cheapest serving cost moving >= 10% against its previous date
    cheapest = (
        mart.filter((pl.col("model") == "llama-2-70b-chat") & (pl.col("pricing") == "on_demand"))
        .group_by("date")
        .agg(pl.col("usd_per_million_output_tokens").min().alias("c"))
        .sort("date")
        .with_columns(((pl.col("c") / pl.col("c").shift(1) - 1) * 100).alias("pct"))
    )
    moved = cheapest.filter(pl.col("pct").abs() >= 10)
    calm = cheapest.filter(pl.col("pct").abs() < 1)
    assert moved.height and calm.height
    day, pct = moved["date"][0], moved["pct"][0]
    fired = [
        a
        for a in rule_serving_cost_move({"serving_cost_daily": mart}, day, alert_config(None))
        if a["subject"] == "serving_cost/llama-2-70b-chat/on_demand"
    ]
    assert len(fired) == 1 and json.loads(fired[0]["payload"])["change_pct"] == pytest.approx(pct)
    assert not [
        a
        for a in rule_serving_cost_move(
            {"serving_cost_daily": mart}, calm["date"][0], alert_config(None)
        )
        if a["subject"] == "serving_cost/llama-2-70b-chat/on_demand"
    ]

    # the report section: per model, GPUs ranked by cost per token, with a chart over time
    frames["serving_cost_daily"] = mart
    page = render_report(frames, dt.date(2026, 6, 15))
    section = page[page.index('<section id="serving">') :]
    section = section[: section.index("</section>")]
    assert "<h2>Cost per 1M tokens</h2>" in section and "<svg" in section
    llama = section[section.index("<h3>llama-2-70b-chat</h3>") :]
    llama = llama[: llama.index("<h3>", 4)] if "<h3>" in llama[4:] else llama
    ranked = (
        mart.filter(
            (pl.col("date") == dt.date(2026, 6, 15))
            & (pl.col("model") == "llama-2-70b-chat")
            & (pl.col("pricing") == "on_demand")
        )
        .sort("cost_rank")["gpu_model"]
        .to_list()
    )
    positions = [llama.index(f">{g}<") for g in ranked]
    assert positions == sorted(positions)
    api_day = section[section.index("<h3>gpt-oss-120b</h3>") :]
    assert "API price (cheapest paid listing): $0.25" in api_day[:400]


def test_serving_cost_without_benchmarks_says_how_to_load_them(tracker_env, capsys):
    config = load_config()
    with warehouse.writer(config.warehouse_path):
        pass  # an empty warehouse with the raw tables
    assert (
        cli(
            [
                "serving-cost",
                "--model",
                "llama2-70b",
                "--gpu",
                "H200-SXM-141GB",
                "--usd-per-hour",
                "3",
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert "no mlperf_inference rows in raw.serving_benchmarks" in err[0]
    assert "gpu-tracker run --sources mlperf_inference" in err[0]
