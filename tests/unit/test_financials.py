"""Quarterly financials from SEC facts: the real NVIDIA excerpt against the independently
sourced quarterly CSV (both read in place from ../shared/data/nvidia_financials), and small
hand-built fact frames for the Q4 derivation, fiscal labelling and dedupe rules."""

from __future__ import annotations

import csv
import datetime as dt

import polars as pl
import pytest

from pipelines.lib.families import conform, parsed_columns
from pipelines.lib.financials import OUTPUT_SCHEMA, quarterly_financials
from pipelines.lib.sources import sec_edgar

EXCERPT = "nvidia_financials/sec_companyfacts_CIK0001045810_excerpt.json"
QUARTERLY_CSV = "nvidia_financials/nvidia_quarterly_revenue_gross_profit_fy2023_fy2026.csv"
TABLE = "raw.sec_facts"
D = dt.date


def _excerpt_facts(shared_data) -> pl.DataFrame:
    content = (shared_data / EXCERPT).read_bytes()
    return sec_edgar.parse("companyfacts_0001045810.json", content)[TABLE]


@pytest.fixture(scope="module")
def nvidia(shared_data) -> pl.DataFrame:
    return quarterly_financials(_excerpt_facts(shared_data))


@pytest.fixture(scope="module")
def expected(shared_data) -> dict[tuple[int, int], dict]:
    with open(shared_data / QUARTERLY_CSV, newline="", encoding="utf-8") as fh:
        rows = [r for r in csv.DictReader(fh) if r["period"] != "FY"]
    assert len(rows) == 16
    return {(int(r["fiscal_year"]), int(r["period"][1])): r for r in rows}


def _q(frame: pl.DataFrame, fiscal_year: int, quarter: int) -> dict:
    rows = frame.filter(
        (pl.col("fiscal_year") == fiscal_year) & (pl.col("fiscal_quarter") == quarter)
    )
    assert rows.height == 1, rows
    return rows.row(0, named=True)


# --- the real excerpt -------------------------------------------------------------------


def test_nvidia_quarters_from_excerpt(nvidia):
    assert nvidia.schema == pl.Schema(OUTPUT_SCHEMA)
    # FY2026 Q1-Q4 (Q4 = FY - 9M) and FY2027 Q1-Q2; FY2025 has only its annual total
    assert nvidia.select("fiscal_year", "fiscal_quarter").rows() == [
        (2026, 1),
        (2026, 2),
        (2026, 3),
        (2026, 4),
        (2027, 1),
        (2027, 2),
    ]
    q4 = _q(nvidia, 2026, 4)
    assert q4["q4_derived"] is True
    assert (q4["period_start"], q4["period_end"]) == (D(2025, 10, 27), D(2026, 1, 25))
    assert q4["revenue"] == 215_938e6 - 147_811e6 == 68_127e6
    assert q4["cost_of_revenue"] == 17_034e6 and q4["gross_profit"] == 51_093e6
    assert q4["source_accession"] == "0001045810-26-000021"  # the FY2026 10-K
    q3 = _q(nvidia, 2026, 3)
    assert q3["q4_derived"] is False and q3["revenue"] == 57_006e6
    assert q3["gross_margin"] == pytest.approx(41_849 / 57_006)
    assert q3["source_accession"] == "0001045810-25-000230"
    # Q1 FY2026 is repeated by the FY2027 Q1 10-Q: the latest filing is the source
    q1 = _q(nvidia, 2026, 1)
    assert (q1["period_start"], q1["period_end"]) == (D(2025, 1, 27), D(2025, 4, 27))
    assert q1["source_accession"] == "0001045810-26-000052"
    fy27q2 = _q(nvidia, 2027, 2)
    assert (fy27q2["period_start"], fy27q2["period_end"]) == (D(2026, 4, 27), D(2026, 7, 26))
    assert fy27q2["revenue"] == 96_221e6
    assert fy27q2["gross_margin"] == pytest.approx(72_142 / 96_221)


def test_nvidia_margins_match_the_sourced_csv(nvidia, expected):
    overlap = [
        r
        for r in nvidia.iter_rows(named=True)
        if (r["fiscal_year"], r["fiscal_quarter"]) in expected
    ]
    assert [(r["fiscal_year"], r["fiscal_quarter"]) for r in overlap] == [
        (2026, 1),
        (2026, 2),
        (2026, 3),
        (2026, 4),
    ]
    for r in overlap:
        want = expected[(r["fiscal_year"], r["fiscal_quarter"])]
        want_pct = float(want["gross_margin_pct_computed"])
        assert r["gross_margin"] * 100 == pytest.approx(want_pct, abs=0.05)
        assert round(r["revenue"] / 1e6) == int(want["revenue_usd_m"])
        assert round(r["cost_of_revenue"] / 1e6) == int(want["cost_of_revenue_usd_m"])
        assert round(r["gross_profit"] / 1e6) == int(want["gross_profit_usd_m"])
        assert (r["period_start"].isoformat(), r["period_end"].isoformat()) == (
            want["period_start"],
            want["period_end"],
        )
        assert r["q4_derived"] is (r["fiscal_quarter"] == 4)


def test_repeated_fetches_give_the_same_quarters(shared_data, nvidia):
    facts = _excerpt_facts(shared_data)
    two_days = pl.concat(
        [
            facts.with_columns(pl.lit(day).alias("date"), pl.lit("sec_edgar").alias("source"))
            for day in (D(2026, 8, 27), D(2026, 8, 28))
        ]
    )
    assert quarterly_financials(two_days).equals(nvidia)


# --- hand-built facts: a calendar-year filer --------------------------------------------


def _fact(concept, start, end, value, accn, fy, fp, filed, *, cik="0000000001", problem=None):
    return {
        "cik": cik,
        "entity": "ACME",
        "concept": concept,
        "unit": "USD",
        "fiscal_year": fy,
        "fiscal_period": fp,
        "form": "10-K" if fp == "FY" else "10-Q",
        "period_start": start,
        "period_end": end,
        "value": float(value),
        "accession": accn,
        "filed": filed,
        "frame": None,
        "payload_name": "companyfacts_0000000001.json",
        "problem": problem,
    }


def _frame(rows) -> pl.DataFrame:
    return conform(TABLE, pl.from_dicts(rows, schema=parsed_columns(TABLE)))


Q1 = (D(2023, 1, 1), D(2023, 3, 31))
Q2 = (D(2023, 4, 1), D(2023, 6, 30))
H1 = (D(2023, 1, 1), D(2023, 6, 30))
Q3 = (D(2023, 7, 1), D(2023, 9, 30))
M9 = (D(2023, 1, 1), D(2023, 9, 30))
FY = (D(2023, 1, 1), D(2023, 12, 31))


def _year(concept="Revenues", q=(100, 110, 120), fy_total=500, with_9m=True, scale=1.0):
    rows = [
        _fact(concept, *Q1, q[0] * scale, "A-Q1", 2023, "Q1", D(2023, 5, 1)),
        _fact(concept, *Q2, q[1] * scale, "A-Q2", 2023, "Q2", D(2023, 8, 1)),
        _fact(concept, *H1, (q[0] + q[1]) * scale, "A-Q2", 2023, "Q2", D(2023, 8, 1)),
        _fact(concept, *Q3, q[2] * scale, "A-Q3", 2023, "Q3", D(2023, 11, 1)),
        _fact(concept, *FY, fy_total * scale, "A-K", 2023, "FY", D(2024, 2, 15)),
    ]
    if with_9m:
        rows.append(_fact(concept, *M9, sum(q) * scale, "A-Q3", 2023, "Q3", D(2023, 11, 1)))
    return rows


def test_q4_is_fiscal_year_minus_nine_months():
    out = quarterly_financials(_frame(_year() + _year("CostOfRevenue", scale=0.4)))
    cols = ("fiscal_quarter", "revenue", "cost_of_revenue", "gross_profit", "q4_derived")
    assert out.select(cols).rows() == [
        (1, 100.0, 40.0, 60.0, False),
        (2, 110.0, 44.0, 66.0, False),
        (3, 120.0, 48.0, 72.0, False),
        (4, 170.0, 68.0, 102.0, True),
    ]
    q4 = _q(out, 2023, 4)
    assert (q4["period_start"], q4["period_end"]) == (D(2023, 10, 1), D(2023, 12, 31))
    assert q4["source_accession"] == "A-K"
    assert q4["gross_margin"] == pytest.approx(0.6)
    assert set(out["fiscal_year"]) == {2023}


def test_q4_falls_back_to_quarters_when_nine_months_missing():
    out = quarterly_financials(_frame(_year(with_9m=False)))
    q4 = _q(out, 2023, 4)
    assert q4["revenue"] == 500 - 100 - 110 - 120 and q4["q4_derived"] is True
    assert (q4["period_start"], q4["period_end"]) == (D(2023, 10, 1), D(2023, 12, 31))
    # without Q3 and 9M there is no Q4 at all
    rows = [r for r in _year(with_9m=False) if r["accession"] != "A-Q3"]
    assert quarterly_financials(_frame(rows))["fiscal_quarter"].to_list() == [1, 2]


def test_reported_three_month_q4_is_used_as_is():
    q4 = _fact("Revenues", D(2023, 10, 1), D(2023, 12, 31), 171, "A-K", 2023, "FY", D(2024, 2, 15))
    rows = [*_year(), q4]
    q4 = _q(quarterly_financials(_frame(rows)), 2023, 4)
    assert q4["revenue"] == 171 and q4["q4_derived"] is False


def test_latest_filed_fact_wins_and_comparatives_get_their_own_year():
    rows = [
        *_year(),
        # next year's Q1 10-Q: its own quarter, and Q1 2023 restated as the comparative
        _fact("Revenues", D(2024, 1, 1), D(2024, 3, 31), 130, "B-Q1", 2024, "Q1", D(2024, 5, 1)),
        _fact("Revenues", *Q1, 101, "B-Q1", 2024, "Q1", D(2024, 5, 1)),
    ]
    out = quarterly_financials(_frame(rows))
    assert out.select("fiscal_year", "fiscal_quarter").rows() == [
        (2023, 1),
        (2023, 2),
        (2023, 3),
        (2023, 4),
        (2024, 1),
    ]
    q1 = _q(out, 2023, 1)
    assert q1["revenue"] == 101 and q1["source_accession"] == "B-Q1"
    assert _q(out, 2024, 1)["revenue"] == 130
    # the same facts in the opposite order: same answer
    assert quarterly_financials(_frame(rows[::-1])).equals(out)


def test_exact_duplicates_collapse():
    rows = _year()
    out = quarterly_financials(_frame(rows + rows))
    assert out.height == 4 and out["revenue"].to_list() == [100.0, 110.0, 120.0, 170.0]


def test_gross_profit_reported_or_computed():
    # GrossProfit reported without CostOfRevenue: cost = revenue - gross profit
    out = quarterly_financials(_frame(_year() + _year("GrossProfit", scale=0.5)))
    assert out["gross_profit"].to_list() == [50.0, 55.0, 60.0, 85.0]
    assert out["cost_of_revenue"].to_list() == [50.0, 55.0, 60.0, 85.0]
    assert out["gross_margin"].to_list() == [0.5] * 4
    # a reported GrossProfit is taken as reported, not recomputed from revenue - cost
    both = quarterly_financials(
        _frame(_year() + _year("CostOfRevenue", scale=0.4) + _year("GrossProfit", scale=0.5))
    )
    assert both["gross_profit"].to_list() == [50.0, 55.0, 60.0, 85.0]


def test_revenue_from_contract_is_the_fallback_concept():
    rows = [
        *_year("RevenueFromContractWithCustomerExcludingAssessedTax"),
        _fact("Revenues", *Q2, 111, "A-Q2", 2023, "Q2", D(2023, 8, 1)),
    ]
    out = quarterly_financials(_frame(rows))
    assert out["revenue"].to_list() == [100.0, 111.0, 120.0, 170.0]  # Revenues preferred for Q2


def test_problem_rows_and_other_concepts_are_ignored():
    rows = [
        *_year(),
        _fact("Revenues", *Q1, 999, "Z", 2024, "Q1", D(2030, 1, 1), problem="unparseable_date"),
        _fact("NetIncomeLoss", *Q1, 5, "A-Q1", 2023, "Q1", D(2023, 5, 1)),
    ]
    assert quarterly_financials(_frame(rows))["revenue"].to_list() == [100.0, 110.0, 120.0, 170.0]


def test_fifty_three_week_fiscal_year_ending_in_january():
    # NVIDIA FY2024-style calendar shifted: a 14-week Q4 inside a 371-day fiscal year
    start, end = D(2022, 1, 31), D(2023, 2, 5)
    rows = [
        _fact("Revenues", start, D(2022, 5, 1), 8, "Q1", 2023, "Q1", D(2022, 5, 27)),
        _fact("Revenues", D(2022, 5, 2), D(2022, 7, 31), 7, "Q2", 2023, "Q2", D(2022, 8, 31)),
        _fact("Revenues", D(2022, 8, 1), D(2022, 10, 30), 6, "Q3", 2023, "Q3", D(2022, 11, 18)),
        _fact("Revenues", start, D(2022, 10, 30), 21, "Q3", 2023, "Q3", D(2022, 11, 18)),
        _fact("Revenues", start, end, 27, "K", 2023, "FY", D(2023, 2, 24)),
    ]
    out = quarterly_financials(_frame(rows))
    assert out.select("fiscal_year", "fiscal_quarter", "revenue").rows() == [
        (2023, 1, 8.0),
        (2023, 2, 7.0),
        (2023, 3, 6.0),
        (2023, 4, 6.0),
    ]
    assert _q(out, 2023, 4)["period_start"] == D(2022, 10, 31)


def test_empty_and_invalid_inputs():
    empty = quarterly_financials(pl.DataFrame(schema=parsed_columns(TABLE)))
    assert empty.height == 0 and empty.schema == pl.Schema(OUTPUT_SCHEMA)
    other = _fact("Revenues", *Q1, 1, "X", 2023, "Q1", D(2023, 5, 1), cik="0000000002")
    two = _frame([*_year(), other])
    with pytest.raises(ValueError, match="CIK"):
        quarterly_financials(two)
    assert quarterly_financials(two, cik="0000000001")["revenue"].to_list() == [
        100.0,
        110.0,
        120.0,
        170.0,
    ]
    assert quarterly_financials(two, cik="2")["revenue"].to_list() == [1.0]
    with pytest.raises(ValueError, match="column"):
        quarterly_financials(_frame(_year()).drop("accession"))
