"""Assembling the report: prepare the marts, build the sections, render ``report.html.j2``.

Deterministic for the same inputs: no clock is read (``generated_at`` is passed in), rows are
sorted before they are shown, and the stylesheet is inlined, so the page opens from disk with
no server and nothing fetched.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from markupsafe import Markup

from pipelines.lib.report import data as D
from pipelines.lib.report.blocks import Note, Section
from pipelines.lib.report.fmt import DASH, fmt_date, fmt_int
from pipelines.lib.report.sections_costs import api_section, flops_section, serving_section
from pipelines.lib.report.sections_gpu import market_section, moves_section
from pipelines.lib.report.sections_history import history_section, spreads_section
from pipelines.lib.report.templating import environment


def _day_counts(p_day: pl.DataFrame | None, s_day: pl.DataFrame | None) -> tuple:
    """(GPU models, providers, offers) on the as-of day; None where unknown."""
    frame = p_day if p_day is not None else s_day
    if frame is None:
        return None, None, None
    n_offers = frame["n_offers"].sum() if frame["n_offers"].null_count() < frame.height else None
    n_providers = p_day["provider"].n_unique() if p_day is not None else None
    return frame["gpu_model"].n_unique(), n_providers, n_offers


def _header(
    as_of: dt.date, generated_at: dt.datetime | None, prices: D.Frame, summary: D.Frame
) -> tuple[list[tuple[str, str]], Note | None]:
    """The facts under the title, and a warning when the as-of day has no market data."""
    p_day, s_day = D.day_rows(prices, as_of), D.day_rows(summary, as_of)
    n_gpus, n_providers, n_offers = _day_counts(p_day, s_day)
    versions = D.methodology_versions(s_day, summary.df)
    gen = generated_at.isoformat(timespec="seconds") if generated_at else "not recorded"
    facts = [
        ("As of", fmt_date(as_of)),
        ("Generated", gen),
        ("Methodology", ", ".join(versions) or DASH),
        ("GPU models", fmt_int(n_gpus)),
        ("Providers", fmt_int(n_providers)),
        ("Offers", fmt_int(n_offers)),
    ]
    warning = None
    if p_day is None and s_day is None:
        latest = max((d for d in (D.latest(prices), D.latest(summary)) if d), default=None)
        tail = f" The latest date with data is {latest.isoformat()}." if latest else ""
        warning = Note(f"no market data for {as_of.isoformat()}.{tail}")
    return facts, warning


def _stylesheet() -> Markup:
    """The CSS file shipped beside the templates, inlined (it is ours, not data)."""
    env = environment()
    source, _, _ = env.loader.get_source(env, "report.css")
    return Markup(source.strip())


def build_sections(frames: dict[str, pl.DataFrame], as_of: dt.date) -> list[Section]:
    """Every section of the page, in order, from the published marts."""

    def prep(name: str) -> D.Frame:
        return D.prepare(frames, name, as_of)

    prices, summary = prep("gpu_price_daily"), prep("daily_summary")
    return [
        market_section(summary, as_of),
        history_section(prices, as_of, prep("index_constituents")),
        spreads_section(summary, prep("provider_spreads"), as_of),
        flops_section(prep("cost_per_flop"), as_of),
        moves_section(prep("price_changes"), as_of),
        api_section(prep("api_price_families"), as_of),
        serving_section(prep("serving_cost_daily"), as_of),
    ]


def render_report(
    frames: dict[str, pl.DataFrame],
    as_of: dt.date,
    generated_at: dt.datetime | None = None,
    title: str = "GPU market report",
) -> str:
    """The whole report as one HTML string (deterministic for the same inputs)."""
    if isinstance(as_of, dt.datetime):
        as_of = as_of.date()
    prices = D.prepare(frames, "gpu_price_daily", as_of)
    summary = D.prepare(frames, "daily_summary", as_of)
    facts, warning = _header(as_of, generated_at, prices, summary)
    versions = D.methodology_versions(summary.df)
    versions_note = (
        f"Methodology version {', '.join(versions)}."
        if versions
        else "Methodology version not recorded."
    )
    page = environment().get_template("report.html.j2")
    html = page.render(
        title=title,
        as_of=as_of.isoformat(),
        facts=facts,
        warning=warning,
        sections=build_sections(frames, as_of),
        versions_note=versions_note,
        css=_stylesheet(),
    )
    return html.rstrip("\n") + "\n"
