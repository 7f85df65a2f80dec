"""CoreWeave's 2026 price listings: Webflow collection lists (``role="list"`` /
``role="listitem"``), one per region, each under a header grid, with on-demand, spot and
inference-platform prices per row. Used by ``coreweave_pricing`` (not a source: no SPEC);
the decisions these rules implement are numbered in that module's docstring.

Pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Tag

from pipelines.lib.sources._coreweave_tables import (
    COUNT_HEADER,
    GPU_HEADER,
    HGX,
    INFERENCE_HEADER,
    NOT_ON_DEMAND_PRICE,
    PRICE_HEADER,
    SPOT_HEADER,
    VRAM_HEADER,
    piece_text,
    record,
)
from pipelines.lib.sources._price_tables import (
    first_number,
    is_not_priced,
    norm_header,
    parse_count,
    parse_price,
    price_basis,
)
from pipelines.lib.sources.base import ParseError

INFERENCE_PRICING = "inference_platform"  # not a PRICING_TYPE on purpose: see decision 3
INFERENCE_NOTE = (
    "CoreWeave inference-platform per-GPU rate (page footnote: 'exclusively applicable to the "
    "CoreWeave inference platform customers'); it restates the on-demand instance price per GPU "
    "and is not a GPU rental offer, so it is kept here rather than in any price series"
)
# logged as the source, so an operator filtering on the source's logger sees every line
log = logging.getLogger("pipelines.lib.sources.coreweave_pricing")

_REGION = re.compile(r"^\s*region\s*:\s*(.+?)\s*$", re.IGNORECASE)


def _n_pieces(tag: Tag) -> int:
    return sum(1 for s in tag.stripped_strings)


def _header_like(el: Tag) -> list[str] | None:
    """The first grid in ``el`` whose children (3 or more) are all short labels: a header row."""
    for cand in [el, *el.find_all(True)]:
        kids = cand.find_all(True, recursive=False)
        if len(kids) < 3:
            continue
        texts = [piece_text(k) for k in kids]
        if (
            all(texts)
            and all(len(t) <= 80 and "$" not in t for t in texts)
            and all(_n_pieces(k) <= 3 for k in kids)
        ):
            return texts
    return None


def _list_header(lst: Tag) -> list[str] | None:
    """The header grid printed just before a collection list (a sibling of the list or of
    one of its first ancestors); the first header-like grid found wins, so a CPU list is not
    read with the GPU list's header."""
    node: Tag | None = lst
    for _ in range(4):
        if node is None:
            return None
        for sib in node.find_previous_siblings():
            if isinstance(sib, Tag):
                header = _header_like(sib)
                if header:
                    return header
        node = node.parent
    return None


def _region(lst: Tag) -> str | None:
    """The ``REGION: ...`` label nearest before the list, as ``North America`` / ``Europe``."""
    for text in lst.find_all_previous(string=_REGION, limit=1):
        m = _REGION.match(str(text))
        if m:
            # "NORTH AMERICA" -> "North America"; short codes stay as printed ("US", "EU")
            return " ".join(
                w if len(w) <= 3 and w.isupper() else w.capitalize() for w in m.group(1).split()
            )
    return None


def _row_cells(item: Tag, header: list[str]) -> list[str] | None:
    """The value cells of one list item: the first grid with at least as many children as
    the header, without the detail blocks that repeat the values with labels (many text
    pieces; or, failing that, a header label beside a value: "GPU Count 8")."""
    queue = [item]
    while queue:
        cand = queue.pop(0)
        kids = cand.find_all(True, recursive=False)
        if len(kids) >= len(header):
            cells = [k for k in kids if _n_pieces(k) < 3]
            if len(cells) != len(header):
                labels = [norm_header(h) for h in header]
                cells = [
                    k
                    for k in cells
                    if not any(
                        lab
                        and lab in norm_header(piece_text(k))
                        and lab != norm_header(piece_text(k))
                        for lab in labels
                    )
                ]
            return [piece_text(k) for k in cells]
        queue.extend(kids)
    return None


@dataclass
class _ListColumns:
    name: int
    count: int | None
    vram: int | None
    prices: dict[str, int]  # on_demand / spot / inference -> column
    bases: dict[str, str | None]


def _list_columns(header: list[str], list_name: str, name: str) -> _ListColumns | None:
    headers = [norm_header(h) for h in header]
    prices: dict[str, int] = {}
    bases: dict[str, str | None] = {}
    duplicated: list[str] = []
    gpu = count = vram = None
    for i, h in enumerate(headers):
        if PRICE_HEADER.search(h):
            kind = (
                "inference"
                if INFERENCE_HEADER.search(h)
                else "spot"
                if SPOT_HEADER.search(h)
                else None
                if NOT_ON_DEMAND_PRICE.search(h)
                else "on_demand"
            )
            if kind is None:
                log.info(
                    "%s: %s column %r is not read (reserved/term price)", name, list_name, header[i]
                )
                continue
            if kind in prices:
                duplicated.append(kind)
            prices.setdefault(kind, i)
            bases.setdefault(kind, price_basis(header[i]))
        elif VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif COUNT_HEADER.search(h):
            count = i if count is None else count
        elif GPU_HEADER.search(h) and gpu is None:
            gpu = i
    if gpu is None or "on_demand" not in prices and "spot" not in prices:
        return None  # not a GPU price listing (CPU, storage, networking)
    if duplicated:
        raise ParseError(
            f"{name}: {list_name} has several {duplicated[0]} price columns in {header}; "
            "cannot tell which one is the instance price"
        )
    return _ListColumns(gpu, count, vram, prices, bases)


def listing_records(
    name: str, soup: BeautifulSoup, notes: dict[str, Any]
) -> tuple[list[dict[str, Any]], list]:
    records: list[dict[str, Any]] = []
    headers_seen: list[list[str]] = []
    for lst in soup.find_all(attrs={"role": "list"}):
        items = [
            it
            for it in lst.find_all(attrs={"role": "listitem"})
            if it.find_parent(attrs={"role": "list"}) is lst
        ]
        if not items:
            continue
        header = _list_header(lst)
        if header is None:
            continue  # detail cards, banners: no header grid
        headers_seen.append(header)
        region = _region(lst)
        list_name = f"listing {header[:2]} ({region or 'no region'})"
        cols = _list_columns(header, list_name, name)
        if cols is None:
            continue  # CPU, storage, networking lists
        records.extend(_list_rows(name, list_name, header, items, cols, region, notes))
    return records, headers_seen


def _row_prices(
    cells: list[str], cols: _ListColumns, shown: str, notes: dict[str, Any]
) -> dict[str, tuple[float | None, str, str]]:
    """kind -> (price, currency, cell text) of one row; "Contact sales" cells are noted."""
    parsed: dict[str, tuple[float | None, str, str]] = {}
    for kind, i in cols.prices.items():
        text = cells[i]
        if is_not_priced(text):
            notes.setdefault("not_priced", []).append(
                f"{shown} {kind.replace('_', '-')}: {text}".strip()
            )
            continue
        price, currency = parse_price(text)
        parsed[kind] = (price, currency, text)
    return parsed


def _check_inference(
    name: str,
    list_name: str,
    model: str,
    parsed: dict[str, tuple[float | None, str, str]],
    count: int | None,
    notes: dict[str, Any],
) -> None:
    """The inference column is per GPU: it pins what the instance column means (decision 2)."""
    od, inf = parsed.get("on_demand"), parsed.get("inference")
    if od and inf and od[0] and inf[0] and count and count > 1:
        if abs(inf[0] - od[0]) < abs(inf[0] - od[0] / count):
            raise ParseError(
                f"{name}: {list_name}: {model} on-demand {od[2]!r} equals its per-GPU "
                f"inference price {inf[2]!r} at {count} GPUs: the prices are per GPU, "
                "not per instance"
            )
        notes["inference_checked"] = notes.get("inference_checked", 0) + 1


def _list_basis(name: str, list_name: str, header: list[str], cols: _ListColumns, kind: str) -> str:
    """The basis of a price column: its header's, else per instance where rows carry a GPU
    count (decision 2); neither is a ParseError."""
    basis = cols.bases[kind]
    if basis is not None:
        return basis
    if cols.count is None:
        raise ParseError(
            f"{name}: {list_name}: cannot tell whether prices are per instance or "
            f"per GPU: header {header[cols.prices[kind]]!r} and no GPU count column"
        )
    return "per_instance"


def _list_rows(
    name: str,
    list_name: str,
    header: list[str],
    items: list[Tag],
    cols: _ListColumns,
    region: str | None,
    notes: dict[str, Any],
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    n_priced = 0
    for item in items:
        cells = _row_cells(item, header)
        if cells is None or len(cells) != len(header):
            raise ParseError(
                f"{name}: {list_name}: a row's cells {cells} do not line up with the "
                f"header {header} (layout changed)"
            )
        model = cells[cols.name]
        count = parse_count(cells[cols.count]) if cols.count is not None else None
        parsed = _row_prices(cells, cols, f"{region or ''} {model}", notes)
        _check_inference(name, list_name, model, parsed, count, notes)
        row = {
            "gpu_name": model,
            "gpu_hint": "SXM" if HGX.search(model) else "",
            "gpu_memory_gb": first_number(cells[cols.vram]) if cols.vram is not None else None,
            "region": region,
            "payload_name": name,
        }
        for kind, (price, currency, text) in parsed.items():
            if kind == "inference":
                records.append(
                    record(
                        **row,
                        gpu_count=1,
                        instance_type=f"{model} (inference platform, per GPU)",
                        pricing=INFERENCE_PRICING,
                        price=price if price is not None else text,
                        price_basis="per_gpu",
                        currency=currency,
                        note=INFERENCE_NOTE,
                    )
                )
                continue
            basis = _list_basis(name, list_name, header, cols, kind)
            if price is not None:
                n_priced += 1
            records.append(
                record(
                    **row,
                    gpu_count=count,
                    instance_type=model,
                    pricing=kind,
                    # an unreadable price is kept as its text: normalise_offers quarantines it
                    price=price if price is not None else text,
                    price_basis=basis,
                    currency=currency,
                )
            )
    if items and n_priced == 0:
        raise ParseError(
            f"{name}: {list_name}: no on-demand or spot price could be read in {len(items)} rows"
        )
    return records
