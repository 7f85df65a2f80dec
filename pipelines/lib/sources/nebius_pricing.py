"""Nebius GPU prices from the public pricing page, nebius.com/prices (HTML, no key).

Live: one ``GET <base_url>`` (``https://nebius.com/prices``), archived as ``prices.html``.
Real captures: shared/data/pricing_pages/nebius (2026-10-08, attributes stripped, and
≈2026-10-04 with the gravity-ui class names); both parse to the same offers.

Page structure (both captures): no ``<table>``. Each price table is a grid of ``<div>``s
under an ``<h2>``: a header row whose first cell is ``Item``, then one row per item, each
cell a ``<div><div><p>text</p></div></div>``. The GPU tables are:

* "NVIDIA GPU Instances": ``Item | vCPUs | RAM, GB | On-demand, GPU-hour |
  GPU-hour (Effective October 1, 2026)`` -- HGX H100 ``$3.85`` / ``$4.50``, H200
  ``$4.50`` / ``$5.40``, B200 ``$7.15`` / ``$8.50``, B300 ``$7.85`` / ``$9.50``, RTX PRO
  6000 ``$1.80`` / ``$1.80``, L40S ``from $1.55``; GB200 / GB300 NVL72 ``Contact us``;
* "Preemptible NVIDIA GPU Instances": ``Item | vCPUs | RAM, GB | Spot price, GPU-hour*``
  -- ``from $0.99`` (B300, B200), ``from $0.79`` (H200, H100, RTX PRO 6000), L40S
  ``from $0.74**`` / ``from $0.90**``.

Decisions:

1. **Dated columns are chosen by the payload's date.** A header ``... (Effective <Month D,
   YYYY>)`` is the price from that day on; the undated price column is the price before
   the first such day. ``parse(name, content, day)`` emits, per item, the one column that
   applies on ``day`` (the archive date: the module sets ``PARSE_NEEDS_DAY`` and
   ``pipelines.lib.ingest`` passes ``day=``; other parsers keep ``parse(name, content)``):
   H100 is 3.85 on 2026-09-30 and
   4.50 from 2026-10-01. ``parse`` stays a pure function of its arguments, so replaying a
   date gives what a live run on that date gave. Without ``day`` a page whose dated and
   undated columns disagree is ambiguous and raises ``ParseError`` (never a guess); a page
   without a dated column needs no day. The offer's ``instance_type`` says which column
   was used ("price effective 2026-10-01").
2. **Basis: all-in per GPU-hour.** The price is per GPU-hour of an instance that includes
   its share of vCPUs and RAM (the row's ``vCPUs`` / ``RAM, GB`` columns, e.g. H100 16
   vCPUs / 200 GB per GPU). Nebius switched from GPU-only to this all-in pricing in 2025
   (DOMAIN.md), so the basis is recorded in ``instance_type`` ("all-in GPU-hour: 16 vCPU,
   200 GB RAM per GPU"); ``price_basis`` is ``per_gpu`` and ``gpu_count`` 1.
3. **Preemptible = ``spot``.** ``from $X`` is a lower bound (spot prices are dynamic, the
   page's footnote says; L40S configurations vary by vCPU count): the offer keeps ``X`` as
   its price and ``price_min`` and says "lower bound ('from $0.79')" in ``instance_type``.
   Footnote marks (``*``, ``**``) are dropped from the price and noted.
4. ``Contact us`` is not a price: no offer, counted in the log (GB200 / GB300 NVL72).
   Any other unreadable price cell is passed on as text, so ``normalise_offers``
   quarantines the row (``missing_price``); nothing is dropped silently.
5. "HGX" is NVIDIA's SXM baseboard: ``gpu_hint = SXM`` for those rows, so "NVIDIA HGX
   H100" is H100-SXM-80GB without the variant being assumed.
6. Tables without a ``GPU-hour`` price column (CPU-only, storage, services) are not GPU
   offers and are ignored; so is the CPU table's own dated column.

Fail loudly: a page with no ``Item`` grid with a GPU-hour column, a GPU grid with no
rows, several undated GPU-hour columns in one grid, or no price column applying on
``day`` raise ``ParseError``.

The grid reader (``div_grids``), ``cell_text`` and ``dollar_price`` are shared with
``hyperstack_pricing`` and ``crusoe_pricing``, whose pages are built the same way.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, NavigableString, Tag

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._page import fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "nebius_pricing"
PROVIDER = "nebius"
PAYLOAD_NAME = "prices.html"
# parse needs the archive date (dated price columns): ingest passes ``day=`` when this is set
PARSE_NEEDS_DAY = True
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": "https://nebius.com/prices"},
    terms=Terms(
        url="https://docs.nebius.com/legal/terms-of-use",
        verdict="unknown",
        checked="2026-12-01",
        quote="Nebius' Terms of Use of the Platform say 'The Platform enables the User to get "
        "access to information about the Platform and services of the Platform' (2.1); "
        "no clause on automated collection of the public price page, or on reuse of its "
        "prices in an index, could be established from the text available to us.",
        licence="proprietary; prices as published by Nebius",
    ),
    description="Nebius pricing page: on-demand (by effective date) and preemptible GPU-hour prices",
)

log = logging.getLogger(__name__)

_EFFECTIVE = re.compile(r"effective\s+([A-Za-z]+\.?\s+\d{1,2},?\s+\d{4})", re.IGNORECASE)
_DOLLAR = re.compile(r"^(from\s+)?(?:US)?\$\s*(\d[\d,]*(?:\.\d+)?)\s*([*†‡]*)$", re.IGNORECASE)
_CONTACT = re.compile(r"^\s*contact\s+(?:us|sales)\s*$", re.IGNORECASE)
_HGX = re.compile(r"\bHGX\b", re.IGNORECASE)


# --- shared helpers: div grids and price cells ---------------------------------------------


def cell_text(tag: Tag) -> str:
    """Visible text of a cell: ``&nbsp;`` (decoded or, when a page double-escapes it, the
    literal ``&nbsp;``), zero-width spaces and runs of whitespace collapsed."""
    text = tag.get_text(" ", strip=True).replace("&nbsp;", " ").replace("\u200b", "")
    return re.sub(r"\s+", " ", text).strip()


@dataclass
class Grid:
    """One ``<div>`` grid of a page: header texts, rows of cell texts, the heading above it."""

    header: list[str]
    rows: list[list[str]]
    row_tags: list[list[Tag]]
    heading: str


def _row_of(cell_leaf: Tag) -> Tag | None:
    """The header row holding the cell that contains ``cell_leaf``: the nearest ancestor with
    at least two element children that all carry text."""
    node = cell_leaf
    while node.parent is not None and isinstance(node.parent, Tag):
        kids = [k for k in node.parent.children if isinstance(k, Tag)]
        if len(kids) >= 2 and all(cell_text(k) for k in kids):
            return node.parent
        node = node.parent
    return None


def div_grids(
    soup: BeautifulSoup, first_header: Callable[[str], bool], heading_tags: tuple[str, ...]
) -> list[Grid]:
    """Every grid whose header row starts with a cell for which ``first_header(text)`` holds.

    The data rows are the element children of the header row's next sibling, or, when the
    header row is wrapped alone in a head element (Nebius), of the head's next sibling;
    each row's cells are its element children."""
    grids: list[Grid] = []
    seen: set[int] = set()
    for text in soup.find_all(
        string=lambda s: isinstance(s, NavigableString) and first_header(s.strip())
    ):
        leaf = text.parent
        if not isinstance(leaf, Tag):
            continue
        header_row = _row_of(leaf)
        if header_row is None or id(header_row) in seen:
            continue
        seen.add(id(header_row))
        cells = [k for k in header_row.children if isinstance(k, Tag)]
        body = header_row.find_next_sibling()
        if body is None and header_row.parent is not None:
            body = header_row.parent.find_next_sibling()
        row_tags = (
            [
                [c for c in row.children if isinstance(c, Tag)]
                for row in body.children
                if isinstance(row, Tag)
            ]
            if body is not None
            else []
        )
        row_tags = [r for r in row_tags if r]
        heading_tag = header_row.find_previous(list(heading_tags))
        grids.append(
            Grid(
                header=[cell_text(c) for c in cells],
                rows=[[cell_text(c) for c in r] for r in row_tags],
                row_tags=row_tags,
                heading=cell_text(heading_tag) if heading_tag is not None else "",
            )
        )
    return grids


def dollar_price(text: str) -> tuple[float | None, bool, str]:
    """``"$3.85"`` -> ``(3.85, False, "")``; ``"from $0.74**"`` -> ``(0.74, True, "**")``
    (lower bound, footnote marks); anything else -> ``(None, False, "")``."""
    m = _DOLLAR.match((text or "").replace("\xa0", " ").strip())
    if not m:
        return None, False, ""
    return float(m.group(2).replace(",", "")), bool(m.group(1)), m.group(3)


def is_contact(text: str) -> bool:
    """A "Contact us" / "Contact sales" cell: no price published."""
    return bool(_CONTACT.match(text or ""))


# --- the Nebius page ------------------------------------------------------------------------


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _effective_date(header: str, name: str) -> dt.date | None:
    m = _EFFECTIVE.search(header)
    if not m:
        return None
    raw = re.sub(r"\s+", " ", m.group(1).replace(",", " ").replace(".", " ")).strip()
    for fmt in ("%B %d %Y", "%b %d %Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise ParseError(f"{name}: cannot read the effective date in price header {header!r}")


@dataclass
class _PriceColumn:
    index: int
    header: str
    effective: dt.date | None  # None: the undated (current-before-the-first-date) column


def _price_columns(grid: Grid, name: str) -> list[_PriceColumn]:
    cols = [
        _PriceColumn(i, h, _effective_date(h, name))
        for i, h in enumerate(grid.header)
        if "gpu-hour" in h.lower()
    ]
    undated = [c for c in cols if c.effective is None]
    if len(undated) > 1:
        raise ParseError(
            f"{name}: grid {grid.header} under {grid.heading!r} has several undated "
            f"GPU-hour columns {[c.header for c in undated]}; cannot tell which applies"
        )
    return cols


def _applicable(cols: list[_PriceColumn], day: dt.date, name: str, grid: Grid) -> _PriceColumn:
    """The column in force on ``day``: the latest dated column effective on or before it,
    else the undated one."""
    dated = sorted(
        (c for c in cols if c.effective is not None and c.effective <= day),
        key=lambda c: c.effective,
    )
    if dated:
        return dated[-1]
    undated = [c for c in cols if c.effective is None]
    if not undated:
        raise ParseError(
            f"{name}: no price column of {grid.header} applies on {day} (every column "
            "takes effect later)"
        )
    return undated[0]


def parse(name: str, content: bytes, day: dt.date | None = None) -> list[dict[str, Any]]:
    """Candidate offers from one archived nebius.com/prices page, with the prices in force on
    ``day`` (the archive date; see the module docstring)."""
    soup = BeautifulSoup(content, "html.parser")
    grids = [
        g
        for g in div_grids(soup, lambda s: s == "Item", ("h2", "h3"))
        if any("gpu-hour" in h.lower() for h in g.header)
    ]
    if not grids:
        found = [g.header for g in div_grids(soup, lambda s: s == "Item", ("h2", "h3"))][:6]
        raise ParseError(
            f"{name}: no Nebius GPU price grid found (an 'Item' header row with a "
            f"'GPU-hour' price column); grids found: {found}"
        )
    records: list[dict[str, Any]] = []
    contact = 0
    for grid in grids:
        if not grid.rows:
            raise ParseError(f"{name}: GPU grid {grid.header} under {grid.heading!r} has no rows")
        cols = _price_columns(grid, name)
        spot = "preemptible" in grid.heading.lower() or any(
            "spot" in c.header.lower() for c in cols
        )
        if day is not None:
            chosen: _PriceColumn | None = _applicable(cols, day, name, grid)
        elif all(c.effective is None for c in cols):
            chosen = cols[0]
        else:
            chosen = None  # decided per row below: fine only where every column agrees
        vcpu_i = next((i for i, h in enumerate(grid.header) if "vcpu" in h.lower()), None)
        ram_i = next((i for i, h in enumerate(grid.header) if h.lower().startswith("ram")), None)
        for row in grid.rows:
            item = row[0] if row else ""
            if not item:
                continue
            col = chosen
            if col is None:
                cells = {row[c.index] if c.index < len(row) else "" for c in cols}
                if len(cells) > 1:
                    raise ParseError(
                        f"{name}: {item!r} has different prices in {[c.header for c in cols]}; "
                        "which applies depends on the payload's date: call parse(name, content, day)"
                    )
                col = cols[0]
            cell = row[col.index] if col.index < len(row) else ""
            if is_contact(cell):
                contact += 1
                continue
            price, lower_bound, marks = dollar_price(cell)
            notes = []
            if vcpu_i is not None and ram_i is not None and max(vcpu_i, ram_i) < len(row):
                notes.append(f"all-in GPU-hour: {row[vcpu_i]} vCPU, {row[ram_i]} GB RAM per GPU")
            if lower_bound:
                notes.append(f"lower bound ({cell!r})")
            elif marks:
                notes.append(f"footnote {marks}")
            if col.effective is not None:
                notes.append(f"price effective {col.effective.isoformat()}")
            records.append(
                {
                    "provider": PROVIDER,
                    "segment": None,
                    "upstream_source": None,
                    "gpu_name": item,
                    "gpu_hint": "SXM" if _HGX.search(item) else "",
                    "gpu_memory_gb": None,
                    "gpu_count": 1,
                    "instance_type": " | ".join([item, *notes]),
                    "region": None,
                    "pricing": "spot" if spot else "on_demand",
                    "reserved_term": None,
                    # an unreadable cell is kept as its text: normalise_offers quarantines it
                    "price": price if price is not None else cell,
                    "price_basis": "per_gpu",
                    "currency": "USD",
                    "price_min": price if lower_bound else None,
                    "price_max": None,
                    "n_offers": None,
                    "stock_status": None,
                    "available_gpus": None,
                    "payload_name": name,
                    "date": None,
                }
            )
    if contact:
        log.info("%s: %d 'Contact us' cells (no published price): not offers", name, contact)
    if not records:
        raise ParseError(
            f"{name}: the Nebius GPU grids hold no priced row ({contact} 'Contact us')"
        )
    return records
