"""Lambda on-demand GPU instance prices, scraped from the public pricing page (HTML).

Live: one ``GET <base_url>`` (``https://lambda.ai/pricing``), archived as ``pricing.html``.
No key is needed. Lambda's instance API (``cloud.lambdalabs.com/api/v1/instance-types``)
needs an account key, so the page is the public source (shared/data/provider_payloads).

Page structure assumed (no real capture of the page was available; this follows the
public page as remembered, unverified -- the tests use a hand-written fixture,
tests/fixtures/lambda_pricing/): an
"On-demand cloud pricing" section holding one table per instance size (8x, 4x, 2x, 1x),
columns like::

    GPUs                 | VRAM / GPU | vCPUs | RAM      | Storage    | Price / GPU / hr*
    8x NVIDIA H100 SXM   | 80 GB      | 208   | 1800 GiB | 22 TiB SSD | $3.99

Every priced row becomes one ``on_demand`` offer: ``gpu_name`` = the GPU cell without its
``Nx`` prefix, ``gpu_count`` = that ``N`` (or a GPU-count column, or an ``Nx`` in the
table's heading), ``gpu_memory_gb`` = the VRAM cell, ``instance_type`` = the GPU cell as
printed (Lambda names its instances that way), ``price_basis`` from the price column's
wording: ``per_gpu`` for "/ GPU / hr" or "per GPU", ``per_instance`` for "instance" or
"node". Lambda quotes per GPU-hour, and its per-GPU price *falls* with the instance size
(H100 SXM 1x 4.29 vs 8x 3.99, DOMAIN.md) -- ``gpu_count`` keeps the sizes apart.

Decisions and quirks handled:

1. Tables are found by their header text, never by CSS classes (which are generated and
   change with every site build): a table qualifies when one header names the GPU or
   instance (``GPUs``, ``GPU``, ``Instance type``) and one names a price. ``<table>``
   elements and ARIA grids (``role="table"`` with ``role="row"``) are both read.
2. Whitespace, ``&nbsp;``, nested spans, ``$``, thousands commas, footnote marks (``*``,
   ``†``) and unit words (``/hr``, ``per GPU``, ``USD``) are tolerated in cells. A price
   cell must hold exactly one number; anything else ("Contact sales", a range, a struck-out
   old price beside the new one) is passed on as text and ``normalise_offers``
   quarantines the row as ``missing_price`` -- never dropped. A non-dollar currency sign
   is recorded as that currency (quarantined ``non_usd_currency``).
3. If neither the price header nor the price cell says per GPU or per instance, the row
   cannot be priced safely (an 8x instance price read as per GPU is 8x too dear, and the
   reverse stays inside the sane bounds): ``ParseError``.
4. Tables under a heading about clusters, reservations or private cloud (1-Click Clusters,
   reserved capacity) are skipped on purpose: they are not on-demand instance prices and
   carry no term; the skip is logged. Tables without a GPU column (storage, FAQ) are
   ignored; a GPU table without a price column is logged as a warning.
5. Rows with a single filled cell (group labels such as "NVIDIA Blackwell") and repeated
   header rows are not offers. Rows repeated verbatim (a page rendering the same table
   for desktop and mobile) are kept once.
6. The same page may show headline prices elsewhere ("H100 from $3.99/GPU/hr"): only the
   tables are read.

Fail loudly: a page with no table of that shape (a redesign, a page moved, a page whose
tables are filled in by JavaScript), a table with no data rows, or one in which no price
at all can be read raises ``ParseError`` naming the headers expected and those found.
Scraped strings are data only: nothing is evaluated.

The page-independent helpers (``html_tables``, ``parse_price``, ``price_basis``,
``norm_header``, ``first_number``, ``split_count``, ``parse_count``) are shared with
``coreweave_pricing``; they belong in a common module once a third HTML source arrives.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Tag

from pipelines.lib.http import FetchError, PoliteClient
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload

SOURCE_ID = "lambda_pricing"
PROVIDER = "lambda"
PAYLOAD_NAME = "pricing.html"
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
EXPECTED_HEADERS = (
    "a GPU column ('GPUs', 'GPU', 'Instance type') and a price column "
    "('Price / GPU / hr'), optionally 'VRAM / GPU' and a GPU count"
)
log = logging.getLogger(__name__)

# --- header vocabulary (matched on lower-cased, whitespace-collapsed header text) --------
# Order matters: a header is given the first role it matches, so "Price / GPU / hr" is a
# price and "VRAM / GPU" a memory column before either can look like a GPU column.
_PRICE_HEADER = re.compile(r"\bprice\b|\bcost\b|\$|\busd\b|/\s*h(?:ou)?r\b|\bper hour\b")
_NOT_ON_DEMAND_PRICE = re.compile(r"reserv|commit|\bspot\b|\bterm\b|month|\byear|annual")
_VRAM_HEADER = re.compile(r"\bvram\b|\bgpu mem(?:ory)?\b|\bmemory\s*(?:/|per)\s*gpu\b")
_COUNT_HEADER = re.compile(r"\bgpu count\b|#\s*(?:of\s*)?gpus?\b|\bnumber of gpus\b|\bno\. of gpus\b")
_GPU_HEADER = re.compile(r"\bgpus?\b|\binstance(?: type)?\b|\baccelerators?\b")
# not "commit": an on-demand heading may well say "no commitments"
_SKIP_SECTION = re.compile(r"cluster|reserv|private cloud")

# --- cell vocabulary ----------------------------------------------------------------------
_PER_GPU = re.compile(r"(?:/|\bper)\s*gpu\b|\bgpu[\s-]*(?:hour|hr|h)\b")
_PER_INSTANCE = re.compile(r"\binstance\b|\bnode\b|\bserver\b|\bmachine\b")
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?|\.\d+")
_PRICE_WORDS = re.compile(
    r"us\$|\$|€|£|\busd\b|\beur\b|\bgbp\b|\bper\b|\bgpus?\b|\binstance\b|\bnode\b|\bhours?\b"
    r"|\bhrs?\b|\bh\b|(?<=[a-z])-(?=[a-z])|[/\s()*†‡:]"
)
_CURRENCY = (("€", "EUR"), ("eur", "EUR"), ("£", "GBP"), ("gbp", "GBP"))
_COUNT_PREFIX = re.compile(r"^\s*(\d{1,3})\s*[x×]\s*(.+)$", re.IGNORECASE)
_COUNT_CELL = re.compile(r"^\s*(\d{1,3})\s*[x×]?\s*(?:gpus?)?\s*$", re.IGNORECASE)
_COUNT_IN_HEADING = re.compile(r"\b(\d{1,3})\s*[x×]", re.IGNORECASE)
_FOOTNOTE = re.compile(r"[*†‡]+")


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    url = source_cfg["base_url"]
    try:
        resp = client.get(url, headers={"Accept": ACCEPT_HTML})
    except FetchError as exc:
        return [FetchFailure(PAYLOAD_NAME, url, str(exc))]
    return [Payload(PAYLOAD_NAME, resp.content, resp.url, resp.status, resp.content_type, resp.fetched_at)]


# --- HTML tables --------------------------------------------------------------------------

@dataclass
class HtmlTable:
    """One table of the page: header texts, data rows (cell texts) and the headings above it."""

    header: list[str]
    rows: list[list[str]]
    headings: list[str]  # caption, then the nearest heading, then its parents up to the h2


def _text(tag: Tag) -> str:
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
        out.append(_text(cell))
        out.extend([""] * (span - 1))
    return out


def _headings(el: Tag) -> list[str]:
    """Caption, then the nearest preceding heading and each higher-level heading above it,
    up to the h2 (the h1 is the page title, not a section)."""
    out: list[str] = []
    caption = el.find("caption")
    if caption is not None:
        out.append(_text(caption))
    level = 7
    for heading in el.find_all_previous(re.compile(r"^h[2-6]$")):
        h_level = int(heading.name[1])
        if h_level < level:
            out.append(_text(heading))
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
    data = [_cells(tr, ["th", "td"]) for tr in rows[header_idx + 1:]]
    return HtmlTable(header, data, _headings(table))


def _aria_table(grid: Tag) -> HtmlTable | None:
    rows = [r for r in grid.find_all(attrs={"role": "row"})
            if r.find_parent(attrs={"role": ["table", "grid"]}) is grid]
    if not rows:
        return None

    def cells(row: Tag) -> list[str]:
        return [_text(c) for c in row.find_all(attrs={"role": ["columnheader", "rowheader", "cell", "gridcell"]})]

    header_idx = next((i for i, r in enumerate(rows) if r.find(attrs={"role": "columnheader"})), 0)
    return HtmlTable(cells(rows[header_idx]), [cells(r) for r in rows[header_idx + 1:]], _headings(grid))


def html_tables(soup: BeautifulSoup) -> list[HtmlTable]:
    """Every ``<table>`` and ARIA grid of the page, in document order."""
    found = [_html_table(t) for t in soup.find_all("table")]
    found += [_aria_table(g) for g in soup.find_all(attrs={"role": ["table", "grid"]}) if g.name != "table"]
    return [t for t in found if t is not None and any(t.header)]


# --- cells --------------------------------------------------------------------------------

def norm_header(text: str) -> str:
    """Header text for matching: footnote marks dropped, whitespace collapsed, lower case."""
    return re.sub(r"\s+", " ", _FOOTNOTE.sub(" ", text)).strip().lower()


def parse_price(text: str) -> tuple[float | None, str]:
    """(price, currency) from a price cell: ``$3.99``, ``$ 3.99 / GPU / hr``, ``US$1,234.50``.
    None when the cell does not hold exactly one number among known unit words."""
    raw = (text or "").replace("\xa0", " ").strip()
    lower = raw.lower()
    currency = next((code for mark, code in _CURRENCY if re.search(rf"(?<![a-z]){re.escape(mark)}(?![a-z])", lower)),
                    "USD")
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
    lower = (text or "").lower()
    gpu, instance = bool(_PER_GPU.search(lower)), bool(_PER_INSTANCE.search(lower))
    if gpu == instance:
        return None
    return "per_gpu" if gpu else "per_instance"


def first_number(text: str) -> float | None:
    """The first number in a cell (``"80 GB"`` -> 80.0, ``"2,048"`` -> 2048.0), None if none."""
    m = _NUMBER.search(text or "")
    return float(m.group(0).replace(",", "")) if m else None


def split_count(cell: str) -> tuple[int | None, str]:
    """``"8x NVIDIA H100 SXM*"`` -> ``(8, "NVIDIA H100 SXM")``; no ``Nx`` prefix -> ``(None, name)``."""
    name = _FOOTNOTE.sub("", cell or "").strip()
    m = _COUNT_PREFIX.match(name)
    return (int(m.group(1)), m.group(2).strip()) if m else (None, name)


def parse_count(cell: str) -> int | None:
    """A GPU-count cell: ``"8"``, ``"8x"``, ``"8 GPUs"`` -> 8; anything else None."""
    m = _COUNT_CELL.match(cell or "")
    return int(m.group(1)) if m else None


# --- the page -----------------------------------------------------------------------------

@dataclass
class _Columns:
    gpu: int
    price: int
    vram: int | None
    count: int | None


def _columns(table: HtmlTable, name: str) -> _Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    headers = [norm_header(h) for h in table.header]
    price_cols, vram, count_cols, gpu_cols = [], None, [], []
    for i, h in enumerate(headers):
        if not h:
            continue
        if _PRICE_HEADER.search(h):
            if not _NOT_ON_DEMAND_PRICE.search(h):
                price_cols.append(i)
        elif _VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif _COUNT_HEADER.search(h):
            count_cols.append(i)
        elif _GPU_HEADER.search(h):
            gpu_cols.append(i)
    # a "GPUs" column holding only counts ("8", "8x") is a count column
    for i in list(gpu_cols):
        cells = [r[i] for r in table.rows if i < len(r) and r[i]]
        if len(gpu_cols) > 1 and cells and all(parse_count(c) is not None for c in cells):
            gpu_cols.remove(i)
            count_cols.append(i)
    if not gpu_cols:
        return None
    if not price_cols:
        log.warning("%s: table with headers %s has a GPU column but no on-demand price column; "
                    "skipped", name, table.header)
        return None
    if len(price_cols) > 1:
        on_demand = [i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]]
        if len(on_demand) != 1:
            raise ParseError(f"{name}: table with headers {table.header} has several price columns "
                             f"{[table.header[i] for i in price_cols]}; cannot tell the on-demand one")
        price_cols = on_demand
    return _Columns(gpu_cols[0], price_cols[0], vram, count_cols[0] if count_cols else None)


def _records_for_table(name: str, table: HtmlTable, cols: _Columns) -> list[dict[str, Any]]:
    header_basis = price_basis(table.header[cols.price])
    heading_count = next((int(m.group(1)) for h in table.headings[:2]
                          if (m := _COUNT_IN_HEADING.search(h))), None)
    normalised_header = [norm_header(h) for h in table.header]
    records: list[dict[str, Any]] = []
    n_priced = 0
    for row in table.rows:
        filled = [c for c in row if c]
        if not filled:
            continue
        if len(filled) == 1 and len(table.header) >= 3:
            log.debug("%s: group label row %r", name, filled[0])
            continue
        if [norm_header(c) for c in row] == normalised_header:
            continue  # the header repeated inside the table
        cell = row[cols.gpu] if cols.gpu < len(row) else ""
        price_text = row[cols.price] if cols.price < len(row) else ""
        count, gpu_name = split_count(cell)
        if cols.count is not None and cols.count < len(row):
            count = parse_count(row[cols.count]) or count
        if count is None:
            count = heading_count  # None -> normalise_offers quarantines (bad_gpu_count)
        price, currency = parse_price(price_text)
        basis = header_basis or price_basis(price_text)
        if basis is None:
            raise ParseError(
                f"{name}: cannot tell whether prices are per GPU or per instance: price header "
                f"{table.header[cols.price]!r}, cell {price_text!r} (expected '/ GPU / hr' or 'per instance')"
            )
        if price is not None:
            n_priced += 1
        vram = row[cols.vram] if cols.vram is not None and cols.vram < len(row) else ""
        records.append({
            "provider": PROVIDER,
            "segment": None,
            "upstream_source": None,
            "gpu_name": gpu_name,
            "gpu_hint": "",
            "gpu_memory_gb": first_number(vram),
            "gpu_count": count,
            "instance_type": _FOOTNOTE.sub("", cell).strip() or None,
            "region": None,
            "pricing": "on_demand",
            "reserved_term": None,
            # an unreadable price is kept as its text: normalise_offers quarantines it
            "price": price if price is not None else price_text,
            "price_basis": basis,
            "currency": currency,
            "price_min": None,
            "price_max": None,
            "n_offers": None,
            "stock_status": None,
            "available_gpus": None,
            "payload_name": name,
            "date": None,
        })
    if not records:
        raise ParseError(f"{name}: pricing table {table.header} under {table.headings[:2]} has no data rows "
                         "(filled in by JavaScript, or the layout changed)")
    if n_priced == 0:
        raise ParseError(f"{name}: pricing table {table.header} under {table.headings[:2]}: no price "
                         f"could be read in {len(records)} rows (e.g. {records[0]['price']!r})")
    return records


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate on-demand offers from one archived Lambda pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    tables = html_tables(soup)
    records: list[dict[str, Any]] = []
    skipped_sections: list[str] = []
    for table in tables:
        cols = _columns(table, name)
        if cols is None:
            continue
        section = " / ".join(table.headings[:3])
        if _SKIP_SECTION.search(section.lower()):
            log.info("%s: skipped table %s under %r (not on-demand instances)", name, table.header, section)
            skipped_sections.append(section)
            continue
        records.extend(_records_for_table(name, table, cols))
    if not records:
        found = [t.header for t in tables][:8]
        detail = f"; GPU tables skipped as cluster/reserved: {skipped_sections}" if skipped_sections else ""
        raise ParseError(f"{name}: no Lambda on-demand pricing table found: expected {EXPECTED_HEADERS}; "
                         f"found {len(tables)} table(s) with headers {found}{detail}")
    unique: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        key = tuple(rec[k] for k in ("gpu_name", "gpu_count", "gpu_memory_gb", "instance_type",
                                     "price", "price_basis", "currency"))
        unique.setdefault(key, rec)
    if len(unique) < len(records):
        log.info("%s: %d repeated rows (same table rendered twice) kept once", name, len(records) - len(unique))
    return list(unique.values())
