"""The static HTML report on small hand-built marts with known values."""

from __future__ import annotations

import datetime as dt
import re

import markupsafe
import polars as pl
import pytest
from bs4 import BeautifulSoup

from pipelines.lib import report as R

AS_OF = dt.date(2026, 6, 15)
D = [AS_OF - dt.timedelta(days=k) for k in (2, 1, 0)]  # three days of history, as_of last
GEN = dt.datetime(2026, 6, 15, 7, 30, tzinfo=dt.UTC)
HOSTILE = "<script>alert(1)</script>\"&'"
HEADINGS = [
    "Today's market",
    "Price history per GPU and provider",
    "Spreads over time",
    "Cost per FLOP ranking",
    "What moved today",
    "API prices per 1M tokens",
    "Cost per 1M tokens",
    "About the data",
]
TIER = {"vastai": "marketplace", "nebius": "neocloud", "lambda": "neocloud", "aws": "hyperscaler"}


def prices(rows) -> pl.DataFrame:
    """rows: (date, gpu_model, provider, pricing, price_min, n_offers)"""
    return pl.DataFrame(
        [
            {
                "date": d,
                "gpu_model": g,
                "gpu_family": g.split("-")[0],
                "provider": p,
                "provider_tier": TIER.get(p, "unknown"),
                "pricing": pr,
                "price_min": x,
                "price_median": x + 0.1,
                "price_max": x + 0.2,
                "n_offers": n,
                "n_rows": n,
                "available_gpus": None,
                "gpu_variant_assumed": False,
                "sources": "test",
            }
            for d, g, p, pr, x, n in rows
        ],
        schema_overrides={"available_gpus": pl.Int64},
    )


def summary(rows) -> pl.DataFrame:
    """rows: (date, gpu, pricing, median, p25, p75, lowest, lowest_provider, c1, c7, c30,
    n_providers, n_offers, confidence)"""
    out = []
    for d, g, pr, med, p25, p75, low, lowp, c1, c7, c30, n_prov, n_off, conf in rows:
        out.append(
            {
                "date": d,
                "gpu_model": g,
                "gpu_family": g.split("-")[0],
                "pricing": pr,
                "market_median": med,
                "p25_price": p25,
                "p75_price": p75,
                "lowest_price": low,
                "lowest_provider": lowp,
                "change_1d_pct": c1,
                "change_7d_pct": c7,
                "change_30d_pct": c30,
                "n_providers": n_prov,
                "n_offers": n_off,
                "available_gpus": None,
                "n_providers_reporting_availability": 0,
                "n_providers_window": n_prov,
                "coverage": 1.0,
                "confidence": conf,
                "methodology_version": "1.0",
            }
        )
    return pl.DataFrame(
        out,
        schema_overrides={
            "available_gpus": pl.Int64,
            "change_1d_pct": pl.Float64,
            "change_7d_pct": pl.Float64,
            "change_30d_pct": pl.Float64,
        },
    )


def spreads(rows) -> pl.DataFrame:
    """rows: (date, gpu, pricing, cheapest_provider, cheapest, dearest_provider, dearest,
    hyperscaler_premium)"""
    out = []
    for d, g, pr, cp, c, dp, dx, prem in rows:
        out.append(
            {
                "date": d,
                "gpu_model": g,
                "pricing": pr,
                "gpu_family": g.split("-")[0],
                "n_providers": 3,
                "cheapest_provider": cp,
                "cheapest_price": c,
                "dearest_provider": dp,
                "dearest_price": dx,
                "p25_price": c,
                "median_price": c,
                "p75_price": dx,
                "hyperscaler_median": dx,
                "neocloud_median": c,
                "marketplace_median": None,
                "n_hyperscaler": 1,
                "n_neocloud": 1,
                "n_marketplace": 0,
                "non_hyperscaler_median": c,
                "max_min_ratio": dx / c,
                "hyperscaler_premium": prem,
                "hyperscaler_vs_neocloud": prem,
                "hyperscaler_vs_marketplace": None,
                "neocloud_vs_marketplace": None,
            }
        )
    return pl.DataFrame(
        out,
        schema_overrides={
            "marketplace_median": pl.Float64,
            "hyperscaler_vs_marketplace": pl.Float64,
            "neocloud_vs_marketplace": pl.Float64,
        },
    )


def cost_per_flop(rows) -> pl.DataFrame:
    """rows: (date, gpu, provider, pricing, usd_per_gpu_hour, bf16_tflops, bf16_is_fp16)"""
    out = []
    for d, g, p, pr, usd, tflops, is_fp16 in rows:
        per = usd / (tflops / 1000.0)
        out.append(
            {
                "date": d,
                "gpu_model": g,
                "gpu_family": g.split("-")[0],
                "provider": p,
                "provider_tier": TIER.get(p, "unknown"),
                "pricing": pr,
                "usd_per_gpu_hour": usd,
                "usd_per_gpu_hour_median": usd,
                "usd_per_pflop_hour_fp64": None,
                "usd_per_pflop_hour_fp32": None,
                "usd_per_pflop_hour_tf32": None,
                "usd_per_pflop_hour_bf16": per,
                "usd_per_pflop_hour_fp8": None,
                "usd_per_pop_hour_int8": None,
                "usd_per_gb_vram_hour": usd / 80.0,
                "bf16_is_fp16": is_fp16,
            }
        )
    return pl.DataFrame(
        out,
        schema_overrides={
            c: pl.Float64
            for c in (
                "usd_per_pflop_hour_fp64",
                "usd_per_pflop_hour_fp32",
                "usd_per_pflop_hour_tf32",
                "usd_per_pflop_hour_fp8",
                "usd_per_pop_hour_int8",
            )
        },
    )


def changes(rows) -> pl.DataFrame:
    """rows: (date, gpu, provider, pricing, kind, prev_date, price_prev, price_now)"""
    out = []
    for d, g, p, pr, kind, prev_d, prev, now in rows:
        out.append(
            {
                "date": d,
                "gpu_model": g,
                "gpu_family": g.split("-")[0],
                "provider": p,
                "provider_tier": TIER.get(p, "unknown"),
                "pricing": pr,
                "kind": kind,
                "prev_date": prev_d,
                "days_since_prev": (d - prev_d).days if prev_d else None,
                "price_prev": prev,
                "price_now": now,
                "change_abs": now - prev if prev is not None else None,
                "change_pct": (now / prev - 1) * 100 if prev is not None else None,
                "n_offers_prev": 1 if prev is not None else None,
                "n_offers_now": 1,
            }
        )
    return pl.DataFrame(
        out,
        schema_overrides={
            "prev_date": pl.Date,
            "days_since_prev": pl.Int64,
            "price_prev": pl.Float64,
            "change_abs": pl.Float64,
            "change_pct": pl.Float64,
            "n_offers_prev": pl.Int64,
        },
    )


H100, MI300 = "H100-SXM-80GB", "MI300X-192GB"


def serving_cost(rows) -> pl.DataFrame:
    """rows: (date, model, gpu_model, usd_per_gpu_hour, tokens/s per GPU, API USD per 1M out);
    cost per 1M output tokens by the mart's formula, ranked per date and model."""
    df = pl.DataFrame(
        [
            {
                "date": d,
                "model": m,
                "gpu_model": g,
                "pricing": "on_demand",
                "usd_per_gpu_hour": p,
                "tokens_per_second_per_gpu": t,
                "api_output_usd_per_mtok": api,
                "benchmark_round": "v5.1",
                "benchmark_system": f"8x {g}",
                "scenario": "Offline",
            }
            for d, m, g, p, t, api in rows
        ]
    )
    df = df.with_columns(
        (pl.col("usd_per_gpu_hour") / (pl.col("tokens_per_second_per_gpu") * 3600) * 1e6).alias(
            "usd_per_million_output_tokens"
        )
    )
    return df.with_columns(
        pl.col("usd_per_million_output_tokens")
        .rank("min")
        .over(["date", "model"])
        .cast(pl.Int64)
        .alias("cost_rank"),
        (pl.col("api_output_usd_per_mtok") / pl.col("usd_per_million_output_tokens")).alias(
            "serving_margin"
        ),
    )


def make_frames(provider: str = "vastai", gpu: str = H100) -> dict[str, pl.DataFrame]:
    price_rows = []
    for d in D:
        price_rows += [
            (d, gpu, provider, "on_demand", 1.99, 40),
            (d, gpu, "nebius", "on_demand", 2.49, 2),
            (d, gpu, "lambda", "on_demand", 2.69 if d == AS_OF else 2.99, 3),
            (d, gpu, "aws", "on_demand", 6.88, 1),
            (d, gpu, provider, "spot", 1.20, 10),
            (d, MI300, "nebius", "on_demand", 2.10, 1),
        ]
    # a row after as_of must not show anywhere
    price_rows.append((AS_OF + dt.timedelta(days=1), gpu, "futureco", "on_demand", 0.01, 1))
    s_rows = []
    for d in D:
        s_rows += [
            (
                d,
                gpu,
                "on_demand",
                2.69 if d == AS_OF else 2.74,
                2.37,
                3.74,
                1.99,
                provider,
                -1.8 if d == AS_OF else None,
                12.345,
                None,
                4,
                46,
                "high",
            ),
            (d, gpu, "spot", 1.20, 1.20, 1.20, 1.20, provider, 0.0, None, None, 1, 10, "low"),
            (
                d,
                MI300,
                "on_demand",
                2.10,
                2.10,
                2.10,
                2.10,
                "nebius",
                None,
                None,
                None,
                1,
                1,
                "medium",
            ),
        ]
    serving_rows = []  # (date, model, gpu, USD/GPU-h, output tok/s per GPU, API USD per 1M out)
    for d in D:
        serving_rows += [
            (d, "llama-2-70b-chat", gpu, 2.69 if d == AS_OF else 2.74, 4000.0, 0.9),
            (d, "llama-2-70b-chat", MI300, 2.10, 3000.0, 0.9),
        ]
    serving_rows.append((AS_OF + dt.timedelta(days=1), "llama-2-70b-chat", gpu, 0.01, 4000.0, 0.9))
    return {
        "serving_cost_daily": serving_cost(serving_rows),
        "api_price_families": pl.DataFrame(
            {
                "date": [D[0], AS_OF],
                "family": ["Llama 3.1 8B", "Llama 3.1 8B"],
                "cheapest_output_usd_per_mtok": [0.20, 0.03],
                "cheapest_model_id": ["a/llama", "b/llama"],
            }
        ),
        "gpu_price_daily": prices(price_rows),
        "daily_summary": summary(s_rows),
        "provider_spreads": spreads(
            [
                (D[1], gpu, "on_demand", provider, 1.99, "aws", 6.88, 2.5),
                (AS_OF, gpu, "on_demand", provider, 1.99, "aws", 6.88, 2.56),
                (AS_OF, MI300, "on_demand", "nebius", 2.10, "nebius", 2.10, None),
            ]
        ),
        "cost_per_flop": cost_per_flop(
            [
                (AS_OF, gpu, provider, "on_demand", 1.99, 989.4, False),
                (AS_OF, gpu, "aws", "on_demand", 6.88, 989.4, False),
                (AS_OF, gpu, provider, "spot", 1.20, 989.4, False),  # spot: not in the ranking
                (AS_OF, MI300, "nebius", "on_demand", 2.10, 1307.4, True),
            ]
        ),
        "price_changes": changes(
            [
                (AS_OF, gpu, "lambda", "on_demand", "down", D[1], 2.99, 2.69),
                (AS_OF, gpu, "nebius", "spot", "up", D[0], 1.60, 1.80),
                (AS_OF, MI300, "vultr", "on_demand", "new", None, None, 2.50),
                (D[1], gpu, "nebius", "on_demand", "up", D[0], 2.00, 2.49),  # not today
            ]
        ),
    }


def render(frames, **kw) -> str:
    kw.setdefault("generated_at", GEN)
    return R.render_report(frames, AS_OF, **kw)


def soup(out: str) -> BeautifulSoup:
    return BeautifulSoup(out, "html.parser")


def section(doc: BeautifulSoup, heading: str):
    h2 = next(h for h in doc.find_all("h2") if h.get_text() == heading)
    return h2.parent


def rows_of(table) -> list[list[str]]:
    return [[c.get_text() for c in tr.find_all("td")] for tr in table.find("tbody").find_all("tr")]


# ---------------------------------------------------------------------------- structure


def test_parses_with_every_section_heading():
    out = render(make_frames())
    doc = soup(out)
    assert out.startswith("<!DOCTYPE html>")
    assert doc.find("h1").get_text() == "GPU market report"
    assert [h.get_text() for h in doc.find_all("h2")] == HEADINGS
    assert doc.find("style") is not None
    assert not doc.find_all(class_="nodata")


def test_self_contained_inline_svg_no_external_resources():
    out = render(make_frames())
    doc = soup(out)
    svgs = doc.find_all("svg")
    # 2 history charts (H100, MI300X) + 2 band charts + 1 bar chart + 1 API price chart
    # + 1 cost-per-1M-tokens chart
    assert len(svgs) == 7
    paths = [p["d"] for p in doc.find_all("path")]
    assert paths and all(re.fullmatch(r"M[\d.,LZ]+", d) for d in paths)
    assert doc.find_all("rect")  # bars and legend swatches
    for tag in ("script", "link", "img", "iframe", "object", "embed"):
        assert doc.find(tag) is None, tag
    assert "http" not in out.lower()
    assert "url(" not in out and "@import" not in out
    assert all(not a.startswith(("src", "on")) for t in doc.find_all(True) for a in t.attrs)
    # internal anchors only
    assert {a["href"] for a in doc.find_all("a")} == {
        "#market",
        "#history",
        "#spreads",
        "#flops",
        "#moves",
        "#api",
        "#serving",
    }


def test_render_is_deterministic():
    frames = make_frames()
    assert render(frames) == render(frames)
    # no generated_at: no clock read either
    a = R.render_report(frames, AS_OF)
    b = R.render_report(make_frames(), AS_OF)
    assert a == b and "not recorded" in a


# ---------------------------------------------------------------------------- values


def test_header_counts_and_versions():
    doc = soup(render(make_frames()))
    facts = {
        d.find("dt").get_text(): d.find("dd").get_text()
        for d in doc.find("dl", class_="facts").find_all("div")
    }
    assert facts["As of"] == "2026-06-15"
    assert facts["Generated"] == "2026-06-15T07:30:00+00:00"
    assert facts["Methodology"] == "1.0"
    assert facts["GPU models"] == "2"
    assert facts["Providers"] == "4"  # vastai, nebius, lambda, aws; futureco is after as_of
    assert facts["Offers"] == "57"  # 40 + 2 + 3 + 1 + 10 + 1


def test_todays_market_table():
    doc = soup(render(make_frames()))
    sec = section(doc, "Today's market")
    rows = rows_of(sec.find("table"))
    # popular order: H100 before MI300X; on-demand before spot
    assert [(r[0], r[1]) for r in rows] == [
        (H100, "on-demand"),
        (H100, "spot"),
        (MI300, "on-demand"),
    ]
    h100 = rows[0]
    assert h100[2] == "$2.69"
    assert h100[3] == "$2.37\u2013$3.74"
    assert h100[4:6] == ["$1.99", "vastai"]
    assert h100[6:9] == ["-1.8%", "+12.3%", "\u2014"]
    assert h100[9:11] == ["4", "46"]
    assert h100[-1] == "high"
    cells = sec.find("tbody").find("tr").find_all("td")
    assert cells[6].span["class"] == ["down"] and cells[7].span["class"] == ["up"]


def test_history_charts_use_only_rows_up_to_as_of():
    out = render(make_frames())
    sec = section(soup(out), "Price history per GPU and provider")
    assert [h.get_text() for h in sec.find_all("h3")] == [H100, MI300]
    legend = [t.get_text() for t in sec.find("svg").find_all("text", class_="legend")]
    # cheapest median first; futureco (after as_of) is not there
    assert [t.split(" $")[0] for t in legend] == ["vastai", "nebius", "lambda", "aws"]
    assert [t.split(" ", 1)[1] for t in legend] == ["$1.99", "$2.49", "$2.69", "$6.88"]
    assert "futureco" not in out
    assert "Showing 4 of 4 providers." in sec.find("figcaption").get_text()


def test_history_caps_providers_per_chart_and_says_so():
    rows = [(d, H100, f"p{i:02d}", "on_demand", 1.0 + i, 1) for d in D for i in range(11)]
    out = R.render_report({"gpu_price_daily": prices(rows)}, AS_OF)
    sec = section(soup(out), "Price history per GPU and provider")
    assert len(sec.find_all("text", class_="legend")) == R.MAX_PROVIDERS_PER_CHART
    assert "Showing 8 of 11 providers" in sec.find("figcaption").get_text()
    assert "p07" in out and "p08" not in out


def test_spreads_band_chart_and_table():
    sec = section(soup(render(make_frames())), "Spreads over time")
    svg = sec.find("svg")
    assert svg.find("path", attrs={"fill-opacity": True}) is not None  # the p25-p75 band
    assert svg.find("path", attrs={"stroke-dasharray": True}) is not None  # lowest price
    legend = [t.get_text() for t in svg.find_all("text", class_="legend")]
    assert legend == ["p25\u2013p75 of provider prices", "market median", "lowest price"]
    rows = rows_of(sec.find("table"))
    assert rows[0][:5] == [H100, "3", "vastai $1.99", "aws $6.88", "3.46\u00d7"]
    assert rows[0][-1] == "2.56\u00d7"
    assert rows[1][0] == MI300 and rows[1][-1] == "\u2014"


def test_cost_per_flop_ranking():
    sec = section(soup(render(make_frames())), "Cost per FLOP ranking")
    labels = [t.get_text() for t in sec.find_all("text", class_="barlabel")]
    assert labels == [f"{MI300} *", H100]  # 2.10/1.3074 = 1.61 < 1.99/0.9894 = 2.01
    values = [t.get_text() for t in sec.find_all("text", class_="barvalue")]
    assert values == ["$1.61 \u00b7 nebius", "$2.01 \u00b7 vastai"]
    assert "dense BF16" in sec.get_text() and "FP16" in sec.get_text()
    assert rows_of(sec.find("table"))[1][:4] == [H100, "vastai", "$2.01", "$1.99"]


def test_what_moved_table():
    sec = section(soup(render(make_frames())), "What moved today")
    rows = rows_of(sec.find("table"))
    # |+12.5%| > |-10.0%|; the new series and yesterday's move are not rows
    assert len(rows) == 2
    assert rows[0][:5] == [H100, "nebius", "spot", "$1.60 \u2192 $1.80", "\u25b2 +12.5%"]
    assert rows[0][6] == "2026-06-13 (2 d)"
    assert rows[1][:5] == [H100, "lambda", "on-demand", "$2.99 \u2192 $2.69", "\u25bc -10.0%"]
    assert rows[1][5] == "-$0.30"
    text = sec.get_text()
    assert "1 new series" in text and "2 price changes: 1 up, 1 down" in text


# ---------------------------------------------------------------------------- safety


def test_hostile_names_are_escaped_everywhere():
    out = render(make_frames(provider=HOSTILE, gpu="H100<b>" + HOSTILE))
    assert "<script" not in out.lower()
    assert "<b>" not in out
    # escaped by markupsafe (jinja2 autoescape): quotes included, as &#34; and &#39;
    assert markupsafe.escape(HOSTILE) in out
    # escaped attribute values stay inside their quotes: the SVG aria-label round-trips
    doc = soup(out)
    assert doc.find("script") is None and doc.find("b") is None
    labels = [s["aria-label"] for s in doc.find_all("svg")]
    assert f"H100<b>{HOSTILE} price history by provider" in labels
    texts = {td.get_text() for td in doc.find_all("td")}
    assert HOSTILE in texts and "H100<b>" + HOSTILE in texts
    assert f"{HOSTILE} $1.99" in texts  # spreads table: cheapest provider
    # every SVG <title> holding the name decodes back to it
    assert any(HOSTILE in t.get_text() for t in doc.find_all("title"))


def test_hostile_title_and_unknown_enum_values():
    frames = make_frames()
    frames["daily_summary"] = frames["daily_summary"].with_columns(
        pl.lit(HOSTILE).alias("confidence"), pl.lit(HOSTILE).alias("methodology_version")
    )
    out = render(frames, title=HOSTILE)
    assert "<script" not in out.lower()
    doc = soup(out)
    assert doc.find("h1").get_text() == HOSTILE
    assert doc.find("title").get_text() == f"{HOSTILE} \u2014 2026-06-15"
    # an unknown confidence gets a fixed class, never one built from the data
    confs = section(doc, "Today's market").find_all("span", class_="conf")
    assert {tuple(c["class"]) for c in confs} == {("conf", "conf-other")}
    assert {c.get_text() for c in confs} == {HOSTILE}
    facts = {
        d.find("dt").get_text(): d.find("dd").get_text()
        for d in doc.find("dl", class_="facts").find_all("div")
    }
    assert facts["Methodology"] == HOSTILE


# ---------------------------------------------------------------------------- missing data


@pytest.mark.parametrize(
    "frames",
    [
        {},
        {name: df.clear() for name, df in make_frames().items()},
        {name: df.select(df.columns[:1]) for name, df in make_frames().items()},  # columns lost
    ],
    ids=["missing", "empty", "malformed"],
)
def test_missing_or_empty_frames_render_no_data_notes(frames):
    out = render(frames)
    doc = soup(out)
    assert [h.get_text() for h in doc.find_all("h2")] == HEADINGS
    notes = [n.get_text() for n in doc.find_all(class_="nodata")]
    # header + market + history + spreads (chart and table) + cost per flop + moves + API prices
    # + cost per 1M tokens
    assert len(notes) == 9
    assert all(n.startswith("No data") for n in notes)
    assert not doc.find_all("svg")


def test_single_missing_frame_only_affects_its_section():
    frames = make_frames()
    del frames["cost_per_flop"]
    doc = soup(render(frames))
    notes = [n.get_text() for n in doc.find_all(class_="nodata")]
    assert notes == ["No data: marts.cost_per_flop is not available."]
    assert section(doc, "Cost per FLOP ranking").find("svg") is None


def test_as_of_without_data_says_so():
    later = AS_OF + dt.timedelta(days=10)
    out = R.render_report(make_frames(), later)
    doc = soup(out)
    header_note = doc.find("header").find(class_="nodata").get_text()
    assert "no market data for 2026-06-25" in header_note
    assert "2026-06-16" in header_note  # futureco's row is the latest data
    market = section(doc, "Today's market").get_text()
    assert (
        "no rows for 2026-06-25" in market
        and "Latest date in marts.daily_summary: 2026-06-15" in market
    )
    # history is still drawn up to the as-of day
    assert section(doc, "Price history per GPU and provider").find("svg") is not None
    assert "no price changes recorded for 2026-06-25" in section(doc, "What moved today").get_text()


def test_null_and_nan_values_render_as_dashes():
    frames = make_frames()
    frames["daily_summary"] = frames["daily_summary"].with_columns(
        pl.lit(float("nan")).alias("p25_price"),
        pl.lit(None, dtype=pl.Float64).alias("lowest_price"),
    )
    rows = rows_of(section(soup(render(frames)), "Today's market").find("table"))
    assert rows[0][3] == "\u2014\u2013$3.74" and rows[0][4] == "\u2014"


def test_single_day_history_draws_dots():
    rows = [
        (AS_OF, H100, "vastai", "on_demand", 1.99, 1),
        (AS_OF, H100, "aws", "on_demand", 6.88, 1),
    ]
    doc = soup(R.render_report({"gpu_price_daily": prices(rows)}, AS_OF))
    svg = section(doc, "Price history per GPU and provider").find("svg")
    assert len(svg.find_all("circle")) == 2


# ---------------------------------------------------------------------------- helpers


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (2.69, "$2.69"),
        (2.0, "$2.00"),
        (0.07, "$0.07"),
        (0.0312, "$0.0312"),
        (1234.5, "$1,234"),
        (-0.3, "-$0.30"),
        (None, "\u2014"),
        (float("nan"), "\u2014"),
        (float("inf"), "\u2014"),
    ],
)
def test_fmt_usd(value, text):
    assert R.fmt_usd(value) == text


def test_fmt_pct_and_ratio():
    assert R.fmt_pct(12.345) == "+12.3%"
    assert R.fmt_pct(-4.0) == "-4.0%"
    assert R.fmt_pct(None) == "\u2014"
    assert R.fmt_ratio(2.5) == "2.50\u00d7"


def test_nice_ticks():
    assert R.nice_ticks(0, 6.88) == [0, 2, 4, 6, 8]
    assert R.nice_ticks(0, 1) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert R.nice_ticks(0, 0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    ticks = R.nice_ticks(0, 0.037)
    assert ticks[0] == 0 and ticks[-1] >= 0.037 and len(ticks) <= 7


def test_gap_breaks_line():
    pts = [
        (dt.date(2026, 1, 1), 1.0),
        (dt.date(2026, 1, 2), 1.5),
        (dt.date(2026, 3, 1), 2.0),
        (dt.date(2026, 3, 2), 2.5),
    ]
    svg = R.line_chart([R.LineSeries("x", pts, R.PALETTE[0])])
    assert svg.count("<path") == 2


def test_api_section_shows_how_far_the_cheapest_price_fell():
    sec = section(soup(render(make_frames())), "API prices per 1M tokens")
    assert sec.find("svg") is not None
    text = sec.get_text(" ")
    assert "Llama 3.1 8B" in text and "$0.20" in text and "$0.03" in text and "85%" in text


def test_cost_per_million_tokens_ranks_gpus_with_the_api_price_beside_them():
    doc = soup(render(make_frames()))
    sec = section(doc, "Cost per 1M tokens")
    assert sec.find("h3").get_text() == "llama-2-70b-chat"
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in sec.find("tbody").find_all("tr")]
    # H100 at $2.69 and 4,000 tok/s: 2.69 / (4000 x 3600) x 1e6 = $0.187; MI300X $2.10 at 3,000: $0.194
    assert [(r[0], r[1], r[4]) for r in rows] == [("1", H100, "$0.187"), ("2", MI300, "$0.194")]
    assert rows[0][7] == "4.82\u00d7"  # API $0.90 / $0.187
    assert "API price (cheapest paid listing): $0.90" in sec.get_text()
    assert (
        sec.find("svg") is not None and "$0.01" not in sec.get_text()
    )  # the row after as_of is not shown


# ---------------------------------------------------------------------------- fit and marks


def constituents(rows) -> pl.DataFrame:
    """rows: (date, gpu, provider, segment, price_used, exclusion_reason or None)"""
    return pl.DataFrame(
        [
            {
                "date": d,
                "gpu_model": g,
                "pricing": "on_demand",
                "segment": seg,
                "provider": p,
                "price_used": x,
                "included": reason is None,
                "exclusion_reason": reason,
            }
            for d, g, p, seg, x, reason in rows
        ],
        schema_overrides={"price_used": pl.Float64, "exclusion_reason": pl.String},
    )


def test_index_exclusions_are_marked_on_the_history_chart_with_a_legend_entry():
    frames = make_frames()
    frames["index_constituents"] = constituents(
        [
            (D[1], H100, "vastai", "all", 1.99, "constant_floor"),
            (AS_OF, H100, "vastai", "all", 1.99, None),  # included: no mark
            (AS_OF, H100, "aws", "hyperscaler", 6.88, "outlier"),  # not the `all` series
            (AS_OF, H100, "nebius", "all", None, "not_reported"),  # no price to mark
        ]
    )
    sec = section(soup(render(frames)), "Price history per GPU and provider")
    h100 = sec.find("svg")
    flags = h100.find_all("path", class_="flag")
    marks = [p.find("title").get_text() for p in flags if p.find("title")]
    legend = [t.get_text() for t in h100.find_all("text", class_="legend")]
    # one diamond on the point, one in the legend
    assert marks == ["vastai 2026-06-14: $1.99 (constant floor)"]
    assert legend[-1] == "not in the index: constant floor"
    assert len(h100.find_all("path", class_="flag")) == 2  # the point and its legend swatch
    assert "left out of the index" in sec.find("figcaption").get_text()
    # without the mart, nothing is marked and the caption does not mention it
    plain = section(soup(render(make_frames())), "Price history per GPU and provider")
    assert not plain.find_all("path", class_="flag")
    assert "left out of the index" not in plain.get_text()


def test_date_axis_labels_carry_the_year():
    months = [(dt.date(2026, 2, 11) + dt.timedelta(days=k), 1.0 + k / 100) for k in range(125)]
    days = [(AS_OF - dt.timedelta(days=k), 2.0) for k in range(20)]
    for pts, pattern in ((months, r"[A-Z][a-z]{2} 2026"), (days, r"[A-Z][a-z]{2} \d{1,2} 2026")):
        svg = soup(str(R.line_chart([R.LineSeries("x", pts, R.PALETTE[0])])))
        ticks = [t.get_text() for t in svg.find_all("text", class_="xtick")]
        assert ticks and all(re.fullmatch(pattern, t) for t in ticks), ticks
    assert "Mar 2026" in [
        t.get_text()
        for t in soup(str(R.line_chart([R.LineSeries("x", months, "#000")]))).find_all(
            "text", class_="xtick"
        )
    ]


def test_log_axis_when_values_span_orders_of_magnitude():
    pts = [(D[0], 15.0), (AS_OF, 15.0)]
    cheap = [(D[0], 0.03), (AS_OF, 0.03)]
    series = [R.LineSeries("dear", pts, R.PALETTE[0]), R.LineSeries("cheap", cheap, "#000")]
    svg = soup(str(R.line_chart(series, log_y="auto")))
    ticks = [t.get_text() for t in svg.find_all("text", class_="tick")]
    assert "log scale" in ticks and "$0" not in ticks and "$0.03" in ticks and "$30" in ticks
    base = float(svg.find("line", class_="xaxis")["y1"])
    top = min(float(g["y1"]) for g in svg.find_all("line", class_="grid"))
    cheap_y = float(svg.find_all("path")[1]["d"].split(",")[1].split("L")[0])
    assert base - cheap_y > 0.1 * (base - top)  # $0.03 stands well clear of the axis
    # a narrow range stays linear from $0
    linear = soup(str(R.line_chart([R.LineSeries("x", pts + [(D[1], 2.0)], "#000")], log_y="auto")))
    assert "log scale" not in linear.get_text() and "$0" in linear.get_text()


def test_log_ticks():
    # 1-2-5 per decade would be ten ticks: thinned to 1-3
    assert R.log_ticks(0.03, 15) == [0.03, 0.1, 0.3, 1.0, 3.0, 10.0, 30.0]
    assert R.log_ticks(0.2, 6.0) == [0.2, 0.5, 1.0, 2.0, 5.0, 10.0]


def test_columns_that_drop_on_narrow_screens_never_include_coverage_or_confidence():
    sec = section(soup(render(make_frames())), "Today's market")
    classes = {th.get_text(): th["class"] for th in sec.find("thead").find_all("th")}
    assert not [c for c in classes["Coverage"] + classes["Confidence"] if c.startswith("drop")]
    dropped = {h for h, c in classes.items() if any(x.startswith("drop-") for x in c)}
    assert {"Offers", "Available GPUs"} <= dropped
    assert {"GPU", "Market median", "Coverage", "Confidence"}.isdisjoint(dropped)
    # every table cell carries its column's classes, so a dropped column drops whole
    first = sec.find("tbody").find("tr").find_all("td")
    assert [td["class"] for td in first] == list(classes.values())
