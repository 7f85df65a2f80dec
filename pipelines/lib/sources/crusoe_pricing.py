"""Crusoe Cloud GPU prices from the public pricing page, crusoe.ai/cloud/pricing (HTML, no key).

Live: one ``GET <base_url>`` (``https://crusoe.ai/cloud/pricing``), archived as
``pricing.html``. Real capture: shared/data/pricing_pages/crusoe (≈2026-10-04, whole page,
scripts removed by the repository that recorded it).

Page structure (Webflow, no ``<table>``): under the ``<h3>`` "GPU instances pricing" a
heading row of three cells ``GPU model | On-demand | Current spot`` is followed by a
``role="list"`` of ``role="listitem"`` items. Each item is one row: a head cell with the
GPU name in an ``<h4>`` and tags (memory ``80GB``, form ``HGX`` / ``SXM`` / ``PCIe`` /
``NVL72``), then one price cell per price column::

    NVIDIA H100 [80GB] [HGX] | $3.90/GPU-hr | Contact sales

Decisions:

1. Lists are matched to their heading row by position (the element before the list's
   container), never by CSS class. The GPU list is the one whose first heading is ``GPU
   model`` and that has an ``On-demand`` column; ``Current spot`` is its spot column.
2. Prices read ``$X/GPU-hr``: per GPU-hour, ``price_basis = per_gpu``, ``gpu_count = 1``.
   A price cell without ``/GPU`` (``$30/hr``) cannot be put on a per-GPU basis: it is kept
   with an empty basis and quarantined ``bad_price_basis`` -- never guessed.
3. ``Contact sales`` is not a price: no offer, counted in the log (GB200 NVL72, B200 and
   MI355X in both columns; every spot cell of the capture). Any other unreadable cell is
   passed on as text (quarantined ``missing_price``).
4. The memory tag gives ``gpu_memory_gb`` (the two A100 rows, 80GB SXM $2.30 and 80GB PCIe
   $2.00, are told apart by their form tag); an ``HGX`` tag means an SXM baseboard, so
   ``gpu_hint = SXM`` ("NVIDIA H100" 80GB HGX -> H100-SXM-80GB, not assumed).
5. Other lists on the page are not instance prices and are ignored: CPU instances
   (``$0.04/vCPU-hr``), storage, serverless tokens, and "Self-Serve Deployments" (``GPU
   type | Price per hour``, H100 ``$5.50``): that is the hourly rate of a managed model
   endpoint, not of a GPU instance; it is skipped on purpose and the skip is logged.

Fail loudly: a page without the GPU list (a redesign, a page rendered by JavaScript), a
GPU list with no items, or one in which no price at all can be read raises ``ParseError``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bs4 import BeautifulSoup, Tag

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._div_grids import cell_text, is_contact
from pipelines.lib.sources._page import ACCEPT_HTML, fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms

SOURCE_ID = "crusoe_pricing"
PROVIDER = "crusoe"
PAYLOAD_NAME = "pricing.html"


SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": "https://crusoe.ai/cloud/pricing"},
    terms=Terms(
        url="https://crusoeenergy.pactsafe.io/",
        verdict="unknown",
        checked="2026-12-01",
        quote="Crusoe's contracts page lists a separate 'Crusoe Website Terms of Use' beside the "
        "'Crusoe Cloud Platform Terms of Service' (Effective November 24th 2024); the website "
        "terms' text on automated access and reuse of published prices could not be retrieved.",
        licence="proprietary; prices as published by Crusoe",
    ),
    description="Crusoe Cloud pricing page: on-demand and spot GPU-hour prices",
)

log = logging.getLogger(__name__)

_PER_GPU_PRICE = re.compile(
    r"^(?:US)?\$\s*(\d[\d,]*(?:\.\d+)?)\s*/\s*GPU[\s-]*(?:hr|hour|h)\.?$", re.IGNORECASE
)
_ANY_PRICE = re.compile(
    r"^(?:US)?\$\s*(\d[\d,]*(?:\.\d+)?)\s*(?:/\s*(?:hr|hour|h))?\.?$", re.IGNORECASE
)
_MEMORY_TAG = re.compile(r"^(\d{1,3})\s*GB$", re.IGNORECASE)
_HGX = re.compile(r"\bHGX\b", re.IGNORECASE)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _heading_row(lst: Tag) -> list[str]:
    """Header texts of a list: the cells of the element just before the list, or before one
    of its two nearest containers (Webflow wraps the list in a ``w-dyn-list`` div)."""
    node: Tag | None = lst
    for _ in range(3):
        if node is None:
            break
        prev = node.find_previous_sibling()
        if isinstance(prev, Tag):
            cells = [cell_text(c) for c in prev.find_all(recursive=False)]
            if len([c for c in cells if c]) >= 2:
                return cells
        node = node.parent if isinstance(node.parent, Tag) else None
    return []


def _row_cells(item: Tag, n_columns: int) -> list[Tag]:
    """The cells of one list item: the children of its first descendant (or itself) that has
    exactly ``n_columns`` element children."""
    for node in [item, *item.find_all(True)]:
        kids = [k for k in node.children if isinstance(k, Tag)]
        if len(kids) == n_columns:
            return kids
    return []


def _price(cell: str) -> tuple[float | str | None, str]:
    """(price, basis) of a price cell; an unreadable cell comes back as its text."""
    text = cell.replace("\xa0", " ").strip()
    if m := _PER_GPU_PRICE.match(text):
        return float(m.group(1).replace(",", "")), "per_gpu"
    if m := _ANY_PRICE.match(text):
        return float(m.group(1).replace(",", "")), ""  # per what? quarantined bad_price_basis
    return text, "per_gpu"


def _item_records(
    name: str, item: Tag, header: list[str], columns: dict[int, str]
) -> tuple[list[dict[str, Any]], int]:
    """(offers, "Contact sales" cells) of one GPU list item: one record per priced column."""
    cells = _row_cells(item, len(header))
    title = item.find("h4")
    if not cells or title is None:
        raise ParseError(
            f"{name}: a Crusoe GPU list item has no GPU name (h4) or not "
            f"{len(header)} cells: {cell_text(item)[:120]!r}"
        )
    gpu = cell_text(title)
    tags = [
        cell_text(t)
        for t in cells[0].find_all(True)
        if not t.find(True) and t is not title and cell_text(t) and cell_text(t) != gpu
    ]
    memory = next((float(m.group(1)) for t in tags if (m := _MEMORY_TAG.match(t))), None)
    form_tags = [t for t in tags if not _MEMORY_TAG.match(t)]
    records: list[dict[str, Any]] = []
    contact = 0
    for i, pricing in columns.items():
        cell = cell_text(cells[i]) if i < len(cells) else ""
        if is_contact(cell):
            contact += 1
            continue
        price, basis = _price(cell)
        records.append(
            {
                "provider": PROVIDER,
                "segment": None,
                "upstream_source": None,
                "gpu_name": gpu,
                "gpu_hint": " ".join(["SXM" if _HGX.search(t) else t for t in form_tags]),
                "gpu_memory_gb": memory,
                "gpu_count": 1,
                "instance_type": " ".join([gpu, *tags]),
                "region": None,
                "pricing": pricing,
                "reserved_term": None,
                "price": price,
                "price_basis": basis,
                "currency": "USD",
                "price_min": None,
                "price_max": None,
                "n_offers": None,
                "stock_status": None,
                "available_gpus": None,
                "payload_name": name,
                "date": None,
            }
        )
    return records, contact


def _list_records(
    name: str, lst: Tag, header: list[str], heading: str, contact_before: int
) -> tuple[list[dict[str, Any]], int]:
    """(offers, "Contact sales" cells) of one GPU price list; ParseError when it has no item
    or no readable price (``contact_before``: the page's count so far, for the message)."""
    lower = [h.lower() for h in header]
    columns = {
        i: ("spot" if "spot" in h else "on_demand")
        for i, h in enumerate(lower)
        if i > 0 and ("on-demand" in h or "spot" in h)
    }
    items = [
        it
        for it in lst.find_all(attrs={"role": "listitem"})
        if it.find_parent(attrs={"role": "list"}) is lst
    ]
    if not items:
        raise ParseError(f"{name}: Crusoe GPU list {header} under {heading!r} has no items")
    records: list[dict[str, Any]] = []
    contact = 0
    for item in items:
        item_records, item_contact = _item_records(name, item, header, columns)
        records.extend(item_records)
        contact += item_contact
    if not any(isinstance(r["price"], float) for r in records):
        raise ParseError(
            f"{name}: Crusoe GPU list {header}: no price could be read in {len(items)} "
            f"items ({contact_before + contact} 'Contact sales')"
        )
    return records, contact


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate on-demand and spot offers from one archived Crusoe pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    records: list[dict[str, Any]] = []
    found: list[list[str]] = []
    contact = 0
    for lst in soup.find_all(attrs={"role": "list"}):
        header = _heading_row(lst)
        heading_tag = lst.find_previous("h3")
        heading = cell_text(heading_tag) if heading_tag is not None else ""
        if header:
            found.append(header)
        lower = [h.lower() for h in header]
        if not lower or lower[0] != "gpu model" or "on-demand" not in lower:
            if lower and lower[0].startswith("gpu"):
                log.info(
                    "%s: skipped list %s under %r (not GPU instance prices)", name, header, heading
                )
            continue
        list_records, list_contact = _list_records(name, lst, header, heading, contact)
        records.extend(list_records)
        contact += list_contact
    if contact:
        log.info("%s: %d 'Contact sales' cells (no published price): not offers", name, contact)
    if not records:
        raise ParseError(
            f"{name}: no Crusoe GPU price list found: expected a list headed 'GPU model | "
            f"On-demand | Current spot'; list headings found: {found[:8]}"
        )
    return records
