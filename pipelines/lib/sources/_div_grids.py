"""Pricing pages built of ``<div>`` grids instead of tables (Nebius, Hyperstack, Crusoe):
finding a grid by its first header cell, reading its rows, and the price cells such pages
hold (``$3.85``, ``from $0.74**``, ``Contact us``). Not a source (no SPEC).

Scraped strings are data only: nothing is evaluated. Pure: no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from bs4 import BeautifulSoup, NavigableString, Tag

_DOLLAR = re.compile(r"^(from\s+)?(?:US)?\$\s*(\d[\d,]*(?:\.\d+)?)\s*([*†‡]*)$", re.IGNORECASE)
_CONTACT = re.compile(r"^\s*contact\s+(?:us|sales)\s*$", re.IGNORECASE)


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
