"""Quarterly revenue, cost of revenue, gross profit and gross margin from SEC XBRL facts.

Pure: ``quarterly_financials(facts)`` takes ``raw.sec_facts`` rows (as
``pipelines.lib.sources.sec_edgar.parse`` returns them, with or without ``date``/``source``,
one fetch or many) for **one filer** and returns one row per fiscal quarter:

``fiscal_year, fiscal_quarter (1-4), period_start, period_end, revenue, cost_of_revenue,
gross_profit, gross_margin, q4_derived, source_accession`` -- values in USD (not millions),
``gross_margin`` a fraction (0.734, not 73.4).

How the facts become quarters (rules from the real companyfacts excerpt, see
shared/data/nvidia_financials/README.md):

1. **Usable facts**: rows without a ``problem``, unit USD, with start, end and value.
   Measures: revenue = ``Revenues``, else ``RevenueFromContractWithCustomerExcludingAssessedTax``
   (recent NVIDIA filings use the first, older ones and other filers the second);
   cost_of_revenue = ``CostOfRevenue``; gross_profit = ``GrossProfit``.
2. **Dedupe**: the same period (concept, start, end) is repeated by every filing that
   reports it (a 10-Q repeats the prior-year quarter, a 10-K the prior year). Per measure and
   (start, end) the **latest filed** fact wins (a restatement replaces the original); ties go
   to the preferred concept, then the larger accession number. ``source_accession`` is
   therefore the latest filing reporting the quarter, not necessarily the original 10-Q.
3. **Fiscal labels**: ``fy``/``fp`` describe the *filing*, not the period. A filing's report
   period ends at the latest ``period_end`` among its facts; a fact ending ``n`` whole years
   (±14 days) before that belongs to fiscal year ``fy - n`` (comparatives are prior-year
   periods). Every fact longer than 100 days (6/9-month YTD, fiscal year) starts on its
   fiscal year's first day, as does a 3-month fact of a ``Q1`` filing: that gives each fiscal
   year's start date. Quarter number = position of the 3-month period in its fiscal year:
   ``round((end - fy_start + 1 day) / 91.3 days)``. NVIDIA's fiscal year ends on the last
   Sunday of January (FY2026 = 2025-01-27 .. 2026-01-25), so calendar frames (``CY2025Q3``)
   are ignored.
4. **Quarters** are 3-month durations (80-100 days; a 14-week quarter is 97). There is no
   standalone Q4 fact: Q4 = fiscal-year value (350-380 days, same start) - the 9-month
   year-to-date value (250-290 days, same start), period = day after the 9M end .. FY end,
   accession = the 10-K's. If the 9M fact is missing, Q4 = FY - Q1 - Q2 - Q3 when all three
   quarters of that measure are known (period = day after Q3 .. FY end); otherwise there is
   no Q4 for that measure. A reported 3-month Q4 fact (some filers) is used as is.
   ``q4_derived`` is true when any of the row's measures was derived by subtraction.
5. **Gross profit** = ``GrossProfit`` where reported, else revenue - cost of revenue; cost of
   revenue = revenue - gross profit where only those two are reported.
   ``gross_margin`` = gross_profit / revenue (null without revenue or for revenue 0).

Quarters whose fiscal year start cannot be told (no YTD, fiscal-year or Q1 fact of that year)
are left out and logged; Q2/Q3 are not derived from YTD differences (every 10-Q reports the
3-month figure). ``cik=`` picks one filer out of a multi-filer table; without it, facts of
more than one CIK are a ``ValueError`` (never a silent mix of two companies).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import polars as pl

log = logging.getLogger(__name__)

MEASURES: dict[str, tuple[str, ...]] = {
    "revenue": ("Revenues", "RevenueFromContractWithCustomerExcludingAssessedTax"),
    "cost_of_revenue": ("CostOfRevenue",),
    "gross_profit": ("GrossProfit",),
}
CONCEPT_MEASURE = {c: m for m, concepts in MEASURES.items() for c in concepts}
CONCEPT_RANK = {c: i for concepts in MEASURES.values() for i, c in enumerate(concepts)}

QUARTER_DAYS = (80, 100)
NINE_MONTH_DAYS = (250, 290)
YEAR_DAYS = (350, 380)
YTD_MIN_DAYS = 100  # longer facts start on the fiscal year's first day
WHOLE_YEAR_SLACK_DAYS = 14
_YEAR = 365.25
_QUARTER = 91.3

OUTPUT_SCHEMA: dict[str, pl.DataType] = {
    "fiscal_year": pl.Int64,
    "fiscal_quarter": pl.Int64,
    "period_start": pl.Date,
    "period_end": pl.Date,
    "revenue": pl.Float64,
    "cost_of_revenue": pl.Float64,
    "gross_profit": pl.Float64,
    "gross_margin": pl.Float64,
    "q4_derived": pl.Boolean,
    "source_accession": pl.Utf8,
}
REQUIRED_COLUMNS = (
    "concept",
    "period_start",
    "period_end",
    "value",
    "accession",
    "filed",
    "fiscal_year",
    "fiscal_period",
)


@dataclass(frozen=True)
class _Fact:
    concept: str
    start: dt.date
    end: dt.date
    value: float
    accession: str
    filed: dt.date
    fy: int | None
    fp: str | None

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class _Value:
    value: float
    start: dt.date
    end: dt.date
    accession: str
    derived: bool


def _between(days: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= days <= bounds[1]


def _usable_facts(facts: pl.DataFrame, cik: str | None) -> list[_Fact]:
    missing = [c for c in REQUIRED_COLUMNS if c not in facts.columns]
    if missing:
        raise ValueError(f"facts lack column(s) {missing}: expected raw.sec_facts rows")
    if cik is not None:
        if "cik" not in facts.columns:
            raise ValueError("cik given but facts have no 'cik' column")
        facts = facts.filter(pl.col("cik") == str(cik).zfill(10))
    elif "cik" in facts.columns:
        ciks = facts["cik"].drop_nulls().unique().to_list()
        if len(ciks) > 1:
            raise ValueError(
                f"facts of {len(ciks)} CIKs ({sorted(ciks)[:5]}): pass cik= to pick one filer"
            )
    frame = facts
    if "problem" in frame.columns:
        frame = frame.filter(pl.col("problem").is_null())
    if "unit" in frame.columns:
        frame = frame.filter(pl.col("unit") == "USD")
    frame = frame.filter(
        pl.col("concept").is_in(list(CONCEPT_MEASURE))
        & pl.col("period_start").is_not_null()
        & pl.col("period_end").is_not_null()
        & pl.col("value").is_not_null()
    )
    out = []
    for r in frame.select(REQUIRED_COLUMNS).iter_rows(named=True):
        out.append(
            _Fact(
                concept=r["concept"],
                start=r["period_start"],
                end=r["period_end"],
                value=float(r["value"]),
                accession=r["accession"] or "",
                filed=r["filed"] or dt.date.min,
                fy=r["fiscal_year"],
                fp=r["fiscal_period"],
            )
        )
    return out


def _fiscal_label(fact: _Fact, report_end: dt.date) -> int | None:
    """The fiscal year a fact's period belongs to, from its filing's fy and how many whole
    years before the filing's report period it ends; None when that is not a whole number."""
    if fact.fy is None:
        return None
    back_days = (report_end - fact.end).days
    years = round(back_days / _YEAR)
    if years < 0 or abs(back_days - years * _YEAR) > WHOLE_YEAR_SLACK_DAYS:
        return None
    return fact.fy - years


def _fiscal_year_starts(facts: list[_Fact]) -> dict[int, dt.date]:
    """fiscal year -> first day, from YTD/annual facts and Q1 filings' 3-month facts."""
    report_end: dict[str, dt.date] = {}
    for f in facts:
        if f.end > report_end.get(f.accession, dt.date.min):
            report_end[f.accession] = f.end
    votes: dict[int, Counter[dt.date]] = {}
    for f in facts:
        label = _fiscal_label(f, report_end[f.accession])
        if label is None:
            continue
        is_q1 = _between(f.days, QUARTER_DAYS) and (f.fp or "").upper() == "Q1"
        if f.days > YTD_MIN_DAYS or is_q1:
            votes.setdefault(label, Counter())[f.start] += 1
    starts = {}
    for label, counter in votes.items():
        (start, _n), *others = counter.most_common()
        if others:
            log.warning(
                "fiscal year %d: conflicting start dates %s; using %s",
                label,
                sorted(counter),
                start,
            )
        starts[label] = start
    return starts


def _dedupe(facts: list[_Fact]) -> dict[str, dict[tuple[dt.date, dt.date], _Fact]]:
    """measure -> (start, end) -> the winning fact (latest filed, preferred concept)."""
    out: dict[str, dict[tuple[dt.date, dt.date], _Fact]] = {m: {} for m in MEASURES}
    ordered = sorted(facts, key=lambda f: (f.filed, -CONCEPT_RANK[f.concept], f.accession))
    for f in ordered:  # later entries win
        out[CONCEPT_MEASURE[f.concept]][(f.start, f.end)] = f
    return out


def _quarter_number(fy_start: dt.date, end: dt.date) -> int:
    return min(4, max(1, round(((end - fy_start).days + 1) / _QUARTER)))


def _measure_quarters(
    series: dict[tuple[dt.date, dt.date], _Fact],
    starts: dict[int, dt.date],
) -> dict[tuple[int, int], _Value]:
    """(fiscal year, quarter) -> value of one measure, Q4 derived where needed."""
    by_start = {start: label for label, start in starts.items()}
    ordered_starts = sorted(by_start)
    out: dict[tuple[int, int], _Value] = {}
    unplaced = 0
    for f in sorted(series.values(), key=lambda f: f.filed):
        if not _between(f.days, QUARTER_DAYS):
            continue
        fy_start = max((s for s in ordered_starts if s <= f.start), default=None)
        if fy_start is None or (f.end - fy_start).days > YEAR_DAYS[1]:
            unplaced += 1
            continue
        key = (by_start[fy_start], _quarter_number(fy_start, f.end))
        out[key] = _Value(f.value, f.start, f.end, f.accession, derived=False)
    if unplaced:
        log.info("%d quarterly fact(s) outside any known fiscal year: left out", unplaced)
    for label, fy_start in starts.items():
        if (label, 4) in out:
            continue
        annual = [
            f for (s, _e), f in series.items() if s == fy_start and _between(f.days, YEAR_DAYS)
        ]
        if not annual:
            continue
        year = max(annual, key=lambda f: (f.filed, f.accession))
        nine = [
            f
            for (s, e), f in series.items()
            if s == fy_start and _between(f.days, NINE_MONTH_DAYS) and e < year.end
        ]
        if nine:
            ytd = max(nine, key=lambda f: (f.filed, f.accession))
            out[(label, 4)] = _Value(
                year.value - ytd.value,
                ytd.end + dt.timedelta(days=1),
                year.end,
                year.accession,
                derived=True,
            )
            continue
        q = [out.get((label, n)) for n in (1, 2, 3)]
        if all(v is not None for v in q):
            out[(label, 4)] = _Value(
                year.value - sum(v.value for v in q),  # type: ignore[union-attr]
                q[2].end + dt.timedelta(days=1),  # type: ignore[union-attr]
                year.end,
                year.accession,
                derived=True,
            )
    return out


def quarterly_financials(facts: pl.DataFrame, cik: str | None = None) -> pl.DataFrame:
    """One row per fiscal quarter of one filer (see the module docstring); ``cik`` (10 digits,
    zero-padded; shorter is padded) selects the filer when ``facts`` hold several."""
    usable = _usable_facts(facts, cik)
    if not usable:
        return pl.DataFrame(schema=OUTPUT_SCHEMA)
    starts = _fiscal_year_starts(usable)
    per_measure = {m: _measure_quarters(series, starts) for m, series in _dedupe(usable).items()}
    keys = sorted({k for values in per_measure.values() for k in values})
    rows: list[dict[str, Any]] = []
    for fiscal_year, quarter in keys:
        vals = {m: per_measure[m].get((fiscal_year, quarter)) for m in MEASURES}
        lead = next(
            v for v in (vals["revenue"], vals["gross_profit"], vals["cost_of_revenue"]) if v
        )
        revenue = vals["revenue"].value if vals["revenue"] else None
        cost = vals["cost_of_revenue"].value if vals["cost_of_revenue"] else None
        gross = vals["gross_profit"].value if vals["gross_profit"] else None
        if gross is None and revenue is not None and cost is not None:
            gross = revenue - cost
        if cost is None and revenue is not None and gross is not None:
            cost = revenue - gross
        rows.append(
            {
                "fiscal_year": fiscal_year,
                "fiscal_quarter": quarter,
                "period_start": lead.start,
                "period_end": lead.end,
                "revenue": revenue,
                "cost_of_revenue": cost,
                "gross_profit": gross,
                "gross_margin": gross / revenue if gross is not None and revenue else None,
                "q4_derived": any(v is not None and v.derived for v in vals.values()),
                "source_accession": lead.accession or None,
            }
        )
    return pl.from_dicts(rows, schema=OUTPUT_SCHEMA) if rows else pl.DataFrame(schema=OUTPUT_SCHEMA)
