"""Chart geometry without markup: axis scales, tick values and labels, series clean-up.

The y axis is linear from zero, or logarithmic when the values span orders of magnitude (API
prices: $0.03 and $15 on one chart, where a linear axis flattens the cheap models to $0). Date
ticks always carry the year ("Mar 2026", "Jun 13 2026"): a reader of an old report, or of
a chart spanning a new year, must not have to guess it.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from pipelines.lib.report.fmt import date_label, isnum, month_label

GAP_DAYS = 7  # a line is broken where consecutive observations are further apart than this
LOG_SPAN = 20.0  # "auto" picks a log axis when max / min of the positive values reaches this


def _nice_step(span: float, target: int = 5) -> float:
    raw = max(span, 1e-12) / target
    mag = 10.0 ** math.floor(math.log10(raw))
    for m in (1.0, 2.0, 2.5, 5.0, 10.0):
        if raw <= m * mag * (1 + 1e-9):
            return m * mag
    return 10.0 * mag


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values covering [lo, hi] (lo included, hi rounded up to a tick)."""
    if not (isnum(lo) and isnum(hi)) or hi <= lo:
        hi = lo + 1.0 if isnum(lo) else 1.0
        lo = lo if isnum(lo) else 0.0
    step = _nice_step(hi - lo, target)
    i = math.floor(lo / step + 1e-9)
    ticks = []
    while True:
        t = round(i * step, 10)
        ticks.append(t)
        if t >= hi - 1e-9 or len(ticks) > 50:
            break
        i += 1
    return ticks


def log_ticks(lo: float, hi: float, max_ticks: int = 9) -> list[float]:
    """1-2-5 ticks per decade covering [lo, hi] (both > 0), thinned to decades if too many."""
    d0, d1 = math.floor(math.log10(lo) + 1e-9), math.ceil(math.log10(hi) - 1e-9)
    d1 = max(d1, d0 + 1)
    for mantissas in ((1.0, 2.0, 5.0), (1.0, 3.0), (1.0,)):
        ticks = [round(m * 10.0**d, 12) for d in range(d0, d1 + 1) for m in mantissas]
        first = max((t for t in ticks if t <= lo * (1 + 1e-9)), default=ticks[0])
        last = min((t for t in ticks if t >= hi * (1 - 1e-9)), default=ticks[-1])
        ticks = [t for t in ticks if first <= t <= last]
        if len(ticks) <= max_ticks:
            return ticks
    return ticks


def _tick_decimals(ticks: Sequence[float]) -> int:
    for d in range(6):
        if all(abs(round(t, d) - t) < 1e-9 for t in ticks):
            return d
    return 6


def money_tick(ticks: Sequence[float]) -> Callable[[float], str]:
    """A formatter for the tick values: as few decimals as makes every tick exact."""
    d = _tick_decimals(ticks)
    return lambda v: f"${v:,.{d}f}"


def money_tick_each(ticks: Sequence[float]) -> Callable[[float], str]:
    """Per-tick decimals (log axes: $0.01 and $10 on one axis)."""
    return lambda v: f"${v:,.{_tick_decimals([v])}f}"


@dataclass
class Scale:
    """Maps dates and values to SVG coordinates of the plot area."""

    x0: int  # date ordinals
    x1: int
    y0: float
    y1: float
    left: float
    top: float
    width: float
    height: float
    log: bool = False

    def x(self, d: dt.date) -> float:
        return self.left + (d.toordinal() - self.x0) / (self.x1 - self.x0) * self.width

    def y(self, v: float) -> float:
        if self.log:
            lo, hi, v = math.log10(self.y0), math.log10(self.y1), math.log10(max(v, self.y0))
        else:
            lo, hi = self.y0, self.y1
        return self.top + self.height - (v - lo) / (hi - lo) * self.height


def use_log(values: Sequence[float], log_y: bool | str) -> bool:
    """Whether the y axis is logarithmic: ``True``/``False``, or ``"auto"`` -- only positive
    values spanning ``LOG_SPAN`` times or more."""
    if log_y != "auto":
        return bool(log_y)
    return bool(values) and min(values) > 0 and max(values) / min(values) >= LOG_SPAN


def y_ticks(values: Sequence[float], log: bool) -> list[float]:
    """Tick values of the y axis: linear from zero (or the lowest negative value), or log."""
    if log:  # padded below, so the cheapest series never lies on the axis itself
        return log_ticks(min(values) / 1.5, max(values) * 1.04)
    lo = min(0.0, min(values))
    return nice_ticks(lo, max(values) * 1.04 if max(values) > 0 else 1.0)


def date_ticks(x0: dt.date, x1: dt.date) -> list[dt.date]:
    """Up to 7 or 8 dates across [x0, x1]: days (1..28 apart) for two months or less, else
    firsts of months (1, 2, 3, 6 or 12 apart)."""
    span = (x1 - x0).days
    if span <= 62:
        step = next(s for s in (1, 2, 7, 14, 21, 28) if span / s <= 7)
        return [x0 + dt.timedelta(days=k) for k in range(0, span + 1, step)]
    months = span / 30.44
    mstep = next((m for m in (1, 2, 3, 6, 12) if months / m <= 7), 12 * math.ceil(months / 84))
    ticks = []
    y, m = x0.year, x0.month + (1 if x0.day != 1 else 0)
    while True:
        y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
        d = dt.date(y, m, 1)
        if d > x1:
            break
        if (y * 12 + m - 1) % mstep == 0:
            ticks.append(d)
        m += 1
    return ticks or [x0, x1]


def date_tick_label(d: dt.date, span_days: int) -> str:
    """A date tick with its year: "Mar 2026" on month ticks, "Jun 13 2026" on day ticks."""
    return month_label(d) if span_days > 62 and d.day == 1 else date_label(d, with_year=True)


def segments(points: Sequence[tuple], gap_days: int = GAP_DAYS) -> list[list[tuple]]:
    """Split date-sorted points where consecutive dates are more than ``gap_days`` apart."""
    segs: list[list[tuple]] = []
    for p in points:
        if segs and (p[0] - segs[-1][-1][0]).days <= gap_days:
            segs[-1].append(p)
        else:
            segs.append([p])
    return segs


def clean(points: Iterable[tuple], n_values: int | None = None) -> list[tuple]:
    """Drop points with a missing date or a non-finite value (the first ``n_values`` after the
    date; all of them by default); sort by date."""
    end = None if n_values is None else 1 + n_values
    return sorted(
        (p for p in points if isinstance(p[0], dt.date) and all(isnum(v) for v in p[1:end])),
        key=lambda p: p[0],
    )
