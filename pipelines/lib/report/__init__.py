"""The static HTML report of the GPU rental market: pure functions, no I/O.

``render_report(frames, as_of)`` turns the published marts (full history, polars frames keyed
by table name) into ONE self-contained HTML page: CSS in a ``<style>`` block, charts as inline
SVG, no JavaScript, no fonts, images or anything else fetched from a network. It opens from
disk in any browser.

Layout of the package, by concern:

* ``schemas``   the column types the report reads per mart (one small table)
* ``data``      selecting rows: typed frames up to ``as_of``, the day's rows, rankings, and the
                observations the index leaves out (flagged on the charts)
* ``fmt``       numbers, dates and enum values as text
* ``scales``    chart geometry: linear / log axes, ticks, dates with their year
* ``charts``    SVG charts (geometry here, markup in ``templates/*.svg.j2``)
* ``blocks``    the page model (sections, tables, notes, figures) as plain data
* ``sections_gpu``, ``sections_history``, ``sections_costs``   one function per section
* ``page``      assembly through ``templates/report.html.j2`` and ``templates/report.css``

Safety: HTML and SVG are rendered by jinja2 with autoescape (markupsafe), so every string
from the data (provider names, GPU ids, tiers, ...) is escaped in text and attributes alike.
Class names are picked from fixed whitelists, never built from data.

Fit: tables fit a 1280 px screen (headers wrap; below that the columns that matter least drop,
never coverage or confidence) and scroll inside their own box on a phone; charts take the full
content width; tested in a real headless Chromium (tests/browser/).

Robustness: a missing, empty or malformed frame, or a day with no rows, gives a "No data"
note in that section; nothing is dropped silently (a chart that shows a subset says so).
Only rows dated on or before ``as_of`` are used, so re-rendering an old day gives that day's
report.
"""

from __future__ import annotations

from pipelines.lib.report.charts import (
    PALETTE,
    BandSeries,
    LineSeries,
    MarkSeries,
    band_chart,
    bar_chart,
    line_chart,
    xy_chart,
)
from pipelines.lib.report.data import POPULAR_GPUS
from pipelines.lib.report.fmt import (
    DASH,
    fmt_date,
    fmt_int,
    fmt_mtok,
    fmt_pct,
    fmt_ratio,
    fmt_usd,
)
from pipelines.lib.report.page import build_sections, render_report
from pipelines.lib.report.scales import GAP_DAYS, log_ticks, nice_ticks
from pipelines.lib.report.schemas import REQUIRED, SCHEMAS
from pipelines.lib.report.sections_costs import SERVING_GPUS_PER_CHART, SERVING_MODELS_CHARTED
from pipelines.lib.report.sections_history import (
    MAX_PROVIDERS_PER_CHART,
    RECENT_DAYS,
    TOP_GPUS,
)

__all__ = [
    "DASH",
    "GAP_DAYS",
    "MAX_PROVIDERS_PER_CHART",
    "PALETTE",
    "POPULAR_GPUS",
    "RECENT_DAYS",
    "REQUIRED",
    "SCHEMAS",
    "SERVING_GPUS_PER_CHART",
    "SERVING_MODELS_CHARTED",
    "TOP_GPUS",
    "BandSeries",
    "LineSeries",
    "MarkSeries",
    "band_chart",
    "bar_chart",
    "build_sections",
    "fmt_date",
    "fmt_int",
    "fmt_mtok",
    "fmt_pct",
    "fmt_ratio",
    "fmt_usd",
    "line_chart",
    "log_ticks",
    "nice_ticks",
    "render_report",
    "xy_chart",
]
