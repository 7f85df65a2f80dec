"""Reading price tables out of an HTML pricing page: the page-independent helpers the
Lambda and CoreWeave parsers share (not a source: no SPEC).

* ``html_tables`` -- every ``<table>`` and ARIA grid as an ``HtmlTable`` (header texts, rows
  of cell texts, the headings above it), colspans repeated so columns stay aligned; rows
  outside any table (a page cut inside its table) are read by ``orphan_tables``;
* cell readers -- ``parse_price`` (one number among known unit words, with its currency),
  ``price_basis`` (per GPU / per instance from the wording), ``is_not_priced`` ("Contact
  sales", "N/A"), ``first_number``, ``split_count`` (``8x NVIDIA H100``), ``parse_count``,
  ``parse_cluster_count`` (``256+``, ``64 - 60,000``), ``norm_header``;
* ``ParsedPage`` -- a page's candidate records plus its ``notes`` (what is neither an offer
  nor an error); ``kept_once`` -- rows a page renders twice (desktop + mobile, a noscript
  copy) kept once, and counted in the notes.

Scraped strings are data only: nothing is evaluated. Script content is text to the parser,
so tables inside scripts are never read. Pure: no I/O.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, Tag

# --- cell vocabulary ----------------------------------------------------------------------
_PER_GPU = re.compile(r"(?:/|\bper)\s*gpu\b|\bgpu[\s-]*(?:hour|hr|h)\b")


_PER_INSTANCE = re.compile(r"\binstance\b|\bnode\b|\bserver\b|\bmachine\b")
# "$1.89/H100/hour": a GPU model as the unit is a per-GPU price
_GPU_AS_UNIT = re.compile(r"/\s*(?:nvidia\s+)?[a-z]{1,3}\d{2,4}[a-z0-9]*\s*(?=/)", re.IGNORECASE)


_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")


_PRICE_WORDS = re.compile(
    r"us\$|\$|€|£|\busd\b|\beur\b|\bgbp\b|\bper\b|\bgpus?\b|\binstance\b|\bnode\b|\bhours?\b"
    r"|\bhrs?\b|\bh\b|(?<=[a-z])-(?=[a-z])|[/\s()*†‡:]"
)


_CURRENCY = (("€", "EUR"), ("eur", "EUR"), ("£", "GBP"), ("gbp", "GBP"))


_COUNT_PREFIX = re.compile(r"^\s*(\d{1,3})\s*[x×]\s*(.+)$", re.IGNORECASE)


_COUNT_CELL = re.compile(r"^\s*(\d{1,3})\s*[x×]?\s*(?:gpus?)?\s*$", re.IGNORECASE)


_CLUSTER_COUNT = re.compile(
    r"^\s*(\d[\d,]*)\s*(?:\+|(?:-|–|—|to)\s*\d[\d,]*)?\s*(?:gpus?)?\s*\+?\s*$", re.IGNORECASE
)


FOOTNOTE = re.compile(r"[*†‡¹²³⁴⁵⁶⁷⁸⁹]+|\^\s*\d+\s*$")


_NOT_PRICED = re.compile(
    r"^(?:contact(?: us| sales)?|talk to (?:sales|an engineer|us)|n/?a|not available|"
    r"unavailable|sold out|coming soon|[-–—]+)[.!]?$",
    re.IGNORECASE,
)


class ParsedPage(list):
    """The candidate records of one page (a plain list to ``ingest``), plus ``notes``: what
    the page holds that is not an offer and not an error (``not_priced`` cells such as
    "Contact sales", ignored script copies, tabs without a panel)."""

    def __init__(
        self, records: list[dict[str, Any]] | None = None, notes: dict[str, Any] | None = None
    ):
        super().__init__(records or [])
        self.notes: dict[str, Any] = notes or {}


# --- HTML tables --------------------------------------------------------------------------


@dataclass
class HtmlTable:
    """One table of the page: header texts, data rows (cell texts), the headings above it
    and the element it was read from (for its tab and block)."""

    header: list[str]
    rows: list[list[str]]
    headings: list[str]  # caption, then the nearest heading, then its parents up to the h2
    element: Tag | None = field(default=None, repr=False)
    header_known: bool = True  # False for rows found outside any table (a cut page)


def visible_text(tag: Tag) -> str:
    """A cell's visible text, whitespace (incl. &nbsp;) collapsed."""
    return re.sub(r"\s+", " ", tag.get_text(" ", strip=True)).strip()


def _cells(row: Tag, cell_filter) -> list[str]:
    """Cell texts of one row, each cell repeated over its colspan so columns stay aligned."""
    out: list[str] = []
    for cell in row.find_all(cell_filter, recursive=False):
        try:
            span = max(1, min(int(cell.get("colspan") or 1), 50))
        except ValueError:
            span = 1
        out.append(visible_text(cell))
        out.extend([""] * (span - 1))
    return out


def _headings(el: Tag) -> list[str]:
    """Caption, then the nearest preceding heading and each higher-level heading above it,
    up to the h2 (the h1 is the page title, not a section)."""
    out: list[str] = []
    caption = el.find("caption")
    if caption is not None:
        out.append(visible_text(caption))
    level = 7
    for heading in el.find_all_previous(re.compile(r"^h[2-6]$")):
        h_level = int(heading.name[1])
        if h_level < level:
            out.append(visible_text(heading))
            level = h_level
        if level == 2:
            break
    return out


def _html_table(table: Tag) -> HtmlTable | None:
    rows = [tr for tr in table.find_all("tr") if tr.find_parent("table") is table]
    if not rows:
        return None
    # the header row: the first row in <thead> or made of <th> only that names two columns
    # or more (a title row spanning the table is not a header)
    header_idx = 0
    for i, tr in enumerate(rows):
        is_header = tr.find_parent("thead") is not None or (tr.find("th") and not tr.find("td"))
        if is_header and sum(1 for c in _cells(tr, ["th", "td"]) if c) >= 2:
            header_idx = i
            break
    header = _cells(rows[header_idx], ["th", "td"])
    data = [_cells(tr, ["th", "td"]) for tr in rows[header_idx + 1 :]]
    return HtmlTable(header, data, _headings(table), table)


def _aria_table(grid: Tag) -> HtmlTable | None:
    rows = [
        r
        for r in grid.find_all(attrs={"role": "row"})
        if r.find_parent(attrs={"role": ["table", "grid"]}) is grid
    ]
    if not rows:
        return None

    def cells(row: Tag) -> list[str]:
        return [
            visible_text(c)
            for c in row.find_all(attrs={"role": ["columnheader", "rowheader", "cell", "gridcell"]})
        ]

    header_idx = next((i for i, r in enumerate(rows) if r.find(attrs={"role": "columnheader"})), 0)
    return HtmlTable(
        cells(rows[header_idx]), [cells(r) for r in rows[header_idx + 1 :]], _headings(grid), grid
    )


def orphan_tables(soup: BeautifulSoup) -> list[HtmlTable]:
    """Rows outside any table (a page cut inside its table, as archived excerpts are), each
    run of sibling rows as one table with an unknown header."""
    groups: dict[int, list[Tag]] = {}
    parents: dict[int, Tag] = {}
    for tr in soup.find_all("tr"):
        if tr.find_parent("table") is not None or tr.find_parent(attrs={"role": ["table", "grid"]}):
            continue
        key = id(tr.parent)
        groups.setdefault(key, []).append(tr)
        parents[key] = tr
    out = []
    for key, rows in groups.items():
        data = [_cells(tr, ["th", "td"]) for tr in rows]
        width = max((len(r) for r in data), default=0)
        if width:
            out.append(
                HtmlTable([""] * width, data, _headings(parents[key]), rows[0], header_known=False)
            )
    return out


def html_tables(soup: BeautifulSoup) -> list[HtmlTable]:
    """Every ``<table>`` and ARIA grid of the page, in document order (script content is
    text to the parser, so tables inside scripts are never among them)."""
    found = [_html_table(t) for t in soup.find_all("table")]
    found += [
        _aria_table(g)
        for g in soup.find_all(attrs={"role": ["table", "grid"]})
        if g.name != "table"
    ]
    return [t for t in found if t is not None and any(t.header)]


# --- cells --------------------------------------------------------------------------------


def norm_header(text: str) -> str:
    """Header text for matching: footnote marks dropped, whitespace collapsed, lower case."""
    return re.sub(r"\s+", " ", FOOTNOTE.sub(" ", text or "")).strip().lower()


def parse_price(text: str) -> tuple[float | None, str]:
    """(price, currency) from a price cell: ``$3.99``, ``$ 3.99 / GPU / hr``, ``US$1,234.50``,
    ``$1.89/H100/hour``. None when the cell does not hold exactly one number among known
    unit words."""
    raw = _GPU_AS_UNIT.sub("/gpu", (text or "").replace("\xa0", " ")).strip()
    lower = raw.lower()
    currency = next(
        (
            code
            for mark, code in _CURRENCY
            if re.search(rf"(?<![a-z]){re.escape(mark)}(?![a-z])", lower)
        ),
        "USD",
    )
    numbers = _NUMBER.findall(lower)
    if len(numbers) != 1:
        return None, currency
    rest = _PRICE_WORDS.sub("", _NUMBER.sub("", lower, count=1))
    if rest:  # words we do not know: "from", "contact sales", "–", "~"
        return None, currency
    return float(numbers[0].replace(",", "")), currency


def price_basis(text: str) -> str | None:
    """``per_gpu`` / ``per_instance`` from a price header or cell's wording, None if it says
    neither (or both)."""
    lower = _GPU_AS_UNIT.sub("/gpu", text or "").lower()
    gpu, instance = bool(_PER_GPU.search(lower)), bool(_PER_INSTANCE.search(lower))
    if gpu == instance:
        return None
    return "per_gpu" if gpu else "per_instance"


def is_not_priced(text: str) -> bool:
    """A price cell that says there is no price: ``Contact sales``, ``N/A``, ``Sold out``."""
    return bool(_NOT_PRICED.match(FOOTNOTE.sub("", text or "").strip()))


def first_number(text: str) -> float | None:
    """The first number in a cell (``"80 GB"`` -> 80.0, ``"2,048"`` -> 2048.0), None if none."""
    m = _NUMBER.search(text or "")
    return float(m.group(0).replace(",", "")) if m else None


def split_count(cell: str) -> tuple[int | None, str]:
    """``"8x NVIDIA H100 SXM*"`` -> ``(8, "NVIDIA H100 SXM")``; no ``Nx`` prefix -> ``(None, name)``."""
    name = FOOTNOTE.sub("", cell or "").strip()
    m = _COUNT_PREFIX.match(name)
    return (int(m.group(1)), m.group(2).strip()) if m else (None, name)


def parse_count(cell: str) -> int | None:
    """A GPU-count cell: ``"8"``, ``"8x"``, ``"8 GPUs"``, ``"4^1"`` (footnote) -> 8 / 4;
    anything else None."""
    m = _COUNT_CELL.match(FOOTNOTE.sub("", cell or ""))
    return int(m.group(1)) if m else None


def parse_cluster_count(cell: str) -> int | None:
    """A cluster-size cell: the smallest cluster it names (``"16"``, ``"256+"`` -> 256,
    ``"64 - 60,000"`` -> 64); anything else None."""
    m = _CLUSTER_COUNT.match(FOOTNOTE.sub("", cell or ""))
    return int(m.group(1).replace(",", "")) if m else None


# --- records ------------------------------------------------------------------------------


def page_offer(provider: str, **values: Any) -> dict[str, Any]:
    """A candidate offer with every ``RAW_OFFER_KEYS`` key in that order (``None`` where the
    page says nothing; on demand, in USD, unless ``values`` say otherwise); keys beyond them
    (``note``) follow."""
    rec: dict[str, Any] = {
        "provider": provider,
        "segment": None,
        "upstream_source": None,
        "gpu_name": None,
        "gpu_hint": "",
        "gpu_memory_gb": None,
        "gpu_count": None,
        "instance_type": None,
        "region": None,
        "pricing": "on_demand",
        "reserved_term": None,
        "price": None,
        "price_basis": None,
        "currency": "USD",
        "price_min": None,
        "price_max": None,
        "n_offers": None,
        "stock_status": None,
        "available_gpus": None,
        "payload_name": None,
        "date": None,
    }
    rec.update(values)
    return rec


def kept_once(
    name: str,
    records: list[dict[str, Any]],
    notes: dict[str, Any],
    key: Sequence[str],
    log: logging.Logger,
) -> list[dict[str, Any]]:
    """Rows repeated verbatim on ``key`` (the same table rendered twice) kept once, first
    wins; how many went is ``notes["repeated_rows"]``."""
    unique: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        unique.setdefault(tuple(rec[k] for k in key), rec)
    if len(unique) < len(records):
        log.info(
            "%s: %d repeated rows (same table rendered twice) kept once",
            name,
            len(records) - len(unique),
        )
        notes["repeated_rows"] = len(records) - len(unique)
    return list(unique.values())
