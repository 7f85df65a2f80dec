"""CoreWeave's price tables other than the 2026 collection lists: the header vocabulary and
record shape the CoreWeave parser shares, the 2023 "GPU Component Cost Per Hour" grid, and
``<table>`` / ARIA grid renderings with an ``Instance Price`` column. Used by
``coreweave_pricing`` (not a source: no SPEC); the decisions these rules implement are
numbered in that module's docstring.

Pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Tag

from pipelines.lib.sources._price_tables import (
    HtmlTable,
    first_number,
    is_not_priced,
    norm_header,
    page_offer,
    parse_count,
    parse_price,
    price_basis,
    split_count,
)
from pipelines.lib.sources.base import ParseError

PROVIDER = "coreweave"
# logged as the source, so an operator filtering on the source's logger sees every line
log = logging.getLogger("pipelines.lib.sources.coreweave_pricing")

# Header roles, tried in this order (the first match wins): "Instance Price" is a price,
# "VRAM (GB)" memory and "GPU Count" a count before either can look like the GPU column.
PRICE_HEADER = re.compile(r"\bprice\b|\bcost\b|\$|\busd\b|/\s*h(?:ou)?r\b|\bper hour\b")


NOT_ON_DEMAND_PRICE = re.compile(r"reserv|commit|\bspot\b|\bterm\b|month|\byear|annual")


SPOT_HEADER = re.compile(r"\bspot\b|preemptible|interruptible")


INFERENCE_HEADER = re.compile(r"\binference\b")


VRAM_HEADER = re.compile(r"\bvram\b|\bgpu mem(?:ory)?\b|\bmemory\s*(?:/|per)\s*gpu\b")


COUNT_HEADER = re.compile(
    r"\bgpu count\b|#\s*(?:of\s*)?gpus?\b|\bnumber of gpus\b|\bgpus per (?:instance|node)\b"
)


_INSTANCE_HEADER = re.compile(r"\binstance(?: type| id| name)?\b")


GPU_HEADER = re.compile(r"\bgpus?\b|\bgpu (?:model|type|name)\b|\baccelerators?\b")


HGX = re.compile(r"\bHGX\b", re.IGNORECASE)


_COMPONENT_HEADER = re.compile(r"\bgpu\s+component\b.*\bcost\s+per\s+hour\b", re.IGNORECASE)


_HEADING = re.compile(r"^h[1-6]$")


def record(**values: Any) -> dict[str, Any]:
    """A candidate CoreWeave offer with every RAW_OFFER_KEYS key (``None`` where the page
    says nothing)."""
    return page_offer(PROVIDER, **values)


def piece_text(tag: Tag) -> str:
    """A cell's text without footnote superscripts (``4<sup>1</sup>`` -> ``4``)."""
    parts = [
        str(s) for s in tag.find_all(string=True) if s.parent is None or s.parent.name != "sup"
    ]
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


# --- 2023: the "GPU Component Cost Per Hour" grid ------------------------------------------


def _component_price(cell: Tag) -> tuple[float | None, str, str]:
    """The one price among a cell's text pieces ("$4.76" beside a "Reserve Now" link)."""
    pieces = list(cell.stripped_strings)
    found = {p for p in (parse_price(s) for s in pieces) if p[0] is not None}
    text = " ".join(pieces)
    if len(found) == 1:
        price, currency = found.pop()
        return price, currency, text
    return None, "USD", text


def grid_records(name: str, soup: BeautifulSoup, notes: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for label in soup.find_all(string=re.compile(r"gpu\s+component", re.IGNORECASE)):
        header = label.parent
        if header is None or not _COMPONENT_HEADER.search(piece_text(header)):
            continue
        rows: list[Tag] = []
        for el in header.find_all_next(True):
            if _HEADING.match(el.name or "") or (
                el is not header and _COMPONENT_HEADER.search(el.string or "")
            ):
                break
            if any(el in r.descendants for r in rows[-1:]):
                continue
            kids = el.find_all(True, recursive=False)
            if (
                len(kids) >= 3
                and re.search(r"[a-z]{2}", piece_text(kids[0]), re.IGNORECASE)
                and "$" in piece_text(kids[-1])
                and "$" not in piece_text(kids[0])
            ):
                rows.append(el)
        for row in rows:
            kids = row.find_all(True, recursive=False)
            model = piece_text(kids[0])
            price, currency, text = _component_price(kids[-1])
            if price is None and is_not_priced(text):
                notes.setdefault("not_priced", []).append(f"{model} GPU component: {text}")
                continue
            records.append(
                record(
                    gpu_name=model,
                    gpu_hint="SXM" if HGX.search(model) else "",
                    gpu_count=1,
                    instance_type=f"{model} (GPU component)",
                    price=price if price is not None else text,
                    price_basis="per_gpu",
                    currency=currency,
                    payload_name=name,
                )
            )
    return records


# --- <table> / ARIA grid renderings ----------------------------------------------------------


@dataclass
class _Columns:
    gpu: int
    price: int
    vram: int | None
    count: int | None
    instance: int | None


def _header_roles(
    headers: list[str],
) -> tuple[list[int], list[int], list[int], int | None, int | None]:
    """(price, count, GPU columns, VRAM column, instance column) from normalised headers."""
    price_cols: list[int] = []
    count_cols: list[int] = []
    gpu_cols: list[int] = []
    vram = instance = None
    for i, h in enumerate(headers):
        if not h:
            continue
        if PRICE_HEADER.search(h):
            if not NOT_ON_DEMAND_PRICE.search(h):
                price_cols.append(i)
        elif VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif COUNT_HEADER.search(h):
            count_cols.append(i)
        elif _INSTANCE_HEADER.search(h):
            instance = i if instance is None else instance
        elif GPU_HEADER.search(h):
            gpu_cols.append(i)
    return price_cols, count_cols, gpu_cols, vram, instance


def _on_demand_price(table: HtmlTable, headers: list[str], price_cols: list[int], name: str) -> int:
    """The on-demand one of several price columns; ParseError when none or several say so."""
    if len(price_cols) == 1:
        return price_cols[0]
    on_demand = [i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]]
    if len(on_demand) != 1:
        raise ParseError(
            f"{name}: table with headers {table.header} has several price columns "
            f"{[table.header[i] for i in price_cols]}; cannot tell the on-demand one"
        )
    return on_demand[0]


def table_columns(table: HtmlTable, name: str) -> _Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    headers = [norm_header(h) for h in table.header]
    price_cols, count_cols, gpu_cols, vram, instance = _header_roles(headers)
    # of two GPU-ish columns ("GPU", "GPUs"), the one holding only numbers is the count
    for i in list(gpu_cols):
        cells = [r[i] for r in table.rows if i < len(r) and r[i]]
        if len(gpu_cols) > 1 and cells and all(parse_count(c) is not None for c in cells):
            gpu_cols.remove(i)
            count_cols.append(i)
    if not gpu_cols:
        return None
    if not price_cols:
        log.warning(
            "%s: table with headers %s has a GPU column but no on-demand price column; skipped",
            name,
            table.header,
        )
        return None
    price = _on_demand_price(table, headers, price_cols, name)
    return _Columns(gpu_cols[0], price, vram, count_cols[0] if count_cols else None, instance)


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def records_for_table(
    name: str, table: HtmlTable, cols: _Columns, notes: dict[str, Any]
) -> list[dict[str, Any]]:
    """Offers from a ``<table>`` / ARIA grid rendering of the GPU instance prices."""
    header_basis = price_basis(table.header[cols.price])
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
        count, gpu_name = split_count(_cell(row, cols.gpu))
        if cols.count is not None:
            count = parse_count(_cell(row, cols.count))  # None -> quarantined, never guessed
        price_text = _cell(row, cols.price)
        if is_not_priced(price_text):
            notes.setdefault("not_priced", []).append(f"{gpu_name} on-demand: {price_text}")
            continue
        price, currency = parse_price(price_text)
        basis = header_basis or price_basis(price_text)
        if basis is None:
            raise ParseError(
                f"{name}: cannot tell whether prices are per instance or per GPU: price header "
                f"{table.header[cols.price]!r}, cell {price_text!r} (expected 'Instance price' or '/ GPU / hr')"
            )
        if price is not None:
            n_priced += 1
        records.append(
            record(
                gpu_name=gpu_name,
                gpu_hint="SXM" if HGX.search(gpu_name) else "",
                gpu_memory_gb=first_number(_cell(row, cols.vram)),
                gpu_count=count,
                instance_type=_cell(row, cols.instance) or None,
                # an unreadable price is kept as its text: normalise_offers quarantines it
                price=price if price is not None else price_text,
                price_basis=basis,
                currency=currency,
                payload_name=name,
            )
        )
    if not records and not notes.get("not_priced"):
        raise ParseError(
            f"{name}: pricing table {table.header} under {table.headings[:2]} has no data rows "
            "(filled in by JavaScript, or the layout changed)"
        )
    if records and n_priced == 0:
        raise ParseError(
            f"{name}: pricing table {table.header} under {table.headings[:2]}: no price "
            f"could be read in {len(records)} rows (e.g. {records[0]['price']!r})"
        )
    return records
