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

The grid reader (``div_grids``), ``cell_text``, ``dollar_price`` and ``is_contact`` are shared
with ``hyperstack_pricing`` and ``crusoe_pricing``, whose pages are built the same way: they
live in ``_div_grids`` and stay importable from here.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._div_grids import Grid, cell_text, div_grids, dollar_price, is_contact
from pipelines.lib.sources._page import ACCEPT_HTML, fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "nebius_pricing"
PROVIDER = "nebius"
PAYLOAD_NAME = "prices.html"
# parse needs the archive date (dated price columns): ingest passes ``day=`` when this is set
PARSE_NEEDS_DAY = True

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

# the div-grid helpers, importable from here as before (hyperstack_pricing, tests)
__all__ = [
    "PARSE_NEEDS_DAY",
    "PAYLOAD_NAME",
    "PROVIDER",
    "SOURCE_ID",
    "SPEC",
    "Grid",
    "cell_text",
    "div_grids",
    "dollar_price",
    "fetch",
    "is_contact",
    "parse",
]

_EFFECTIVE = re.compile(r"effective\s+([A-Za-z]+\.?\s+\d{1,2},?\s+\d{4})", re.IGNORECASE)
_HGX = re.compile(r"\bHGX\b", re.IGNORECASE)


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


def _chosen_column(
    cols: list[_PriceColumn], day: dt.date | None, name: str, grid: Grid
) -> _PriceColumn | None:
    """The column in force on ``day``; without a day, the only one, or None (decided per row,
    fine only where every column agrees)."""
    if day is not None:
        return _applicable(cols, day, name, grid)
    if all(c.effective is None for c in cols):
        return cols[0]
    return None


def _row_column(
    name: str, item: str, row: list[str], cols: list[_PriceColumn], chosen: _PriceColumn | None
) -> _PriceColumn:
    """The column a row's price is read from: ``chosen``, else the first where all agree."""
    if chosen is not None:
        return chosen
    cells = {row[c.index] if c.index < len(row) else "" for c in cols}
    if len(cells) > 1:
        raise ParseError(
            f"{name}: {item!r} has different prices in {[c.header for c in cols]}; "
            "which applies depends on the payload's date: call parse(name, content, day)"
        )
    return cols[0]


def _row_notes(
    grid: Grid, row: list[str], cell: str, lower_bound: bool, marks: str, col: _PriceColumn
) -> list[str]:
    """What the instance type says beside the item: all-in vCPU/RAM, lower bound, footnote,
    effective date."""
    vcpu_i = next((i for i, h in enumerate(grid.header) if "vcpu" in h.lower()), None)
    ram_i = next((i for i, h in enumerate(grid.header) if h.lower().startswith("ram")), None)
    notes = []
    if vcpu_i is not None and ram_i is not None and max(vcpu_i, ram_i) < len(row):
        notes.append(f"all-in GPU-hour: {row[vcpu_i]} vCPU, {row[ram_i]} GB RAM per GPU")
    if lower_bound:
        notes.append(f"lower bound ({cell!r})")
    elif marks:
        notes.append(f"footnote {marks}")
    if col.effective is not None:
        notes.append(f"price effective {col.effective.isoformat()}")
    return notes


def _grid_records(name: str, grid: Grid, day: dt.date | None) -> tuple[list[dict[str, Any]], int]:
    """(offers, "Contact us" cells) of one GPU price grid."""
    if not grid.rows:
        raise ParseError(f"{name}: GPU grid {grid.header} under {grid.heading!r} has no rows")
    cols = _price_columns(grid, name)
    spot = "preemptible" in grid.heading.lower() or any("spot" in c.header.lower() for c in cols)
    chosen = _chosen_column(cols, day, name, grid)
    records: list[dict[str, Any]] = []
    contact = 0
    for row in grid.rows:
        item = row[0] if row else ""
        if not item:
            continue
        col = _row_column(name, item, row, cols, chosen)
        cell = row[col.index] if col.index < len(row) else ""
        if is_contact(cell):
            contact += 1
            continue
        price, lower_bound, marks = dollar_price(cell)
        notes = _row_notes(grid, row, cell, lower_bound, marks, col)
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
    return records, contact


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
        grid_records, grid_contact = _grid_records(name, grid, day)
        records.extend(grid_records)
        contact += grid_contact
    if contact:
        log.info("%s: %d 'Contact us' cells (no published price): not offers", name, contact)
    if not records:
        raise ParseError(
            f"{name}: the Nebius GPU grids hold no priced row ({contact} 'Contact us')"
        )
    return records
