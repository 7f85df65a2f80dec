"""The page model: what a section is made of, as plain data for the templates.

Sections (``sections_gpu``, ``sections_ai``) build these from the marts; ``templates/`` turns
them into HTML. No HTML is written here. A table column has a ``drop`` level so CSS can drop
the columns that matter least on narrow screens (``"md"`` below a laptop width, ``"sm"`` on a
phone); the columns a reader needs to trust a number (coverage, confidence) never drop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import Markup

from pipelines.lib.report.fmt import DASH, fmt_pct, isnum

CONFIDENCE_CLASSES = {"high": "conf-high", "medium": "conf-medium", "low": "conf-low"}


@dataclass
class Note:
    """A short paragraph; ``nodata`` ones say why a part of the page is empty."""

    text: str
    nodata: bool = True
    kind: str = "note"


@dataclass
class Heading:
    """A sub-heading (h3) inside a section."""

    text: str
    kind: str = "heading"


@dataclass
class Column:
    """A table column: header, alignment ('l'|'r'), and below which width it may drop."""

    header: str
    align: str = "l"
    drop: str = ""  # "", "md" or "sm"

    @property
    def css(self) -> str:
        return f"{self.align} drop-{self.drop}" if self.drop else self.align


@dataclass
class Change:
    """A percentage change cell: red up, green down; ``title`` is its tooltip."""

    value: object
    arrows: bool = False
    title: str | None = None
    kind: str = "change"

    @property
    def css(self) -> str:
        if not isnum(self.value):
            return "muted"
        r = round(float(self.value), 1)
        return "up" if r > 0 else "down" if r < 0 else "flat"

    @property
    def text(self) -> str:
        if not isnum(self.value):
            return DASH
        arrow = {"up": "\u25b2 ", "down": "\u25bc "}.get(self.css, "") if self.arrows else ""
        return arrow + fmt_pct(self.value)


@dataclass
class Confidence:
    """A confidence badge; an unknown value gets a fixed class, never one built from data."""

    value: object
    kind: str = "confidence"

    @property
    def css(self) -> str:
        return CONFIDENCE_CLASSES.get(self.value, "conf-other")

    @property
    def text(self) -> str:
        return DASH if self.value is None else str(self.value)


@dataclass
class Table:
    """Columns and rows of cells (text, ``Change`` or ``Confidence``)."""

    columns: list[Column]
    rows: list[list[object]]
    css: str = ""  # an extra class on the wrapper, e.g. "market"
    kind: str = "table"


@dataclass
class Figure:
    """A chart (SVG markup from ``charts``) with an optional heading and caption."""

    svg: Markup
    heading: str | None = None
    caption: str | None = None
    kind: str = "figure"


Block = Note | Heading | Table | Figure


@dataclass
class Section:
    """One part of the page, with its anchor in the navigation."""

    anchor: str
    heading: str
    intro: str = ""
    blocks: list[Block] = field(default_factory=list)
