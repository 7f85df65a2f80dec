"""Lambda GPU instance prices (on-demand, and reserved cluster rates), scraped from the public
pricing page (HTML).

Live: one ``GET <base_url>`` (``https://lambda.ai/pricing``), archived as ``pricing.html``.
No key is needed. Lambda's instance API (``cloud.lambdalabs.com/api/v1/instance-types``)
needs an account key, so the page is the public source.

Terms (checked 2026-12-01): Lambda's "Website Terms of Service" (lambdalabs.com/legal/
terms-of-service, "Last updated October 24, 2023"; lambda.ai/legal is its current home)
bind anyone "visiting or browsing the Sites" and incorporate the Acceptable Use Policy and
the Cloud Terms of Service. The stored copy we could read gives no clause on robots,
scraping or automated access, nor on re-use of the published prices in a comparison, so
the verdict is ``unknown``: an operator should read the current terms before enabling the
live fetch for anything beyond personal use. The fetch is one polite GET a day.

Page structures read (real captures in ``../shared/data/pricing_pages/lambda/``):

* **2026 lambda.ai/pricing** ("Instances pricing" block): a tab list ``8x | 4x | 2x | 1x``
  (``role="tab"`` buttons with ``aria-controls``) and one ``role="tabpanel"`` per tab, each
  holding a ``<table>``. A row's GPU count exists ONLY in which tab it sits in: it is read
  from the panel's tab (``aria-labelledby`` -> the tab's label, or the tab whose
  ``aria-controls`` names the panel, or the panel's position among its siblings, or a
  Webflow ``data-w-tab`` label). The first header cell is empty or a visually hidden
  ``Plan``; the GPU name is a ``<th>`` in each row; price header ``PRICE/GPU/HR*`` = USD per
  GPU per hour. A separate "1-Click Clusters" block lists reserved cluster rates per GPU
  with a duration (``2 weeks – 1 year``) and a cluster size (``16``, ``64``, ``256+``):
  those rows are ``pricing="reserved"``, ``price_basis="cluster_per_gpu"``,
  ``reserved_term`` = the duration text, ``gpu_count`` = the smallest cluster the rate is
  for (``256+`` -> 256, ``64 - 60,000`` -> 64; the printed size stays in
  ``instance_type``). A cluster table laid out GPU x size (columns ``16 GPUs | 64 GPUs |
  256+ GPUs``) is read the same way, one rate per cell. They never enter on-demand.
  Every table is repeated, unicode-escaped, inside a ``<script>`` (the page's hydration
  data): script content is never parsed as markup, so the copies are not read twice; they
  are counted in the notes.
* **2024 lambdalabs.com/service/gpu-cloud**: one table whose GPU cells say
  ``On-demand 8x NVIDIA H100 SXM`` / ``Reserved 8x NVIDIA H100 SXM`` and price cells
  ``$2.99 / GPU / hr``; reserved rows say ``CONTACT SALES``. The capture starts inside the
  header row (no ``<table>`` tag): rows outside any table are read as one table whose
  columns are told by their content (the GPU cell, the ``80 GB`` VRAM cell, the ``$`` cell).
* **2023 lambdalabs.com/service/gpu-cloud**: "On-demand GPU cloud pricing" with header
  ``Price`` and cells ``$20.72 / hr`` for ``8x NVIDIA H100 SXM``: the price of the whole
  instance (``price_basis="per_instance"``, ``normalise_offers`` divides: 20.72 / 8 = 2.59);
  "Reserved Cloud Cluster pricing" with ``$1.89/H100/hour`` (per GPU), a ``Term``
  (``3-years``) and ``# of GPUs`` (``64 - 60,000``).

Decisions:

1. Tables are found by header text and ARIA roles, never by CSS classes (generated, they
   change with every build). A table qualifies when one column names the GPU (a header
   ``GPUs``/``GPU``/``Instance type``, or an empty/``Plan`` header over text cells) and
   one a price.
2. Pricing type: the tab or the block's heading decides (``cluster``/``reserv``/``private
   cloud`` -> reserved, else on-demand); a table that lists cluster sizes (a GPU-count
   column above 8 or with ``+``) or terms is reserved whatever its heading (so cluster
   rates cannot leak into on-demand when a page drops the heading); a row's own label
   overrides both (``On-demand ...``, ``Reserved ...``; a label column ``Reserved`` /
   ``Sprint``).
3. Basis: ``/ GPU / hr``, ``per GPU`` or ``/H100/hour`` in the header or cell -> per GPU
   (``cluster_per_gpu`` for reserved cluster rates); ``instance``/``node`` -> per instance.
   A price that says neither (``$20.72 / hr`` under ``Price``) is the price of the row's
   ``Nx`` instance -- Lambda prices what the row names -- and is checked against the
   table: where one GPU appears at several sizes, instance prices must grow with the GPU
   count (2023: A100 1x 1.10, 2x 2.20, 4x 4.40, 8x 8.80); flat prices across sizes mean
   per-GPU prices with the unit dropped, and the page is a ``ParseError`` rather than a
   guess. A price with neither unit nor GPU count is a ``ParseError`` too. A reserved
   cluster rate without a unit keeps ``price_basis`` None and is quarantined
   (``bad_price_basis``): it is never divided by a cluster size it may not be for.
4. GPU count: the ``Nx`` in the GPU cell, else a GPU-count column, else the tab, else an
   ``Nx`` in the heading. A cell ``Nx`` that contradicts the tab's makes the count None
   (``normalise_offers`` quarantines it): never guessed.
5. ``Contact sales`` / ``N/A`` / ``Sold out`` price cells are not offers and not parse
   errors: they are counted in the payload's notes (``ParsedPage.notes["not_priced"]``).
   Any other unreadable price (a range, ``from $2.99``) is passed on as text and
   quarantined by ``normalise_offers`` as ``missing_price``; never dropped.
6. Badges in the GPU cell (``New``) are not part of the name; footnote marks are dropped.
   Rows with one filled cell (group labels) and repeated header rows are not offers; rows
   repeated verbatim (desktop + mobile renderings, a ``<noscript>`` copy) are kept once.
7. Headline cards ("from $2.99/GPU/hr") are not tables and are not read.

Fail loudly: a page with no on-demand instance table (a redesign, a page moved, a page whose
tables are filled in by JavaScript), an on-demand table with no rows, or one in which no
price can be read raises ``ParseError`` naming the headers expected and found. Tabs whose
panel is missing from the markup are logged and noted. Scraped strings are data only:
nothing is evaluated.

The page-independent helpers (``html_tables``, ``parse_price``, ``price_basis``,
``norm_header``, ``first_number``, ``split_count``, ``parse_count``, ``is_not_priced``,
``ParsedPage``) are shared with ``coreweave_pricing``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass, field
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._page import fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "lambda_pricing"
PROVIDER = "lambda"
PAYLOAD_NAME = "pricing.html"
BASE_URL = "https://lambda.ai/pricing"
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
EXPECTED_HEADERS = (
    "a GPU column ('GPUs', 'GPU', 'Instance type', or an empty/'Plan' first column) and a price "
    "column ('Price / GPU / hr', 'PRICE/GPU/HR*'), optionally 'VRAM / GPU' and a GPU count"
)
log = logging.getLogger(__name__)

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": BASE_URL},
    terms=Terms(
        url="https://lambda.ai/legal/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote=(
            "Website Terms of Service (last updated October 24, 2023) bind anyone 'visiting or "
            "browsing the Sites'; no clause on automated access or on re-use of the published "
            "prices could be read in the stored copy"
        ),
        licence="proprietary; published price list",
    ),
    description="Lambda pricing page (HTML): on-demand per-GPU prices per instance size, "
    "1-Click Cluster reserved rates",
)

# --- header vocabulary (matched on lower-cased, whitespace-collapsed header text) --------
# Order matters: a header is given the first role it matches, so "Price / GPU / hr" is a
# price and "VRAM / GPU" a memory column before either can look like a GPU column.
_PRICE_HEADER = re.compile(r"\bprice\b|\bcost\b|\$|\busd\b|/\s*h(?:ou)?r\b|\bper hour\b")
_NOT_ON_DEMAND_PRICE = re.compile(r"reserv|commit|\bspot\b|\bterm\b|month|\byear|annual")
_VRAM_HEADER = re.compile(r"\bvram\b|\bgpu mem(?:ory)?\b|\bmemory\s*(?:/|per)\s*gpu\b")
_COUNT_HEADER = re.compile(
    r"\bgpu count\b|#\s*(?:of\s*)?gpus?\b|\bnumber of gpus\b|\bno\. of gpus\b|\bcluster size\b"
)
_TERM_HEADER = re.compile(
    r"\bterm\b|\bduration\b|\bcommitment\b|\bcontract\b|\breservation length\b"
)
_INSTANCE_HEADER = re.compile(r"\binstance(?: type)?\b")
_GPU_HEADER = re.compile(r"\bgpus?\b|\bgpu (?:model|type)\b|\baccelerators?\b")
_NAME_HEADER = re.compile(r"^(?:|plan|plans|model|configuration)$")  # empty or visually hidden
_RESERVED_SECTION = re.compile(r"cluster|reserv|private cloud")
_ON_DEMAND_SECTION = re.compile(r"on[- ]demand|instances? pricing|instances\b")

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
_COUNT_IN_LABEL = re.compile(r"^\s*(\d{1,3})\s*(?:[x×]|gpus?\b)", re.IGNORECASE)
_COUNT_IN_HEADING = re.compile(r"\b(\d{1,3})\s*[x×]", re.IGNORECASE)
_FOOTNOTE = re.compile(r"[*†‡¹²³⁴⁵⁶⁷⁸⁹]+|\^\s*\d+\s*$")
_ROW_LABEL = re.compile(r"^\s*(on[- ]demand|reserved|spot)\b[\s:–-]*", re.IGNORECASE)
_BADGES = re.compile(
    r"(?:\s+(?:new|popular|hot|beta|limited(?: availability)?))+\s*$", re.IGNORECASE
)
_NOT_PRICED = re.compile(
    r"^(?:contact(?: us| sales)?|talk to (?:sales|an engineer|us)|n/?a|not available|"
    r"unavailable|sold out|coming soon|[-–—]+)[.!]?$",
    re.IGNORECASE,
)
_DURATION = re.compile(
    r"\b\d+\s*(?:-\s*)?(?:weeks?|months?|years?|yrs?)\b"
    r"(?:\s*(?:-|–|—|to)\s*\d+\s*(?:-\s*)?(?:weeks?|months?|years?|yrs?)\b)?",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^h[1-6]$")
_HIDDEN = ("script", "style", "template")


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


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
            _text(c)
            for c in row.find_all(attrs={"role": ["columnheader", "rowheader", "cell", "gridcell"]})
        ]

    header_idx = next((i for i, r in enumerate(rows) if r.find(attrs={"role": "columnheader"})), 0)
    return HtmlTable(
        cells(rows[header_idx]), [cells(r) for r in rows[header_idx + 1 :]], _headings(grid), grid
    )


def _orphan_tables(soup: BeautifulSoup) -> list[HtmlTable]:
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
    return re.sub(r"\s+", " ", _FOOTNOTE.sub(" ", text or "")).strip().lower()


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
    return bool(_NOT_PRICED.match(_FOOTNOTE.sub("", text or "").strip()))


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
    """A GPU-count cell: ``"8"``, ``"8x"``, ``"8 GPUs"``, ``"4^1"`` (footnote) -> 8 / 4;
    anything else None."""
    m = _COUNT_CELL.match(_FOOTNOTE.sub("", cell or ""))
    return int(m.group(1)) if m else None


def parse_cluster_count(cell: str) -> int | None:
    """A cluster-size cell: the smallest cluster it names (``"16"``, ``"256+"`` -> 256,
    ``"64 - 60,000"`` -> 64); anything else None."""
    m = _CLUSTER_COUNT.match(_FOOTNOTE.sub("", cell or ""))
    return int(m.group(1).replace(",", "")) if m else None


def _count_from_label(label: str) -> int | None:
    m = _COUNT_IN_LABEL.match(label or "")
    return int(m.group(1)) if m else None


# --- the page -----------------------------------------------------------------------------


@dataclass
class _Columns:
    name: int
    price: int
    vram: int | None = None
    count: int | None = None
    term: int | None = None
    instance: int | None = None
    label: int | None = None  # a row-label column ("Reserved", "Sprint") with an empty header


def _is_texty(cells: list[str]) -> bool:
    """Cells that name things (letters, not prices or numbers)."""
    filled = [c for c in cells if c]
    return bool(filled) and all(
        re.search(r"[a-z]{2}", c, re.IGNORECASE) and "$" not in c for c in filled
    )


def _column(table: HtmlTable, i: int) -> list[str]:
    return [r[i] if i < len(r) else "" for r in table.rows]


def _columns_by_content(table: HtmlTable) -> _Columns | None:
    """Column roles of a table whose header is unknown, from what the cells hold."""
    width = len(table.header)
    cols = [_column(table, i) for i in range(width)]
    price = next(
        (
            i
            for i in reversed(range(width))
            if sum("$" in c or is_not_priced(c) for c in cols[i]) >= max(1, len(table.rows) // 2)
        ),
        None,
    )
    name = next((i for i in range(width) if i != price and _is_texty(cols[i])), None)
    if price is None or name is None:
        return None
    vram = next(
        (
            i
            for i in range(width)
            if i not in (price, name)
            and sum(bool(re.fullmatch(r"\d+(?:\.\d+)?\s*GB", c)) for c in cols[i])
            >= len(table.rows) // 2
            and any(cols[i])
        ),
        None,
    )
    return _Columns(name=name, price=price, vram=vram)


def _columns(table: HtmlTable, name: str, reserved_block: bool) -> _Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    if not table.header_known:
        return _columns_by_content(table)
    headers = [norm_header(h) for h in table.header]
    price_cols: list[int] = []
    count_cols: list[int] = []
    gpu_cols: list[int] = []
    unnamed: list[int] = []
    vram = term = instance = None
    for i, h in enumerate(headers):
        if _NAME_HEADER.match(h):
            unnamed.append(i)
        elif _PRICE_HEADER.search(h):
            if reserved_block or not _NOT_ON_DEMAND_PRICE.search(h):
                price_cols.append(i)
        elif _VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif _COUNT_HEADER.search(h):
            count_cols.append(i)
        elif _TERM_HEADER.search(h):
            term = i if term is None else term
        elif _INSTANCE_HEADER.search(h):
            instance = i if instance is None else instance
        elif _GPU_HEADER.search(h):
            gpu_cols.append(i)
    # a "GPUs" column holding only counts ("8", "16", "256+") is a count column
    for i in list(gpu_cols):
        cells = [c for c in _column(table, i) if c]
        if cells and all(parse_cluster_count(c) is not None for c in cells):
            gpu_cols.remove(i)
            count_cols.append(i)
    # an empty table shell still shows its shape: its unnamed first column is the name column
    texty_unnamed = [i for i in unnamed if _is_texty(_column(table, i)) or not table.rows]
    label = None
    if gpu_cols:
        gpu = gpu_cols[0]
        label = texty_unnamed[0] if texty_unnamed else None
    elif instance is not None:
        gpu, instance = instance, None
        label = texty_unnamed[0] if texty_unnamed else None
    elif texty_unnamed:  # 2026: the first header cell is empty or a hidden "Plan"
        gpu = texty_unnamed[0]
    else:
        return None
    if not price_cols:
        log.warning(
            "%s: table with headers %s has a GPU column but no price column; skipped",
            name,
            table.header,
        )
        return None
    if len(price_cols) > 1:
        # "On-demand price" beside others wins; else the per-GPU one of a per-GPU and a
        # per-instance rendering of the same price
        on_demand = [
            i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]
        ]
        per_gpu = [i for i in price_cols if price_basis(table.header[i]) == "per_gpu"]
        chosen = on_demand if len(on_demand) == 1 else per_gpu if len(per_gpu) == 1 else []
        if not chosen:
            if reserved_block:  # never worth losing the on-demand tables of the page over
                log.warning(
                    "%s: cluster table %s has several price columns %s; skipped",
                    name,
                    table.header,
                    [table.header[i] for i in price_cols],
                )
                return None
            raise ParseError(
                f"{name}: table with headers {table.header} has several price columns "
                f"{[table.header[i] for i in price_cols]}; cannot tell the on-demand one"
            )
        price_cols = chosen
    return _Columns(
        name=gpu,
        price=price_cols[0],
        vram=vram,
        count=count_cols[0] if count_cols else None,
        term=term,
        instance=instance,
        label=label,
    )


def _root(el: Tag) -> Tag:
    while el.parent is not None:
        el = el.parent
    return el


def _tab_label(el: Tag) -> str | None:
    """The label of the tab whose panel holds ``el``; None outside tab panels.

    Tried in turn: the panel's ``aria-labelledby``; a tab whose ``aria-controls`` names the
    panel or any ancestor of the table (panels are not always ``role="tabpanel"``); the
    panel's position among the panels beside the tab list; a Webflow ``data-w-tab`` label."""
    root = _root(el)
    panel = el.find_parent(attrs={"role": "tabpanel"})
    if panel is not None and panel.get("aria-labelledby"):
        tab = root.find(id=panel["aria-labelledby"])
        if isinstance(tab, Tag):
            return _text(tab)
    controls = {
        t["aria-controls"]: t
        for t in root.find_all(attrs={"aria-controls": True})
        if t.get("role") == "tab" or t.name == "button"
    }
    for ancestor in el.parents:
        if ancestor.get("id") in controls:
            return _text(controls[ancestor["id"]])
    if panel is not None:
        container = panel
        for _ in range(4):  # the tab list sits beside the panels, a few levels up
            container = container.find_parent() or container
            tabs = container.find_all(attrs={"role": "tab"})
            if not tabs:
                continue
            panels = container.find_all(attrs={"role": "tabpanel"})
            if len(panels) == len(tabs):
                return _text(tabs[panels.index(panel)])
            break
    pane = el.find_parent(attrs={"data-w-tab": True})  # Webflow tab panes
    return str(pane["data-w-tab"]) if pane is not None else None


def _block_mode(table: HtmlTable, tab_label: str | None = None) -> str:
    """``reserved`` when the tab, or the nearest heading that says either, names clusters or
    reservations; else ``on_demand``."""
    for text in (tab_label or "", *table.headings[:3]):
        h = text.lower()
        if _RESERVED_SECTION.search(h):
            return "reserved"
        if _ON_DEMAND_SECTION.search(h):
            return "on_demand"
    return "on_demand"


def _cluster_shaped(table: HtmlTable, cols: _Columns) -> bool:
    """A table that lists cluster sizes (a GPU-count column reaching 16 or saying ``256+``)
    or terms is a cluster/reservation listing whatever heading it sits under: on-demand
    instances are 1 to 8 GPUs and have no term."""
    if cols.term is not None:
        return True
    if cols.count is None:
        return False
    cells = [c for c in _column(table, cols.count) if c]
    return any("+" in c or (parse_cluster_count(c) or 0) > 8 for c in cells)


def _block_duration(el: Tag) -> str | None:
    """A duration stated between the block's heading and the table ("2 weeks – 1 year")."""
    texts: list[str] = []
    for i, node in enumerate(el.previous_elements):
        if i > 400:
            break
        if isinstance(node, Tag) and _HEADING.match(node.name or ""):
            break
        if (
            isinstance(node, NavigableString)
            and node.parent is not None
            and node.parent.name not in _HIDDEN
        ):
            texts.append(str(node))
    m = _DURATION.search(" ".join(reversed(texts)))
    return re.sub(r"\s+", " ", m.group(0)).strip() if m else None


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def _check_instance_basis(name: str, inferred: list[tuple[str, dict[str, Any]]]) -> None:
    """Prices read as per instance (no unit on the page) must grow with the GPU count where
    one GPU appears at several sizes, in any of the page's tables (the 2026 page shows each
    size in its own tab); flat prices across sizes are per-GPU prices with the unit dropped."""
    groups: dict[tuple, list[tuple[int, float, str]]] = {}
    for header, rec in inferred:
        if isinstance(rec["price"], float) and rec["gpu_count"] and rec["pricing"] == "on_demand":
            key = (rec["gpu_name"], rec["gpu_memory_gb"])
            groups.setdefault(key, []).append((rec["gpu_count"], rec["price"], header))
    for (gpu, memory), points in groups.items():
        points.sort()
        for (c1, p1, header), (c2, p2, _) in itertools.pairwise(points):
            if c2 > c1 and (p2 / p1) / (c2 / c1) < 0.75:
                raise ParseError(
                    f"{name}: cannot tell whether prices are per GPU or per instance: price header "
                    f"{header!r}, no unit in the cells, and {gpu} {memory or ''} costs {p1} at {c1}x "
                    f"but {p2} at {c2}x (instance prices would grow with the GPU count; expected "
                    "'/ GPU / hr' or 'per instance')"
                )
    if inferred:
        log.info(
            "%s: %d prices carry no unit: read as the price of the row's instance",
            name,
            len(inferred),
        )


def _records_for_table(
    name: str,
    table: HtmlTable,
    cols: _Columns,
    notes: dict[str, Any],
    inferred: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Offers of one table; records whose basis was inferred are also added to ``inferred``
    (with their price header) for the page-wide check."""
    tab_label = _tab_label(table.element) if table.element is not None else None
    block = _block_mode(table, tab_label)
    if block == "on_demand" and _cluster_shaped(table, cols):
        log.info(
            "%s: table %s lists cluster sizes or terms: read as reserved cluster rates",
            name,
            table.header,
        )
        block = "reserved"
    header_price = table.header[cols.price] if table.header_known else ""
    header_basis = price_basis(header_price)
    tab_count = _count_from_label(tab_label) if tab_label else None
    heading_count = next(
        (int(m.group(1)) for h in table.headings[:2] if (m := _COUNT_IN_HEADING.search(h))), None
    )
    duration = (
        _block_duration(table.element)
        if block == "reserved" and table.element is not None
        else None
    )
    normalised_header = [norm_header(h) for h in table.header]
    records: list[dict[str, Any]] = []
    n_priced = n_rows = 0
    for row in table.rows:
        filled = [c for c in row if c]
        if not filled:
            continue
        if len(filled) == 1 and len(row) >= 3:
            log.debug("%s: group label row %r", name, filled[0])
            continue
        if table.header_known and [norm_header(c) for c in row] == normalised_header:
            continue  # the header repeated inside the table
        n_rows += 1
        cell = _cell(row, cols.name)
        label_text = _cell(row, cols.label)
        m = _ROW_LABEL.match(cell)
        row_label = m.group(1) if m else ""
        cell = cell[m.end() :] if m else cell
        pricing = block
        for text in (label_text, row_label):
            low = text.lower().replace(" ", "-")
            if low.startswith("reserved"):
                pricing = "reserved"
            elif low.startswith("on-demand"):
                pricing = "on_demand"
            elif low.startswith("spot"):
                pricing = "spot"
        cell = _BADGES.sub("", _FOOTNOTE.sub("", cell)).strip()
        cell_count, gpu_name = split_count(cell)
        instance_cell = _cell(row, cols.instance)
        instance_count, _ = split_count(instance_cell)
        if cols.count is not None:
            count = parse_cluster_count(
                _cell(row, cols.count)
            )  # None -> quarantined, never guessed
        else:
            count = cell_count or instance_count
            if tab_count is not None:
                if count is not None and count != tab_count:
                    log.warning(
                        "%s: row %r says %sx but sits in the %r tab: count left unknown",
                        name,
                        cell,
                        count,
                        tab_label,
                    )
                    count = None
                else:
                    count = tab_count
            elif count is None:
                count = heading_count
        price_text = _cell(row, cols.price)
        shown = " ".join(p for p in (label_text, row_label, instance_cell or cell) if p)
        instance_type = shown
        if cols.count is not None and _cell(row, cols.count):
            instance_type = f"{shown} ({_cell(row, cols.count)} GPUs)"
        elif tab_label and cell_count is None:
            instance_type = f"{tab_label} {shown}"
        if is_not_priced(price_text):
            notes.setdefault("not_priced", []).append(f"{pricing} {instance_type}: {price_text}")
            continue
        price, currency = parse_price(price_text)
        basis = header_basis or price_basis(price_text)
        basis_inferred = False
        if basis is None and pricing == "reserved":
            # a cluster rate with no unit: per GPU or for the whole cluster? quarantined
            # (bad_price_basis) rather than divided by a cluster size it may not be for
            log.warning(
                "%s: reserved row %r price %r says neither per GPU nor per instance",
                name,
                shown,
                price_text,
            )
        elif basis is None:
            if count is None:
                raise ParseError(
                    f"{name}: cannot tell whether prices are per GPU or per instance: price header "
                    f"{header_price!r}, cell {price_text!r}, and the row names no GPU count "
                    "(expected '/ GPU / hr' or 'per instance')"
                )
            basis, basis_inferred = "per_instance", True  # the price of the Nx the row names
        if pricing == "reserved" and basis == "per_gpu":
            basis = "cluster_per_gpu"  # a multi-GPU cluster rate quoted per GPU (DOMAIN.md)
        if price is not None:
            n_priced += 1
        vram = _cell(row, cols.vram)
        rec = {
            "provider": PROVIDER,
            "segment": None,
            "upstream_source": None,
            "gpu_name": gpu_name,
            "gpu_hint": instance_cell,
            "gpu_memory_gb": first_number(vram),
            "gpu_count": count,
            "instance_type": instance_type or None,
            "region": None,
            "pricing": pricing,
            "reserved_term": (_cell(row, cols.term) or duration) if pricing == "reserved" else None,
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
        }
        records.append(rec)
        if basis_inferred:
            inferred.append((header_price, rec))
    if block == "on_demand":
        if n_rows == 0:
            raise ParseError(
                f"{name}: pricing table {table.header} under {table.headings[:2]} has no data rows "
                "(filled in by JavaScript, or the layout changed)"
            )
        on_demand = [r for r in records if r["pricing"] == "on_demand"]
        if on_demand and not any(isinstance(r["price"], float) for r in on_demand):
            raise ParseError(
                f"{name}: pricing table {table.header} under {table.headings[:2]}: no price "
                f"could be read in {len(on_demand)} rows (e.g. {on_demand[0]['price']!r})"
            )
    return records


def _size_columns(table: HtmlTable) -> dict[int, int]:
    """Header cells that are cluster sizes ("16 GPUs", "256+"): column -> smallest size."""
    if not table.header_known:
        return {}
    out = {}
    for i, h in enumerate(table.header):
        size = parse_cluster_count(_FOOTNOTE.sub("", h))
        if size is not None and size > 8:
            out[i] = size
    return out if len(out) >= 2 else {}


def _wide_cluster_records(
    name: str, table: HtmlTable, sizes: dict[int, int], notes: dict[str, Any]
) -> list[dict[str, Any]]:
    """A cluster table laid out GPU x cluster size (one price column per size): every priced
    cell is a reserved cluster rate. The unit comes from the cell, else from the table's
    caption/headings ("PRICE/GPU/HR"); none -> ``price_basis`` None (quarantined)."""
    name_col = next(
        (i for i in range(len(table.header)) if i not in sizes and _is_texty(_column(table, i))),
        None,
    )
    if name_col is None:
        return []
    context_basis = next(
        (b for t in [*table.headings[:2], *table.header] if (b := price_basis(t))), None
    )
    duration = _block_duration(table.element) if table.element is not None else None
    records = []
    for row in table.rows:
        shown = _BADGES.sub("", _FOOTNOTE.sub("", _cell(row, name_col))).strip()
        if not shown:
            continue
        _, gpu_name = split_count(shown)
        for i, size in sizes.items():
            text = _cell(row, i)
            label = f"{shown} ({table.header[i]})"
            if not text or is_not_priced(text):
                notes.setdefault("not_priced", []).append(f"reserved {label}: {text or 'empty'}")
                continue
            price, currency = parse_price(text)
            basis = price_basis(text) or context_basis
            records.append(
                {
                    "provider": PROVIDER,
                    "segment": None,
                    "upstream_source": None,
                    "gpu_name": gpu_name,
                    "gpu_hint": "",
                    "gpu_memory_gb": None,
                    "gpu_count": size,
                    "instance_type": label,
                    "region": None,
                    "pricing": "reserved",
                    "reserved_term": duration,
                    "price": price if price is not None else text,
                    "price_basis": "cluster_per_gpu" if basis == "per_gpu" else basis,
                    "currency": currency,
                    "price_min": None,
                    "price_max": None,
                    "n_offers": None,
                    "stock_status": None,
                    "available_gpus": None,
                    "payload_name": name,
                    "date": None,
                }
            )
    return records


def _script_copies(soup: BeautifulSoup) -> int:
    """Scripts that carry a copy of a price table (hydration data): counted, never parsed."""
    n = 0
    for script in soup.find_all("script"):
        text = script.string or script.get_text() or ""
        low = text.lower()
        if ("<table" in low or "\\u003ctable" in low or "price/gpu/hr" in low) and "$" in text:
            n += 1
    return n


def _missing_panels(soup: BeautifulSoup) -> list[str]:
    """Tabs whose ``aria-controls`` panel is not in the markup (filled in by JavaScript)."""
    out = []
    for tab in soup.find_all(attrs={"role": "tab"}):
        target = tab.get("aria-controls")
        if target and soup.find(id=target) is None:
            out.append(_text(tab))
    return out


def parse(name: str, content: bytes) -> ParsedPage:
    """Candidate offers (on-demand instances, reserved cluster rates) from one archived
    Lambda pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    notes: dict[str, Any] = {"script_copies_ignored": _script_copies(soup)}
    for tag in soup.find_all(_HIDDEN):
        tag.decompose()
    tables = html_tables(soup) + _orphan_tables(soup)
    records: list[dict[str, Any]] = []
    inferred: list[tuple[str, dict[str, Any]]] = []
    for table in tables:
        sizes = _size_columns(table)
        if sizes:  # never on-demand: one price column per cluster size
            records.extend(_wide_cluster_records(name, table, sizes, notes))
            continue
        tab = _tab_label(table.element) if table.element is not None else None
        cols = _columns(table, name, _block_mode(table, tab) == "reserved")
        if cols is None:
            continue
        records.extend(_records_for_table(name, table, cols, notes, inferred))
    _check_instance_basis(name, inferred)
    missing = _missing_panels(soup)
    if missing:
        log.warning(
            "%s: tabs %s have no panel in the markup (filled in by JavaScript?)", name, missing
        )
        notes["tabs_without_panel"] = missing
    if not any(r["pricing"] == "on_demand" for r in records):
        found = [t.header for t in tables][:8]
        reserved = sum(r["pricing"] == "reserved" for r in records)
        detail = f"; {reserved} reserved cluster row(s) only" if reserved else ""
        raise ParseError(
            f"{name}: no Lambda on-demand pricing table found: expected {EXPECTED_HEADERS}; "
            f"found {len(tables)} table(s) with headers {found}{detail}"
        )
    unique: dict[tuple, dict[str, Any]] = {}
    for rec in records:
        key = tuple(
            rec[k]
            for k in (
                "gpu_name",
                "gpu_count",
                "gpu_memory_gb",
                "instance_type",
                "pricing",
                "reserved_term",
                "price",
                "price_basis",
                "currency",
            )
        )
        unique.setdefault(key, rec)
    if len(unique) < len(records):
        log.info(
            "%s: %d repeated rows (same table rendered twice) kept once",
            name,
            len(records) - len(unique),
        )
        notes["repeated_rows"] = len(records) - len(unique)
    if notes.get("not_priced"):
        log.info(
            "%s: %d rows without a price (not offers): %s",
            name,
            len(notes["not_priced"]),
            notes["not_priced"][:5],
        )
    return ParsedPage(list(unique.values()), notes)
