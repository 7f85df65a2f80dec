"""The market index (methodology 2.0) on small hand-built frames with hand-computed values:
each hygiene rule, source precedence, the Jevons link, the chain, link marks, confidence,
and the weighted median of ``marts.gpu_price_daily`` without one row per offer."""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import duckdb
import polars as pl
import pytest

from pipelines.lib import market_index as M

D = [dt.date(2026, 6, 1) + dt.timedelta(days=i) for i in range(20)]
H100 = "H100-SXM-80GB"


def obs(rows):
    """rows: (date, provider, tier, pricing, price[, feed[, region[, source]]]) for H100."""
    out = []
    for r in rows:
        date, provider, tier, pricing, price = r[:5]
        out.append(
            {
                "date": date,
                "gpu_model": H100,
                "provider": provider,
                "provider_tier": tier,
                "pricing": pricing,
                "source": r[7] if len(r) > 7 else "obs_log",
                "upstream_source": r[5] if len(r) > 5 else f"{provider}.com",
                "region": r[6] if len(r) > 6 else "us",
                "price_min": price,
            }
        )
    return pl.DataFrame(out)


def constituents(rows):
    return M.index_constituents(obs(rows))


def seg(frame, segment="all", pricing="on_demand"):
    return frame.filter((pl.col("segment") == segment) & (pl.col("pricing") == pricing))


# ---------------------------------------------------------------------------- precedence / dedupe


def test_own_feed_outranks_an_aggregator_even_when_the_aggregator_is_cheaper():
    c = seg(
        constituents(
            [
                (D[0], "lambda", "neocloud", "on_demand", 2.99, "getdeploying.com"),
                (D[0], "lambda", "neocloud", "on_demand", 3.29, "lambda.ai"),
            ]
        )
    )
    assert c.height == 1
    row = c.row(0, named=True)
    assert (row["price_used"], row["source_used"], row["feeds_overridden"]) == (
        3.29,
        "lambda.ai",
        "getdeploying.com",
    )
    assert row["included"] and row["n_feeds"] == 2


def test_a_catalog_ranks_between_own_feed_and_aggregator():
    c = seg(
        constituents(
            [
                (D[0], "lambda", "neocloud", "on_demand", 2.50, "getdeploying.com"),
                (D[0], "lambda", "neocloud", "on_demand", 2.80, None, "us", "skypilot_catalog"),
            ]
        )
    )
    assert c.select("price_used", "source_used").row(0) == (2.80, "skypilot_catalog")


def test_runpod_any_region_and_community_spot_collapse_to_one_vote():
    c = constituents(
        [
            (D[0], "runpod", "neocloud", "spot", 1.25, "api.runpod.io", "any"),
            (D[0], "runpod", "marketplace", "spot", 1.25, "api.runpod.io", "community"),
            (D[0], "runpod", "neocloud", "on_demand", 2.69, "api.runpod.io", "secure"),
        ]
    )
    spot_all = seg(c, "all", "spot")
    assert spot_all.height == 1 and spot_all["price_used"].to_list() == [1.25]
    # in the tier segments each offer counts in its own tier, once
    assert seg(c, "marketplace", "spot")["price_used"].to_list() == [1.25]
    assert seg(c, "neocloud", "spot")["price_used"].to_list() == [1.25]
    assert c.height == c.select(M.CONSTITUENT_KEYS).unique().height


def test_a_listing_fetched_twice_changes_nothing():
    rows = [
        (d, p, "neocloud", "on_demand", price * (1 + 0.01 * i))
        for i, d in enumerate(D[:4])
        for p, price in (("a", 2.0), ("b", 3.0), ("c", 4.0))
    ]
    once = M.gpu_price_index(constituents(rows))
    twice = M.gpu_price_index(constituents(rows + [rows[0], rows[4], rows[4]]))
    assert once.equals(twice)
    assert seg(once)["confidence"].to_list() == ["low", "high", "high", "high"]


# ---------------------------------------------------------------------------- hygiene rules


def test_spot_at_or_above_on_demand_is_not_a_spot_price():
    c = constituents(
        [
            (D[0], "runpod", "neocloud", "on_demand", 2.69),
            (D[0], "runpod", "neocloud", "spot", 2.69),  # equal to the cent
            (D[0], "hyper", "neocloud", "on_demand", 2.00),
            (D[0], "hyper", "neocloud", "spot", 2.40),  # above
            (D[0], "vast", "marketplace", "on_demand", 2.00),
            (D[0], "vast", "marketplace", "spot", 1.50),  # a real spot price
            (D[0], "lone", "neocloud", "spot", 1.10),  # no on-demand to compare: kept
        ]
    )
    spot = seg(c, "all", "spot").select("provider", "included", "exclusion_reason").rows()
    assert spot == [
        ("hyper", False, "not_a_spot_price"),
        ("lone", True, None),
        ("runpod", False, "not_a_spot_price"),
        ("vast", True, None),
    ]
    assert seg(c, "all", "on_demand")["included"].all()


def test_a_constant_floor_far_below_the_market_is_excluded():
    rows = []
    for d in D[:6]:
        rows += [
            (d, "runpod", "neocloud", "on_demand", 0.50, "getdeploying.com"),
            (d, "lambda", "neocloud", "on_demand", 3.00),
            (d, "nebius", "neocloud", "on_demand", 2.80),
        ]
    c = seg(constituents(rows))
    rp = c.filter(pl.col("provider") == "runpod")
    assert rp["exclusion_reason"].to_list() == ["constant_floor"] * 6
    assert rp["price_used"].to_list() == [0.50] * 6  # the floor stays visible
    # four days of the same price are not yet "constant"
    c4 = seg(constituents([r for r in rows if r[0] in D[:4]]))
    assert c4.filter(pl.col("provider") == "runpod")["included"].all()


def test_a_cheap_but_plausible_constant_price_is_kept():
    rows = []
    for d in D[:6]:
        rows += [
            (d, "thunder", "neocloud", "on_demand", 0.95),
            (d, "lambda", "neocloud", "on_demand", 3.00),
            (d, "nebius", "neocloud", "on_demand", 2.80),
        ]
    c = seg(constituents(rows))
    assert c["included"].all()  # 0.95 / 2.90 = 0.33 > FLOOR_MAX_RATIO 0.3


def test_a_floor_offer_beside_the_providers_list_price_is_dropped_from_its_vote():
    # RunPod MI300X: region "any" at 0.50 beside secure 1.99, RunPod alone in the market
    rows = []
    for d in D[:5]:
        rows += [
            (d, "runpod", "neocloud", "on_demand", 0.50, "api.runpod.io", "any"),
            (d, "runpod", "neocloud", "on_demand", 1.99, "api.runpod.io", "secure"),
        ]
    c = seg(constituents(rows))
    assert c["price_used"].to_list() == [1.99] * 5
    assert c["included"].all() and c["floor_observations_dropped"].all()


def test_robust_outlier_needs_enough_votes_and_a_large_distance():
    day = [
        (D[0], p, "neocloud", "on_demand", price)
        for p, price in (("a", 2.0), ("b", 2.2), ("c", 2.5), ("d", 2.4), ("e", 14.19))
    ]
    c = seg(constituents(day))
    assert c.filter(pl.col("flag_outlier"))["provider"].to_list() == ["e"]
    assert c.filter(pl.col("provider") == "e")["exclusion_reason"].to_list() == ["outlier"]
    # three votes: too few to call anything an outlier
    c3 = seg(constituents([r for r in day if r[1] in ("a", "b", "e")]))
    assert c3["included"].all()
    # twice the median is a price difference, not an outlier (factor floor 3)
    c2 = seg(constituents(day[:4] + [(D[0], "e", "neocloud", "on_demand", 4.6)]))
    assert c2["included"].all()


def test_panel_lists_recent_absentees_and_drops_them_after_seven_days():
    rows = [(D[0], "a", "neocloud", "on_demand", 2.0), (D[0], "b", "neocloud", "on_demand", 3.0)]
    rows += [(d, "a", "neocloud", "on_demand", 2.0) for d in D[1:10]]
    c = seg(constituents(rows)).filter(pl.col("provider") == "b")
    # b last voted on D0: listed as not_reported on D1..D7, gone from D8
    assert c["date"].to_list() == D[:8]
    assert c["exclusion_reason"].to_list() == [None] + ["not_reported"] * 7
    assert c.filter(pl.col("exclusion_reason") == "not_reported")["price_used"].null_count() == 7


# ---------------------------------------------------------------------------- the index


def test_jevons_link_over_matched_providers_only():
    c = constituents(
        [
            (D[0], "a", "neocloud", "on_demand", 2.0),
            (D[0], "b", "neocloud", "on_demand", 4.0),
            (D[1], "a", "neocloud", "on_demand", 2.2),
            (D[1], "b", "neocloud", "on_demand", 4.0),
            (D[1], "c", "marketplace", "on_demand", 1.0),  # a cheap entrant: not a price move
            (D[2], "a", "neocloud", "on_demand", 2.2),
            (D[2], "b", "neocloud", "on_demand", 4.0),
            (D[2], "c", "marketplace", "on_demand", 0.5),
        ]
    )
    idx = seg(M.gpu_price_index(c)).sort("date")
    r0, r1, r2 = idx.iter_rows(named=True)
    assert (r0["index_level"], r0["change_1d_pct"], r0["link_status"]) == (100.0, None, "base")
    assert r1["change_1d_pct"] == pytest.approx((math.sqrt(1.1 * 1.0) - 1) * 100)  # 4.88 %
    assert r1["index_level"] == pytest.approx(100 * math.sqrt(1.1))
    assert (r1["n_providers"], r1["n_providers_matched"], r1["link_status"]) == (3, 2, "matched")
    assert (r1["min_relative"], r1["max_relative"]) == (pytest.approx(1.0), pytest.approx(1.1))
    # D2: c halves; a and b unchanged -> geometric mean of (1, 1, 0.5)
    assert r2["change_1d_pct"] == pytest.approx((0.5 ** (1 / 3) - 1) * 100)
    assert r2["index_level"] == pytest.approx(100 * math.sqrt(1.1) * 0.5 ** (1 / 3))
    assert set(idx["methodology_version"]) == {"2.0"}


def test_matched_providers_that_did_not_move_give_exactly_zero():
    c = constituents(
        [
            (D[0], "a", "neocloud", "on_demand", 2.0),
            (D[0], "b", "neocloud", "on_demand", 4.0),
            (D[1], "a", "neocloud", "on_demand", 2.0),
            (D[1], "b", "neocloud", "on_demand", 4.0),
            (D[1], "c", "neocloud", "on_demand", 1.0),
        ]
    )
    r1 = seg(M.gpu_price_index(c)).sort("date").row(1, named=True)
    assert r1["change_1d_pct"] == 0.0 and r1["index_level"] == 100.0


def test_links_without_matches_are_marked_and_carry_the_level():
    c = constituents(
        [
            (D[0], "a", "neocloud", "on_demand", 2.0),
            (D[1], "a", "neocloud", "on_demand", 2.2),  # thin: one provider
            (D[2], "b", "neocloud", "on_demand", 9.0),  # no_match: a different provider
            (D[12], "b", "neocloud", "on_demand", 4.5),  # gap: 10 days since the last index date
        ]
    )
    idx = seg(M.gpu_price_index(c)).sort("date")
    assert idx["link_status"].to_list() == ["base", "thin", "no_match", "gap"]
    assert idx["change_1d_pct"].to_list() == [None, pytest.approx(10.0), None, None]
    assert idx["index_level"].to_list() == [
        100.0,
        pytest.approx(110.0),
        pytest.approx(110.0),
        pytest.approx(110.0),
    ]
    assert idx["confidence"].to_list() == ["low"] * 4


def test_confidence_thresholds():
    def day(d, prices):
        return [(d, p, "neocloud", "on_demand", x) for p, x in prices.items()]

    base = {"a": 2.0, "b": 3.0, "c": 4.0, "d": 5.0}
    cases = {
        "high": {"a": 2.0, "b": 3.0, "c": 4.0, "d": 5.0},  # 4 matched, none moved
        "medium_spread": {
            "a": 2.0,
            "b": 3.0,
            "c": 4.0,
            "d": 10.0,
        },  # one doubled: spread log 2 > log 1.5
        "medium_two": {"a": 2.0, "b": 3.0},  # 2 matched, coverage 2/4
        "low_one": {"a": 2.0},  # 1 matched
    }
    got = {}
    for name, today in cases.items():
        idx = seg(M.gpu_price_index(constituents(day(D[0], base) + day(D[1], today)))).sort("date")
        got[name] = idx["confidence"][1]
    assert got == {
        "high": "high",
        "medium_spread": "medium",
        "medium_two": "medium",
        "low_one": "low",
    }


def test_tier_segments_hold_only_their_tier():
    c = constituents(
        [
            (D[0], "aws", "hyperscaler", "on_demand", 6.0),
            (D[0], "lambda", "neocloud", "on_demand", 3.0),
            (D[0], "vastai", "marketplace", "on_demand", 2.0),
            (D[0], "mystery", "unknown", "on_demand", 2.5),
        ]
    )
    by_seg = {s: sorted(seg(c, s)["provider"].to_list()) for s in M.SEGMENTS}
    assert by_seg == {
        "all": ["aws", "lambda", "mystery", "vastai"],
        "hyperscaler": ["aws"],
        "neocloud": ["lambda"],
        "marketplace": ["vastai"],
    }


def test_index_change_over_a_horizon_uses_levels():
    c = constituents(
        [(d, "a", "neocloud", "on_demand", 2.0 + 0.1 * i) for i, d in enumerate(D[:9])]
    )
    idx = M.gpu_price_index(c)
    ch = seg(M.index_change(idx, 7, 1)).sort("date")
    # D7 vs D0: 2.7 / 2.0; D8 vs D1 (exactly 7 back): 2.8 / 2.1
    assert ch["change_7d_like_for_like_pct"].to_list()[7:] == [
        pytest.approx(35.0),
        pytest.approx(100 * (2.8 / 2.1 - 1)),
    ]


def test_missing_columns_are_a_clear_error():
    with pytest.raises(ValueError, match=r"observations lacks column\(s\) \['price_min'\]"):
        M.index_constituents(obs([(D[0], "a", "neocloud", "on_demand", 2.0)]).drop("price_min"))


# ---------------------------------------------------------------------------- gpu_price_daily median

SQL = Path(__file__).resolve().parents[2] / "sql" / "marts" / "gpu_price_daily.sql"


def _price_daily(tmp_path, rows):
    con = duckdb.connect(str(tmp_path / "t.duckdb"))
    con.execute("set memory_limit = '256MB'; set threads = 1")
    con.execute("create schema intermediate")
    frame = pl.DataFrame(
        rows,
        schema={
            "date": pl.Date,
            "gpu_model": pl.Utf8,
            "gpu_family": pl.Utf8,
            "provider": pl.Utf8,
            "provider_tier": pl.Utf8,
            "pricing": pl.Utf8,
            "price_usd_per_gpu_hour": pl.Float64,
            "price_min_usd_per_gpu_hour": pl.Float64,
            "price_max_usd_per_gpu_hour": pl.Float64,
            "n_offers": pl.Int32,
            "available_gpus": pl.Int32,
            "gpu_variant_assumed": pl.Boolean,
            "source": pl.Utf8,
        },
        orient="row",
    )
    con.register("f", frame)
    con.execute("create table intermediate.int_comparable_offers as select * from f")
    return con.sql(SQL.read_text()).pl()


def _row(provider, pricing, price, n):
    return (
        D[0],
        H100,
        "H100",
        provider,
        "neocloud",
        pricing,
        price,
        price,
        price,
        n,
        None,
        False,
        "obs_log",
    )


def test_weighted_median_matches_quantile_cont_over_expanded_offers(tmp_path):
    # offers: 1.0 x3, 2.0 x1, 4.0 x2 -> six values 1 1 1 2 4 4 -> median (1 + 2) / 2 = 1.5
    out = _price_daily(
        tmp_path,
        [
            _row("a", "on_demand", 1.0, 3),
            _row("a", "on_demand", 2.0, 1),
            _row("a", "on_demand", 4.0, 2),
            _row("b", "on_demand", 3.0, 1),
            _row("b", "on_demand", 5.0, 2),
        ],
    )
    med = dict(zip(out["provider"], out["price_median"]))
    assert med == {"a": 1.5, "b": 5.0}  # b: 3 5 5 -> 5


def test_two_billion_offers_do_not_expand_into_rows(tmp_path):
    # under a 256 MB memory limit: expanding 2e9 rows would need ~32 GiB and fail
    out = _price_daily(
        tmp_path, [_row("a", "on_demand", 2.0, 2_000_000_000), _row("a", "on_demand", 9.0, 1)]
    )
    assert out.select("price_median", "n_offers").row(0) == (2.0, 2_000_000_001)


def test_spot_not_below_on_demand_flag(tmp_path):
    out = _price_daily(
        tmp_path,
        [
            _row("a", "on_demand", 2.0, 1),
            _row("a", "spot", 2.0, 1),
            _row("b", "on_demand", 2.0, 1),
            _row("b", "spot", 1.5, 1),
            _row("c", "spot", 1.0, 1),
        ],
    )
    flags = {
        (r["provider"], r["pricing"]): r["spot_not_below_on_demand"]
        for r in out.iter_rows(named=True)
    }
    assert flags == {
        ("a", "on_demand"): False,
        ("a", "spot"): True,
        ("b", "on_demand"): False,
        ("b", "spot"): False,
        ("c", "spot"): False,
    }
    assert set(out["methodology_version"]) == {"2.0"}


# ---------------------------------------------------------------------------- indicators


def test_indicator_ratios_on_one_provider_are_low_confidence():
    from pipelines.lib import market

    specs = pl.DataFrame(
        {"gpu_model": [H100, "MI300X-192GB", "B200-180GB"], "bf16_tflops": [989.4, 1307.4, 2250.0]}
    )
    summary = pl.DataFrame(
        {
            "date": [D[0]] * 3 + [D[1]] * 3,
            "gpu_model": [H100, "MI300X-192GB", "B200-180GB"] * 2,
            "pricing": ["on_demand"] * 6,
            "market_median": [2.0, 2.0, 4.0, 2.0, 2.0, 4.0],
            # D0: one MI300X provider; D1: three on every side but B200 only 'medium'
            "n_providers": [5, 1, 3, 5, 3, 3],
            "n_providers_index": [5, 1, 3, 5, 3, 3],
            "confidence": ["high", "low", "high", "high", "high", "medium"],
        }
    )
    spreads = pl.DataFrame(
        schema={
            "date": pl.Date,
            "gpu_model": pl.Utf8,
            "pricing": pl.Utf8,
            "hyperscaler_premium": pl.Float64,
            "hyperscaler_median": pl.Float64,
            "non_hyperscaler_median": pl.Float64,
        }
    )
    out = market.margin_indicators(summary=summary, spreads=spreads, specs=specs)
    amd = out.filter(
        (pl.col("indicator") == "nvidia_vs_amd_cost_per_pflop")
        & (pl.col("subject") == f"{H100} vs MI300X-192GB")
    ).sort("date")
    assert amd.select("date", "confidence").rows() == [(D[0], "low"), (D[1], "high")]
    assert amd["value"].to_list() == [pytest.approx(1307.4 / 989.4)] * 2  # published, not hidden
    gen = out.filter(pl.col("subject") == f"B200-180GB vs {H100}").sort("date")
    assert gen["confidence"].to_list() == ["high", "medium"]  # the weaker side decides
    assert (
        out.filter(pl.col("indicator") == "payback_months")["confidence"].null_count()
        == out.filter(pl.col("indicator") == "payback_months").height
    )


# ---------------------------------------------------------------------------- report headline


def test_report_headline_moves_are_like_for_like():
    from bs4 import BeautifulSoup

    from pipelines.lib import report

    row = {
        "date": D[0],
        "gpu_model": H100,
        "gpu_family": "H100",
        "pricing": "on_demand",
        "market_median": 2.69,
        "p25_price": 2.15,
        "p75_price": 3.9,
        "lowest_price": 2.04,
        "lowest_provider": "vastai",
        "change_1d_pct": 5.0,
        "change_7d_pct": -2.0,
        "change_30d_pct": -31.0,
        "change_1d_like_for_like_pct": 0.0,
        "change_7d_like_for_like_pct": 0.4,
        "change_30d_like_for_like_pct": -14.2,
        "n_providers": 5,
        "n_offers": 9,
        "available_gpus": None,
        "coverage": 1.0,
        "confidence": "high",
        "methodology_version": "2.0",
    }
    html = report.render_report(
        {"daily_summary": pl.DataFrame([row], schema_overrides={"available_gpus": pl.Int64})}, D[0]
    )
    doc = BeautifulSoup(html, "html.parser")
    market = doc.find(id="market")
    cells = market.find("tbody").find("tr").find_all("td")
    assert [c.get_text() for c in cells[6:9]] == ["+0.0%", "+0.4%", "-14.2%"]
    assert cells[8].span["title"] == "cross-sectional median: -31.0%"
    assert "like for like" in market.get_text()


# ---------------------------------------------------------------------------- restatements


def test_restatements_record_changed_and_removed_published_values():
    at = dt.datetime(2026, 12, 1, 10, tzinfo=dt.UTC)
    c_old = constituents(
        [
            (D[0], "a", "neocloud", "on_demand", 2.0),
            (D[0], "b", "neocloud", "on_demand", 4.0),
            (D[1], "a", "neocloud", "on_demand", 2.2),
            (D[1], "b", "neocloud", "on_demand", 4.0),
        ]
    )
    old = M.gpu_price_index(c_old).with_columns(pl.lit("1.9").alias("methodology_version"))
    # a parser fix: b's D1 price was really 4.4; and a new day arrives (not a restatement)
    c_new = constituents(
        [
            (D[0], "a", "neocloud", "on_demand", 2.0),
            (D[0], "b", "neocloud", "on_demand", 4.0),
            (D[1], "a", "neocloud", "on_demand", 2.2),
            (D[1], "b", "neocloud", "on_demand", 4.4),
            (D[2], "a", "neocloud", "on_demand", 2.2),
        ]
    )
    new = M.gpu_price_index(c_new)
    keys, cols = M.RESTATED_MARTS["gpu_price_index"]
    r = M.restatements(old, new, "gpu_price_index", keys, cols, at, "parser fix (test)")
    on_all = r.filter(pl.col("row_key").str.contains('"segment":"all"'))
    got = {
        (row["column_name"], json.loads(row["row_key"])["date"]): (
            float(row["value_old"]),
            float(row["value_new"]),
        )
        for row in on_all.iter_rows(named=True)
    }
    assert got.keys() == {("change_1d_pct", D[1].isoformat()), ("index_level", D[1].isoformat())}
    assert got[("change_1d_pct", D[1].isoformat())] == (
        pytest.approx((math.sqrt(1.1) - 1) * 100),
        pytest.approx(10.0),
    )
    assert got[("index_level", D[1].isoformat())] == (
        pytest.approx(100 * math.sqrt(1.1)),
        pytest.approx(110.0),
    )
    assert set(r["methodology_version_old"]) == {"1.9"} and set(r["methodology_version_new"]) == {
        "2.0"
    }
    assert set(r["reason"]) == {"parser fix (test)"} and r["restated_at"].to_list()[0] == at
    assert not r["row_key"].str.contains(D[2].isoformat()).any()  # the new day is not a restatement
    # a published row that disappears is recorded once, with column '*'
    gone = M.restatements(
        old, new.filter(pl.col("date") != D[1]), "gpu_price_index", keys, cols, at, "x"
    )
    assert (
        gone.filter(pl.col("column_name") == "*").height
        == old.filter(pl.col("date") == D[1]).height
    )
    # identical rebuilds restate nothing
    assert M.restatements(new, new, "gpu_price_index", keys, cols, at, "x").height == 0
