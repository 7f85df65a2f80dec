"""How a Lambda pricing table is laid out: which column is the GPU, the price, the count,
the term; which tab and block (on-demand or reserved clusters) a table sits in; what the
page holds besides its tables (script copies, tabs without a panel). Used by
``lambda_pricing`` (not a source: no SPEC); see that module's docstring for the page
structures and decisions these rules implement.

Tables are told by header text and ARIA roles, never by CSS classes (generated, they change
with every build). Pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

from bs4 import BeautifulSoup, NavigableString, Tag

from pipelines.lib.sources._price_tables import (
    HtmlTable,
    is_not_priced,
    norm_header,
    parse_cluster_count,
    price_basis,
    visible_text,
)
from pipelines.lib.sources.base import ParseError

# logged as the source, so an operator filtering on the source's logger sees every line
log = logging.getLogger("pipelines.lib.sources.lambda_pricing")

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
_COUNT_IN_LABEL = re.compile(r"^\s*(\d{1,3})\s*(?:[x×]|gpus?\b)", re.IGNORECASE)


COUNT_IN_HEADING = re.compile(r"\b(\d{1,3})\s*[x×]", re.IGNORECASE)


_DURATION = re.compile(
    r"\b\d+\s*(?:-\s*)?(?:weeks?|months?|years?|yrs?)\b"
    r"(?:\s*(?:-|–|—|to)\s*\d+\s*(?:-\s*)?(?:weeks?|months?|years?|yrs?)\b)?",
    re.IGNORECASE,
)


_HEADING = re.compile(r"^h[1-6]$")


HIDDEN = ("script", "style", "template")


@dataclass
class Columns:
    name: int
    price: int
    vram: int | None = None
    count: int | None = None
    term: int | None = None
    instance: int | None = None
    label: int | None = None  # a row-label column ("Reserved", "Sprint") with an empty header


def is_texty(cells: list[str]) -> bool:
    """Cells that name things (letters, not prices or numbers)."""
    filled = [c for c in cells if c]
    return bool(filled) and all(
        re.search(r"[a-z]{2}", c, re.IGNORECASE) and "$" not in c for c in filled
    )


def column(table: HtmlTable, i: int) -> list[str]:
    return [r[i] if i < len(r) else "" for r in table.rows]


def columns_by_content(table: HtmlTable) -> Columns | None:
    """Column roles of a table whose header is unknown, from what the cells hold."""
    width = len(table.header)
    cols = [column(table, i) for i in range(width)]
    price = next(
        (
            i
            for i in reversed(range(width))
            if sum("$" in c or is_not_priced(c) for c in cols[i]) >= max(1, len(table.rows) // 2)
        ),
        None,
    )
    name = next((i for i in range(width) if i != price and is_texty(cols[i])), None)
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
    return Columns(name=name, price=price, vram=vram)


@dataclass
class _HeaderRoles:
    """What each header cell names, before the GPU column is chosen."""

    price: list[int] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    gpu: list[int] = field(default_factory=list)
    unnamed: list[int] = field(default_factory=list)
    vram: int | None = None
    term: int | None = None
    instance: int | None = None


def _header_roles(headers: list[str], reserved_block: bool) -> _HeaderRoles:
    """Each header's role, the first matching pattern winning (see the vocabulary above)."""
    roles = _HeaderRoles()
    for i, h in enumerate(headers):
        if _NAME_HEADER.match(h):
            roles.unnamed.append(i)
        elif _PRICE_HEADER.search(h):
            if reserved_block or not _NOT_ON_DEMAND_PRICE.search(h):
                roles.price.append(i)
        elif _VRAM_HEADER.search(h):
            roles.vram = i if roles.vram is None else roles.vram
        elif _COUNT_HEADER.search(h):
            roles.count.append(i)
        elif _TERM_HEADER.search(h):
            roles.term = i if roles.term is None else roles.term
        elif _INSTANCE_HEADER.search(h):
            roles.instance = i if roles.instance is None else roles.instance
        elif _GPU_HEADER.search(h):
            roles.gpu.append(i)
    return roles


def _name_column(
    table: HtmlTable, roles: _HeaderRoles
) -> tuple[int, int | None, int | None] | None:
    """(GPU name column, instance column, row-label column); None when no column names GPUs."""
    # a "GPUs" column holding only counts ("8", "16", "256+") is a count column
    for i in list(roles.gpu):
        cells = [c for c in column(table, i) if c]
        if cells and all(parse_cluster_count(c) is not None for c in cells):
            roles.gpu.remove(i)
            roles.count.append(i)
    # an empty table shell still shows its shape: its unnamed first column is the name column
    texty_unnamed = [i for i in roles.unnamed if is_texty(column(table, i)) or not table.rows]
    label = texty_unnamed[0] if texty_unnamed else None
    if roles.gpu:
        return roles.gpu[0], roles.instance, label
    if roles.instance is not None:
        return roles.instance, None, label
    if texty_unnamed:  # 2026: the first header cell is empty or a hidden "Plan"
        return texty_unnamed[0], roles.instance, None
    return None


def _price_column(
    table: HtmlTable, headers: list[str], price_cols: list[int], name: str, reserved_block: bool
) -> int | None:
    """The one price column to read; None (skip the table) or ParseError when it is unclear."""
    if not price_cols:
        log.warning(
            "%s: table with headers %s has a GPU column but no price column; skipped",
            name,
            table.header,
        )
        return None
    if len(price_cols) == 1:
        return price_cols[0]
    # "On-demand price" beside others wins; else the per-GPU one of a per-GPU and a
    # per-instance rendering of the same price
    on_demand = [i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]]
    per_gpu = [i for i in price_cols if price_basis(table.header[i]) == "per_gpu"]
    chosen = on_demand if len(on_demand) == 1 else per_gpu if len(per_gpu) == 1 else []
    if chosen:
        return chosen[0]
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


def table_columns(table: HtmlTable, name: str, reserved_block: bool) -> Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    if not table.header_known:
        return columns_by_content(table)
    headers = [norm_header(h) for h in table.header]
    roles = _header_roles(headers, reserved_block)
    named = _name_column(table, roles)
    if named is None:
        return None
    gpu, instance, label = named
    price = _price_column(table, headers, roles.price, name, reserved_block)
    if price is None:
        return None
    return Columns(
        name=gpu,
        price=price,
        vram=roles.vram,
        count=roles.count[0] if roles.count else None,
        term=roles.term,
        instance=instance,
        label=label,
    )


def _root(el: Tag) -> Tag:
    while el.parent is not None:
        el = el.parent
    return el


def tab_label(el: Tag) -> str | None:
    """The label of the tab whose panel holds ``el``; None outside tab panels.

    Tried in turn: the panel's ``aria-labelledby``; a tab whose ``aria-controls`` names the
    panel or any ancestor of the table (panels are not always ``role="tabpanel"``); the
    panel's position among the panels beside the tab list; a Webflow ``data-w-tab`` label."""
    root = _root(el)
    panel = el.find_parent(attrs={"role": "tabpanel"})
    if panel is not None and panel.get("aria-labelledby"):
        tab = root.find(id=panel["aria-labelledby"])
        if isinstance(tab, Tag):
            return visible_text(tab)
    controls = {
        t["aria-controls"]: t
        for t in root.find_all(attrs={"aria-controls": True})
        if t.get("role") == "tab" or t.name == "button"
    }
    for ancestor in el.parents:
        if ancestor.get("id") in controls:
            return visible_text(controls[ancestor["id"]])
    if panel is not None:
        container = panel
        for _ in range(4):  # the tab list sits beside the panels, a few levels up
            container = container.find_parent() or container
            tabs = container.find_all(attrs={"role": "tab"})
            if not tabs:
                continue
            panels = container.find_all(attrs={"role": "tabpanel"})
            if len(panels) == len(tabs):
                return visible_text(tabs[panels.index(panel)])
            break
    pane = el.find_parent(attrs={"data-w-tab": True})  # Webflow tab panes
    return str(pane["data-w-tab"]) if pane is not None else None


def block_mode(table: HtmlTable, tab_label: str | None = None) -> str:
    """``reserved`` when the tab, or the nearest heading that says either, names clusters or
    reservations; else ``on_demand``."""
    for text in (tab_label or "", *table.headings[:3]):
        h = text.lower()
        if _RESERVED_SECTION.search(h):
            return "reserved"
        if _ON_DEMAND_SECTION.search(h):
            return "on_demand"
    return "on_demand"


def cluster_shaped(table: HtmlTable, cols: Columns) -> bool:
    """A table that lists cluster sizes (a GPU-count column reaching 16 or saying ``256+``)
    or terms is a cluster/reservation listing whatever heading it sits under: on-demand
    instances are 1 to 8 GPUs and have no term."""
    if cols.term is not None:
        return True
    if cols.count is None:
        return False
    cells = [c for c in column(table, cols.count) if c]
    return any("+" in c or (parse_cluster_count(c) or 0) > 8 for c in cells)


def block_duration(el: Tag) -> str | None:
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
            and node.parent.name not in HIDDEN
        ):
            texts.append(str(node))
    m = _DURATION.search(" ".join(reversed(texts)))
    return re.sub(r"\s+", " ", m.group(0)).strip() if m else None


def count_from_label(label: str) -> int | None:
    m = _COUNT_IN_LABEL.match(label or "")
    return int(m.group(1)) if m else None


def script_copies(soup: BeautifulSoup) -> int:
    """Scripts that carry a copy of a price table (hydration data): counted, never parsed."""
    n = 0
    for script in soup.find_all("script"):
        text = script.string or script.get_text() or ""
        low = text.lower()
        if ("<table" in low or "\\u003ctable" in low or "price/gpu/hr" in low) and "$" in text:
            n += 1
    return n


def missing_panels(soup: BeautifulSoup) -> list[str]:
    """Tabs whose ``aria-controls`` panel is not in the markup (filled in by JavaScript)."""
    out = []
    for tab in soup.find_all(attrs={"role": "tab"}):
        target = tab.get("aria-controls")
        if target and soup.find(id=target) is None:
            out.append(visible_text(tab))
    return out
