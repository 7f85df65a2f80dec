"""The offers of one Lambda pricing table: a row's pricing type, GPU count, price basis and
record, the checks that keep a misread table from loading, and the GPU x cluster-size
layout of reserved cluster rates. Used by ``lambda_pricing`` (not a source: no SPEC); the
decisions these rules implement are numbered in that module's docstring.

Pure: no I/O besides logging.
"""

from __future__ import annotations

import itertools
import logging
import re
from dataclasses import dataclass
from typing import Any

from pipelines.lib.sources._lambda_layout import (
    COUNT_IN_HEADING,
    Columns,
    block_duration,
    block_mode,
    cluster_shaped,
    column,
    count_from_label,
    is_texty,
    tab_label,
)
from pipelines.lib.sources._price_tables import (
    FOOTNOTE,
    HtmlTable,
    first_number,
    is_not_priced,
    norm_header,
    page_offer,
    parse_cluster_count,
    parse_price,
    price_basis,
    split_count,
)
from pipelines.lib.sources.base import ParseError

PROVIDER = "lambda"
# logged as the source, so an operator filtering on the source's logger sees every line
log = logging.getLogger("pipelines.lib.sources.lambda_pricing")

_ROW_LABEL = re.compile(r"^\s*(on[- ]demand|reserved|spot)\b[\s:–-]*", re.IGNORECASE)


_BADGES = re.compile(
    r"(?:\s+(?:new|popular|hot|beta|limited(?: availability)?))+\s*$", re.IGNORECASE
)


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


@dataclass
class _Table:
    """One table with what its place on the page says about every row in it."""

    name: str  # the payload
    table: HtmlTable
    cols: Columns
    block: str  # on_demand / reserved
    tab_label: str | None
    header_price: str
    header_basis: str | None
    tab_count: int | None
    heading_count: int | None
    duration: str | None
    normalised_header: list[str]


def _table_context(name: str, table: HtmlTable, cols: Columns) -> _Table:
    label = tab_label(table.element) if table.element is not None else None
    block = block_mode(table, label)
    if block == "on_demand" and cluster_shaped(table, cols):
        log.info(
            "%s: table %s lists cluster sizes or terms: read as reserved cluster rates",
            name,
            table.header,
        )
        block = "reserved"
    header_price = table.header[cols.price] if table.header_known else ""
    return _Table(
        name=name,
        table=table,
        cols=cols,
        block=block,
        tab_label=label,
        header_price=header_price,
        header_basis=price_basis(header_price),
        tab_count=count_from_label(label) if label else None,
        heading_count=next(
            (int(m.group(1)) for h in table.headings[:2] if (m := COUNT_IN_HEADING.search(h))),
            None,
        ),
        duration=(
            block_duration(table.element)
            if block == "reserved" and table.element is not None
            else None
        ),
        normalised_header=[norm_header(h) for h in table.header],
    )


def _is_data_row(t: _Table, row: list[str]) -> bool:
    """Not an empty row, a group label (one filled cell) or the header repeated."""
    filled = [c for c in row if c]
    if not filled:
        return False
    if len(filled) == 1 and len(row) >= 3:
        log.debug("%s: group label row %r", t.name, filled[0])
        return False
    # the header repeated inside the table
    return not (t.table.header_known and [norm_header(c) for c in row] == t.normalised_header)


def _row_pricing(t: _Table, row: list[str]) -> tuple[str, str, str, str]:
    """(pricing, GPU cell without its label, label-column text, in-cell label): the block
    decides unless the row's own label says otherwise (decision 2)."""
    cell = _cell(row, t.cols.name)
    label_text = _cell(row, t.cols.label)
    m = _ROW_LABEL.match(cell)
    row_label = m.group(1) if m else ""
    cell = cell[m.end() :] if m else cell
    pricing = t.block
    for text in (label_text, row_label):
        low = text.lower().replace(" ", "-")
        if low.startswith("reserved"):
            pricing = "reserved"
        elif low.startswith("on-demand"):
            pricing = "on_demand"
        elif low.startswith("spot"):
            pricing = "spot"
    return pricing, cell, label_text, row_label


def _row_count(
    t: _Table, row: list[str], cell: str, cell_count: int | None, instance_cell: str
) -> int | None:
    """The row's GPU count (decision 4): a count column, else the cell's ``Nx``, else the
    tab, else the heading; a cell that contradicts its tab leaves it None."""
    if t.cols.count is not None:
        return parse_cluster_count(_cell(row, t.cols.count))  # None -> quarantined, never guessed
    instance_count, _ = split_count(instance_cell)
    count = cell_count or instance_count
    if t.tab_count is None:
        return t.heading_count if count is None else count
    if count is not None and count != t.tab_count:
        log.warning(
            "%s: row %r says %sx but sits in the %r tab: count left unknown",
            t.name,
            cell,
            count,
            t.tab_label,
        )
        return None
    return t.tab_count


def _row_basis(
    t: _Table, shown: str, price_text: str, pricing: str, count: int | None
) -> tuple[str | None, bool]:
    """(price basis, inferred?) of a row's price (decision 3)."""
    basis = t.header_basis or price_basis(price_text)
    inferred = False
    if basis is None and pricing == "reserved":
        # a cluster rate with no unit: per GPU or for the whole cluster? quarantined
        # (bad_price_basis) rather than divided by a cluster size it may not be for
        log.warning(
            "%s: reserved row %r price %r says neither per GPU nor per instance",
            t.name,
            shown,
            price_text,
        )
    elif basis is None:
        if count is None:
            raise ParseError(
                f"{t.name}: cannot tell whether prices are per GPU or per instance: price "
                f"header {t.header_price!r}, cell {price_text!r}, and the row names no GPU "
                "count (expected '/ GPU / hr' or 'per instance')"
            )
        basis, inferred = "per_instance", True  # the price of the Nx the row names
    if pricing == "reserved" and basis == "per_gpu":
        basis = "cluster_per_gpu"  # a multi-GPU cluster rate quoted per GPU (DOMAIN.md)
    return basis, inferred


def _row_record(
    t: _Table, row: list[str], notes: dict[str, Any]
) -> tuple[dict[str, Any], bool] | None:
    """(record, basis inferred?) of one data row; None for a row without a price (noted)."""
    pricing, cell, label_text, row_label = _row_pricing(t, row)
    cell = _BADGES.sub("", FOOTNOTE.sub("", cell)).strip()
    cell_count, gpu_name = split_count(cell)
    instance_cell = _cell(row, t.cols.instance)
    count = _row_count(t, row, cell, cell_count, instance_cell)
    price_text = _cell(row, t.cols.price)
    shown = " ".join(p for p in (label_text, row_label, instance_cell or cell) if p)
    instance_type = shown
    if t.cols.count is not None and _cell(row, t.cols.count):
        instance_type = f"{shown} ({_cell(row, t.cols.count)} GPUs)"
    elif t.tab_label and cell_count is None:
        instance_type = f"{t.tab_label} {shown}"
    if is_not_priced(price_text):
        notes.setdefault("not_priced", []).append(f"{pricing} {instance_type}: {price_text}")
        return None
    price, currency = parse_price(price_text)
    basis, inferred = _row_basis(t, shown, price_text, pricing, count)
    rec = page_offer(
        PROVIDER,
        gpu_name=gpu_name,
        gpu_hint=instance_cell,
        gpu_memory_gb=first_number(_cell(row, t.cols.vram)),
        gpu_count=count,
        instance_type=instance_type or None,
        pricing=pricing,
        reserved_term=(_cell(row, t.cols.term) or t.duration) if pricing == "reserved" else None,
        # an unreadable price is kept as its text: normalise_offers quarantines it
        price=price if price is not None else price_text,
        price_basis=basis,
        currency=currency,
        payload_name=t.name,
    )
    return rec, inferred


def _check_on_demand_table(t: _Table, records: list[dict[str, Any]], n_rows: int) -> None:
    """An on-demand table with no rows, or none whose price can be read, is a ParseError."""
    if n_rows == 0:
        raise ParseError(
            f"{t.name}: pricing table {t.table.header} under {t.table.headings[:2]} has no "
            "data rows (filled in by JavaScript, or the layout changed)"
        )
    on_demand = [r for r in records if r["pricing"] == "on_demand"]
    if on_demand and not any(isinstance(r["price"], float) for r in on_demand):
        raise ParseError(
            f"{t.name}: pricing table {t.table.header} under {t.table.headings[:2]}: no price "
            f"could be read in {len(on_demand)} rows (e.g. {on_demand[0]['price']!r})"
        )


def records_for_table(
    name: str,
    table: HtmlTable,
    cols: Columns,
    notes: dict[str, Any],
    inferred: list[tuple[str, dict[str, Any]]],
) -> list[dict[str, Any]]:
    """Offers of one table; records whose basis was inferred are also added to ``inferred``
    (with their price header) for the page-wide check."""
    t = _table_context(name, table, cols)
    records: list[dict[str, Any]] = []
    n_rows = 0
    for row in table.rows:
        if not _is_data_row(t, row):
            continue
        n_rows += 1
        found = _row_record(t, row, notes)
        if found is None:
            continue
        rec, basis_inferred = found
        records.append(rec)
        if basis_inferred:
            inferred.append((t.header_price, rec))
    if t.block == "on_demand":
        _check_on_demand_table(t, records, n_rows)
    return records


def check_instance_basis(name: str, inferred: list[tuple[str, dict[str, Any]]]) -> None:
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


def size_columns(table: HtmlTable) -> dict[int, int]:
    """Header cells that are cluster sizes ("16 GPUs", "256+"): column -> smallest size."""
    if not table.header_known:
        return {}
    out = {}
    for i, h in enumerate(table.header):
        size = parse_cluster_count(FOOTNOTE.sub("", h))
        if size is not None and size > 8:
            out[i] = size
    return out if len(out) >= 2 else {}


def wide_cluster_records(
    name: str, table: HtmlTable, sizes: dict[int, int], notes: dict[str, Any]
) -> list[dict[str, Any]]:
    """A cluster table laid out GPU x cluster size (one price column per size): every priced
    cell is a reserved cluster rate. The unit comes from the cell, else from the table's
    caption/headings ("PRICE/GPU/HR"); none -> ``price_basis`` None (quarantined)."""
    name_col = next(
        (i for i in range(len(table.header)) if i not in sizes and is_texty(column(table, i))),
        None,
    )
    if name_col is None:
        return []
    context_basis = next(
        (b for t in [*table.headings[:2], *table.header] if (b := price_basis(t))), None
    )
    duration = block_duration(table.element) if table.element is not None else None
    records = []
    for row in table.rows:
        shown = _BADGES.sub("", FOOTNOTE.sub("", _cell(row, name_col))).strip()
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
                page_offer(
                    PROVIDER,
                    gpu_name=gpu_name,
                    gpu_count=size,
                    instance_type=label,
                    pricing="reserved",
                    reserved_term=duration,
                    price=price if price is not None else text,
                    price_basis="cluster_per_gpu" if basis == "per_gpu" else basis,
                    currency=currency,
                    payload_name=name,
                )
            )
    return records
