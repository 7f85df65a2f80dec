"""How the report writes numbers, dates and enum values as text: pure functions, no HTML.

Every formatter takes anything (a float, None, NaN, a string from a malformed frame) and returns
plain text; a missing or non-finite number is a dash, never "nan" or "$inf". Escaping is not
done here: the text goes through jinja2's autoescape (or markupsafe in the SVG code).
"""

from __future__ import annotations

import datetime as dt
import math

DASH = "\u2014"  # shown for a missing number
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
PRICING_ORDER = ("on_demand", "spot", "reserved")
PRICING_LABELS = {"on_demand": "on-demand", "spot": "spot", "reserved": "reserved"}


def isnum(v: object) -> bool:
    """A real, finite number (bools are not numbers here)."""
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def fmt_usd(v: object) -> str:
    """$2.69, $1,234, $0.0312, $0.07 (3 significant digits under ten cents); a dash if missing."""
    if not isnum(v):
        return DASH
    a = abs(float(v))
    if a >= 1000:
        s = f"{a:,.0f}"
    elif a >= 0.1 or a == 0:
        s = f"{a:,.2f}"
    else:  # three significant digits, trailing zeros past the cents dropped
        whole, frac = f"{a:.{min(8, 2 - math.floor(math.log10(a)))}f}".split(".")
        s = f"{whole}.{frac.rstrip('0').ljust(2, '0')}"
    return ("-" if v < 0 else "") + "$" + s


def fmt_mtok(v: object) -> str:
    """USD per 1M tokens to three decimals under $1 ($0.187): GPUs a few percent apart differ
    in the third digit, which ``fmt_usd``'s cents would hide."""
    return f"${float(v):.3f}" if isnum(v) and abs(float(v)) < 1 else fmt_usd(v)


def fmt_pct(v: object) -> str:
    """+12.3% / -4.0%; a dash if missing."""
    return f"{v:+.1f}%" if isnum(v) else DASH


def fmt_ratio(v: object) -> str:
    """2.50x (with the multiplication sign); a dash if missing."""
    return f"{v:.2f}\u00d7" if isnum(v) else DASH


def fmt_int(v: object) -> str:
    """1,234; a dash if missing."""
    return f"{int(v):,d}" if isnum(v) else DASH


def fmt_share(v: object) -> str:
    """A 0..1 share as a whole percentage (coverage); a dash if missing."""
    return f"{v * 100:.0f}%" if isnum(v) else DASH


def fmt_date(d: object) -> str:
    """ISO date; a dash if missing."""
    return d.isoformat() if isinstance(d, dt.date) else DASH


def date_label(d: dt.date, with_year: bool) -> str:
    """ "Jun 13" or "Jun 13 2026"."""
    s = f"{MONTHS[d.month - 1]} {d.day}"
    return f"{s} {d.year}" if with_year else s


def month_label(d: dt.date) -> str:
    """ "Mar 2026": an axis tick at the first of a month."""
    return f"{MONTHS[d.month - 1]} {d.year}"


def pricing_label(p: object) -> str:
    """on-demand / spot / reserved; other values as they are."""
    return PRICING_LABELS.get(p, str(p)) if isinstance(p, str) else DASH


def pricing_rank(p: object) -> tuple[int, str]:
    """Sort key: on-demand, spot, reserved, then anything else by name."""
    return (PRICING_ORDER.index(p), "") if p in PRICING_ORDER else (len(PRICING_ORDER), str(p))


def truncate(s: str, n: int) -> str:
    """``s`` cut to ``n`` characters with an ellipsis."""
    return s if len(s) <= n else s[: n - 1] + "\u2026"
