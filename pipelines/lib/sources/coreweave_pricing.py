"""CoreWeave GPU instance prices (on-demand and spot, per region), scraped from the public
pricing page (HTML).

Live: one ``GET <base_url>`` (``https://www.coreweave.com/pricing``), archived as
``pricing.html``. No key is needed; CoreWeave publishes no public price API.

Terms (checked 2026-12-01): CoreWeave's Terms of Service (docs.coreweave.com/policies/
terms-of-service) and Acceptable Use Policy govern customers' use of the CoreWeave Cloud
Platform ("Customer Data", "Covered Service", SLOs); we found no website terms of use for
coreweave.com and no clause on automated access to the public pages or on re-use of the
published prices, so the verdict is ``unknown``. The fetch is one polite GET a day.

Page structures read (real captures in ``../shared/data/pricing_pages/coreweave/``):

* **2026 coreweave.com/pricing**: no ``<table>``. "On-demand GPU instances" holds one
  Webflow collection list per region (a ``REGION: NORTH AMERICA`` / ``REGION: EUROPE``
  eyebrow above it): a header grid (``GPU Model | GPU Count | VRAM (GB) | vCPUs | System RAM
  (GB) | Local Storage (TB) | On-Demand Price (Per Hour) | Spot Price (Per Hour) [| Inference
  Single GPU Price(Per Hour)²]``) beside a ``role="list"`` whose ``role="listitem"`` rows
  carry one cell per header -- plus two mobile detail blocks per row that repeat the
  values with labels ("On-Demand Price: ... / Hour", "GPU Count"). Cells are matched to
  headers in order after dropping the detail blocks (a value cell holds one or two text
  pieces, a detail block many); a row whose cells do not line up with the header is a
  ``ParseError``, never a shifted column.
* **2023 coreweave.com/gpu-cloud-pricing**: a "GPU Component Cost Per Hour" grid of
  Webflow ``w-row``/``w-col`` divs, one row per GPU with its per-GPU price (CPU and RAM
  were billed separately): ``per_gpu``, ``gpu_count`` 1, ``instance_type`` "<GPU> (GPU
  component)". A "Reserve Now" link in the price cell is not part of the price.
* a ``<table>`` / ARIA grid rendering with an ``Instance Price`` column is still read (the
  shape the parser first assumed; kept so a page that goes back to tables still parses).

Decisions:

1. Prices: ``On-Demand Price`` -> ``pricing="on_demand"``, ``Spot Price`` -> ``"spot"``,
   kept apart as separate records, each with ``region`` (``North America``, ``Europe``),
   ``gpu_count`` from the ``GPU Count`` cell (``8``, ``1``, ``4^1`` -- the ``^1`` footnote
   says a GB200/GB300 instance is 2 Superchips of 2 GPUs each, so 4 GPUs) and
   ``instance_type`` = the model as printed (two RTX PRO 6000 rows, High and Standard
   Memory, stay apart). "HGX" names an SXM baseboard: ``gpu_hint`` ``SXM``.
2. Basis: the 2026 headers say only "(Per Hour)". These are prices of the whole instance:
   the page gives a GPU count per row, and its inference column, which is per GPU, equals
   the on-demand price divided by that count (HGX H100 49.24 / 8 = 6.155, printed $6.16;
   GB200 NVL72 42.00 / 4 = 10.50). So a price header without a unit is ``per_instance``
   when the rows carry a GPU count, and every row with an inference price is checked:
   an inference price equal to the instance price on a multi-GPU row (per-GPU prices)
   is a ``ParseError``. ``normalise_offers`` divides: 49.24 / 8 = 6.155 USD per GPU-hour.
   A header that says "per GPU" is ``per_gpu``; no unit and no count is a ``ParseError``.
3. The inference price is NOT a GPU rental. Footnote 2: "Pricing based on GPUs is
   exclusively applicable to the CoreWeave inference platform customers." It is the
   on-demand rate restated per GPU for CoreWeave's inference product, so as an offer it
   would count every GPU twice in the on-demand statistics, and it is no other price type
   (spot, reserved). It is emitted as a record with ``pricing="inference_platform"`` and a
   ``note`` saying so: ``normalise_offers`` quarantines it (``bad_pricing_type``), which
   keeps the figure, with its reason, in ``raw.quarantine`` without mixing it into any
   series. (If the tracker ever wants it as a series, a pricing type of its own in
   ``offers.PRICING_TYPES`` is the place -- not on-demand.)
4. ``Contact sales`` / ``N/A`` cells are not offers and not errors: they are listed in
   ``ParsedPage.notes["not_priced"]``. Any other unreadable price is passed on as text and
   quarantined (``missing_price``); a count that cannot be read leaves ``gpu_count`` None
   (quarantined ``unknown_gpu_count``). Nothing is dropped silently.
5. Lists without a GPU header (CPU instances, storage, networking) and the per-model
   detail cards (no header grid) are not GPU price listings and are ignored. Script and
   style content is never parsed.

Fail loudly: a page with no GPU price listing of any of these shapes raises ``ParseError``
naming what was expected and found. Scraped strings are data only: nothing is evaluated.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any

from bs4 import BeautifulSoup, Tag

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._page import fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms
from pipelines.lib.sources.lambda_pricing import (
    HtmlTable,
    ParsedPage,
    first_number,
    html_tables,
    is_not_priced,
    norm_header,
    parse_count,
    parse_price,
    price_basis,
    split_count,
)

SOURCE_ID = "coreweave_pricing"
PROVIDER = "coreweave"
PAYLOAD_NAME = "pricing.html"
BASE_URL = "https://www.coreweave.com/pricing"
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"
INFERENCE_PRICING = "inference_platform"  # not a PRICING_TYPE on purpose: see decision 3
EXPECTED_HEADERS = (
    "a GPU column ('GPU Model', 'GPU') and a price column ('On-Demand Price (Per Hour)', "
    "'Instance Price'), optionally 'GPU Count', 'VRAM (GB)', 'Spot Price'; or the "
    "'GPU Component Cost Per Hour' grid"
)
INFERENCE_NOTE = (
    "CoreWeave inference-platform per-GPU rate (page footnote: 'exclusively applicable to the "
    "CoreWeave inference platform customers'); it restates the on-demand instance price per GPU "
    "and is not a GPU rental offer, so it is kept here rather than in any price series"
)
log = logging.getLogger(__name__)

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": BASE_URL},
    terms=Terms(
        url="https://docs.coreweave.com/policies/terms-of-service",
        verdict="unknown",
        checked="2026-12-01",
        quote=(
            "the Terms of Service and Acceptable Use Policy govern use of the CoreWeave Cloud "
            "Platform by customers; no website terms on automated access to coreweave.com or on "
            "re-use of its published prices could be found"
        ),
        licence="proprietary; published price list",
    ),
    description="CoreWeave pricing page (HTML): on-demand and spot instance prices per region "
    "(per GPU = instance price / GPU count)",
)

# Header roles, tried in this order (the first match wins): "Instance Price" is a price,
# "VRAM (GB)" memory and "GPU Count" a count before either can look like the GPU column.
_PRICE_HEADER = re.compile(r"\bprice\b|\bcost\b|\$|\busd\b|/\s*h(?:ou)?r\b|\bper hour\b")
_NOT_ON_DEMAND_PRICE = re.compile(r"reserv|commit|\bspot\b|\bterm\b|month|\byear|annual")
_SPOT_HEADER = re.compile(r"\bspot\b|preemptible|interruptible")
_INFERENCE_HEADER = re.compile(r"\binference\b")
_VRAM_HEADER = re.compile(r"\bvram\b|\bgpu mem(?:ory)?\b|\bmemory\s*(?:/|per)\s*gpu\b")
_COUNT_HEADER = re.compile(
    r"\bgpu count\b|#\s*(?:of\s*)?gpus?\b|\bnumber of gpus\b|\bgpus per (?:instance|node)\b"
)
_INSTANCE_HEADER = re.compile(r"\binstance(?: type| id| name)?\b")
_GPU_HEADER = re.compile(r"\bgpus?\b|\bgpu (?:model|type|name)\b|\baccelerators?\b")
# not "cluster" (CoreWeave sells every GPU as cluster nodes) nor "commit" ("no commitment")
_SKIP_SECTION = re.compile(r"reserv|\bspot\b|interruptible")
_HGX = re.compile(r"\bHGX\b", re.IGNORECASE)
_REGION = re.compile(r"^\s*region\s*:\s*(.+?)\s*$", re.IGNORECASE)
_COMPONENT_HEADER = re.compile(r"\bgpu\s+component\b.*\bcost\s+per\s+hour\b", re.IGNORECASE)
_HEADING = re.compile(r"^h[1-6]$")


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _record(**values: Any) -> dict[str, Any]:
    """A candidate offer with every RAW_OFFER_KEYS key (``None`` where the page says nothing)."""
    rec: dict[str, Any] = {
        "provider": PROVIDER,
        "segment": None,
        "upstream_source": None,
        "gpu_name": None,
        "gpu_hint": "",
        "gpu_memory_gb": None,
        "gpu_count": None,
        "instance_type": None,
        "region": None,
        "pricing": "on_demand",
        "reserved_term": None,
        "price": None,
        "price_basis": None,
        "currency": "USD",
        "price_min": None,
        "price_max": None,
        "n_offers": None,
        "stock_status": None,
        "available_gpus": None,
        "payload_name": None,
        "date": None,
    }
    rec.update(values)
    return rec


# --- 2026: Webflow collection lists (role="list" / role="listitem") -----------------------


def _piece_text(tag: Tag) -> str:
    """A cell's text without footnote superscripts (``4<sup>1</sup>`` -> ``4``)."""
    parts = [
        str(s) for s in tag.find_all(string=True) if s.parent is None or s.parent.name != "sup"
    ]
    return re.sub(r"\s+", " ", " ".join(parts)).strip()


def _n_pieces(tag: Tag) -> int:
    return sum(1 for s in tag.stripped_strings)


def _header_like(el: Tag) -> list[str] | None:
    """The first grid in ``el`` whose children (3 or more) are all short labels: a header row."""
    for cand in [el, *el.find_all(True)]:
        kids = cand.find_all(True, recursive=False)
        if len(kids) < 3:
            continue
        texts = [_piece_text(k) for k in kids]
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
                        and lab in norm_header(_piece_text(k))
                        and lab != norm_header(_piece_text(k))
                        for lab in labels
                    )
                ]
            return [_piece_text(k) for k in cells]
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
        if _PRICE_HEADER.search(h):
            kind = (
                "inference"
                if _INFERENCE_HEADER.search(h)
                else "spot"
                if _SPOT_HEADER.search(h)
                else None
                if _NOT_ON_DEMAND_PRICE.search(h)
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
        elif _VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif _COUNT_HEADER.search(h):
            count = i if count is None else count
        elif _GPU_HEADER.search(h) and gpu is None:
            gpu = i
    if gpu is None or "on_demand" not in prices and "spot" not in prices:
        return None  # not a GPU price listing (CPU, storage, networking)
    if duplicated:
        raise ParseError(
            f"{name}: {list_name} has several {duplicated[0]} price columns in {header}; "
            "cannot tell which one is the instance price"
        )
    return _ListColumns(gpu, count, vram, prices, bases)


def _listing_records(
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
        vram = first_number(cells[cols.vram]) if cols.vram is not None else None
        parsed: dict[str, tuple[float | None, str, str]] = {}
        for kind, i in cols.prices.items():
            text = cells[i]
            if is_not_priced(text):
                notes.setdefault("not_priced", []).append(
                    f"{region or ''} {model} {kind.replace('_', '-')}: {text}".strip()
                )
                continue
            price, currency = parse_price(text)
            parsed[kind] = (price, currency, text)
        od, inf = parsed.get("on_demand"), parsed.get("inference")
        if od and inf and od[0] and inf[0] and count and count > 1:
            # the inference column is per GPU: it pins what the instance column means
            if abs(inf[0] - od[0]) < abs(inf[0] - od[0] / count):
                raise ParseError(
                    f"{name}: {list_name}: {model} on-demand {od[2]!r} equals its per-GPU "
                    f"inference price {inf[2]!r} at {count} GPUs: the prices are per GPU, "
                    "not per instance"
                )
            notes["inference_checked"] = notes.get("inference_checked", 0) + 1
        for kind, (price, currency, text) in parsed.items():
            if kind == "inference":
                records.append(
                    _record(
                        gpu_name=model,
                        gpu_hint="SXM" if _HGX.search(model) else "",
                        gpu_memory_gb=vram,
                        gpu_count=1,
                        instance_type=f"{model} (inference platform, per GPU)",
                        region=region,
                        pricing=INFERENCE_PRICING,
                        price=price if price is not None else text,
                        price_basis="per_gpu",
                        currency=currency,
                        payload_name=name,
                        note=INFERENCE_NOTE,
                    )
                )
                continue
            basis = cols.bases[kind]
            if basis is None:
                if cols.count is None:
                    raise ParseError(
                        f"{name}: {list_name}: cannot tell whether prices are per instance or "
                        f"per GPU: header {header[cols.prices[kind]]!r} and no GPU count column"
                    )
                basis = "per_instance"  # decision 2
            if price is not None:
                n_priced += 1
            records.append(
                _record(
                    gpu_name=model,
                    gpu_hint="SXM" if _HGX.search(model) else "",
                    gpu_memory_gb=vram,
                    gpu_count=count,
                    instance_type=model,
                    region=region,
                    pricing=kind,
                    # an unreadable price is kept as its text: normalise_offers quarantines it
                    price=price if price is not None else text,
                    price_basis=basis,
                    currency=currency,
                    payload_name=name,
                )
            )
    if items and n_priced == 0:
        raise ParseError(
            f"{name}: {list_name}: no on-demand or spot price could be read in {len(items)} rows"
        )
    return records


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


def _grid_records(name: str, soup: BeautifulSoup, notes: dict[str, Any]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for label in soup.find_all(string=re.compile(r"gpu\s+component", re.IGNORECASE)):
        header = label.parent
        if header is None or not _COMPONENT_HEADER.search(_piece_text(header)):
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
                and re.search(r"[a-z]{2}", _piece_text(kids[0]), re.IGNORECASE)
                and "$" in _piece_text(kids[-1])
                and "$" not in _piece_text(kids[0])
            ):
                rows.append(el)
        for row in rows:
            kids = row.find_all(True, recursive=False)
            model = _piece_text(kids[0])
            price, currency, text = _component_price(kids[-1])
            if price is None and is_not_priced(text):
                notes.setdefault("not_priced", []).append(f"{model} GPU component: {text}")
                continue
            records.append(
                _record(
                    gpu_name=model,
                    gpu_hint="SXM" if _HGX.search(model) else "",
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


def _columns(table: HtmlTable, name: str) -> _Columns | None:
    """Column roles from the header texts; None when the table is not a GPU price table."""
    headers = [norm_header(h) for h in table.header]
    price_cols: list[int] = []
    count_cols: list[int] = []
    gpu_cols: list[int] = []
    vram = instance = None
    for i, h in enumerate(headers):
        if not h:
            continue
        if _PRICE_HEADER.search(h):
            if not _NOT_ON_DEMAND_PRICE.search(h):
                price_cols.append(i)
        elif _VRAM_HEADER.search(h):
            vram = i if vram is None else vram
        elif _COUNT_HEADER.search(h):
            count_cols.append(i)
        elif _INSTANCE_HEADER.search(h):
            instance = i if instance is None else instance
        elif _GPU_HEADER.search(h):
            gpu_cols.append(i)
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
    if len(price_cols) > 1:
        on_demand = [
            i for i in price_cols if "on-demand" in headers[i] or "on demand" in headers[i]
        ]
        if len(on_demand) != 1:
            raise ParseError(
                f"{name}: table with headers {table.header} has several price columns "
                f"{[table.header[i] for i in price_cols]}; cannot tell the on-demand one"
            )
        price_cols = on_demand
    return _Columns(
        gpu_cols[0], price_cols[0], vram, count_cols[0] if count_cols else None, instance
    )


def _cell(row: list[str], index: int | None) -> str:
    return row[index] if index is not None and index < len(row) else ""


def _records_for_table(
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
            {
                "provider": PROVIDER,
                "segment": None,
                "upstream_source": None,
                "gpu_name": gpu_name,
                "gpu_hint": "SXM" if _HGX.search(gpu_name) else "",
                "gpu_memory_gb": first_number(_cell(row, cols.vram)),
                "gpu_count": count,
                "instance_type": _cell(row, cols.instance) or None,
                "region": None,
                "pricing": "on_demand",
                "reserved_term": None,
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


def parse(name: str, content: bytes) -> ParsedPage:
    """Candidate offers (on-demand and spot per region; inference rates for quarantine) from
    one archived CoreWeave pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    for tag in soup.find_all(["script", "style", "template"]):
        tag.decompose()
    notes: dict[str, Any] = {}
    records, list_headers = _listing_records(name, soup, notes)
    records.extend(_grid_records(name, soup, notes))
    tables = html_tables(soup)
    skipped_sections: list[str] = []
    for table in tables:
        cols = _columns(table, name)
        if cols is None:
            continue
        section = " / ".join(table.headings[:3])
        if _SKIP_SECTION.search(section.lower()):
            log.info("%s: skipped table %s under %r (not on-demand)", name, table.header, section)
            skipped_sections.append(section)
            continue
        records.extend(_records_for_table(name, table, cols, notes))
    if not any(r["pricing"] in ("on_demand", "spot") for r in records):
        found = ([t.header for t in tables] + list_headers)[:8]
        detail = (
            f"; GPU tables skipped as reserved/spot: {skipped_sections}" if skipped_sections else ""
        )
        raise ParseError(
            f"{name}: no CoreWeave GPU instance pricing table found: expected {EXPECTED_HEADERS}; "
            f"found {len(tables)} table(s) and {len(list_headers)} listing(s) with headers "
            f"{found}{detail}"
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
                "region",
                "pricing",
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
    return ParsedPage(list(unique.values()), notes)
