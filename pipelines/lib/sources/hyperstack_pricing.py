"""Hyperstack GPU prices from the public pricing page, hyperstack.cloud/gpu-pricing (HTML, no key).

Live: one ``GET <base_url>`` (``https://www.hyperstack.cloud/gpu-pricing``), archived as
``pricing.html``. Real capture: shared/data/pricing_pages/hyperstack (≈2026-10-04, whole
page, scripts removed by the repository that recorded it).

Page structure (HubSpot, no ``<table>``): three price cards under ``<h3>`` headings, each
a ``<div>`` grid whose header row starts with ``GPU Model`` (read with
``nebius_pricing.div_grids``):

* "On-Demand GPU Pricing": ``GPU Model | VRAM (GB) | Max pCPUs per GPU | Max RAM (GB) per
  GPU | Pricing Per Hour`` -- 13 rows, H100 SXM ``$3.20``, H200 SXM ``$3.99``, B300 ``$7.40``;
* "Reservation Pricing": ``GPU Model | Starting from | Reserve`` -- 12 rows, H100 SXM
  ``&nbsp;$2.72``;
* "Spot VM Pricing": ``GPU Model | Spot VM`` -- 5 rows, H100 PCIe ``$2.00``, L40 `` $0.80``.

Decisions:

1. Pricing type from the card's heading: on-demand -> ``on_demand``, reservation ->
   ``reserved``, spot -> ``spot``. A "GPU Model" grid under any other heading is logged and
   skipped (a new card is news, but not a price type we can name); a page with none of the
   three raises ``ParseError``.
2. Basis: per GPU-hour (``price_basis = per_gpu``, ``gpu_count = 1``): each row describes one
   GPU -- its VRAM and the pCPUs and RAM that come "per GPU" -- and an 8-GPU instance at
   $3.20 would be $0.40 per H100, far below any market price.
3. "Starting from" is a lower bound over reservation terms the page does not list:
   ``reserved_term = "unspecified"``, ``price_min`` = the price, and "reservation, starting
   from (term not stated)" in ``instance_type``.
4. Cells carry ``&nbsp;`` (decoded, or literal when double-escaped) and leading spaces:
   both are stripped before the price is read. ``$X`` is the only price form read; any
   other text is passed on (quarantined ``missing_price``), never dropped.
5. **Form of H100 / A100 rows.** Hyperstack writes "SXM" for its SXM parts and nothing (or
   "PCIe", or "NVLink") for the PCIe cards, so a row without "SXM" is read as PCIe:
   * bare "NVIDIA H100" is the PCIe card: its "Reserve here" link is
     ``/nvidia-h100-pcie-reserve-now`` (the SXM row links ``/nvidia-hgx-sxm5-h100-...``),
     and the spot card calls the same card "NVIDIA H100 PCIe";
   * "NVIDIA H100 NVLink" is PCIe H100s joined by an NVLink bridge, *not* the H100 NVL
     (94 GB): its VRAM is 80 GB, and its pCPU/RAM shape (31 / 180) is the PCIe one
     (H100 PCIe 28 / 180, SXM 24 / 240);
   * "NVIDIA A100" and "NVIDIA A100 NVLink" both link ``/nvidia-a100-reserve-now``, while
     "NVIDIA A100 SXM" links ``/nvidia-a100-sxm-reserve-now``: PCIe cards, 80 GB.
   ``pipelines.lib.gpus`` reads "NVLink" in a name as SXM (right for the HGX boards some
   vendors call that) and lets the name's own form win over any hint, so for these rows
   the form is written into the name it resolves: ``gpu_name`` = the page's name +
   " PCIe" ("NVIDIA H100 NVLink PCIe"); ``instance_type`` keeps the page's name verbatim.
6. VRAM is stated once, in the on-demand card's ``VRAM (GB)`` column; the reservation and
   spot cards name the same models without it, so a row there takes the VRAM of the
   on-demand row of the same name (all of Hyperstack's A100s are 80 GB: without this the
   reserved and spot A100s would fall to the 40 GB default).

Fail loudly: no known price card, a card with no rows, or a card in which no price at all
can be read raises ``ParseError``.

``parse`` is pure: no I/O besides logging.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from bs4 import BeautifulSoup

from pipelines.lib.http import PoliteClient
from pipelines.lib.sources._page import fetch_page
from pipelines.lib.sources.base import FetchFailure, ParseError, Payload, SourceSpec, Terms
from pipelines.lib.sources.nebius_pricing import Grid, div_grids, dollar_price, is_contact

SOURCE_ID = "hyperstack_pricing"
PROVIDER = "hyperstack"
PAYLOAD_NAME = "pricing.html"
ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8"

SPEC = SourceSpec(
    id=SOURCE_ID,
    kind="gpu_offers",
    providers=(PROVIDER,),
    defaults={"enabled": True, "base_url": "https://www.hyperstack.cloud/gpu-pricing"},
    terms=Terms(
        url="https://hyperstack.cloud/terms-and-conditions",
        verdict="unknown",
        checked="2026-12-01",
        quote="Hyperstack's Terms and Conditions (NexGen Cloud Ltd) govern 'our Services' for a "
        "registered 'User'; in the text available to us no clause on automated access to "
        "the public pricing page, or on reuse of its prices in an index, could be found.",
        licence="proprietary; prices as published by Hyperstack (NexGen Cloud)",
    ),
    description="Hyperstack pricing page: on-demand, reservation (starting from) and spot GPU-hour prices",
)

log = logging.getLogger(__name__)

_PRICING_BY_HEADING = (
    (re.compile(r"\bon[\s-]*demand\b.*\bgpu\b", re.IGNORECASE), "on_demand"),
    (re.compile(r"\breserv", re.IGNORECASE), "reserved"),
    (re.compile(r"\bspot\b", re.IGNORECASE), "spot"),
)
_PRICE_HEADER = re.compile(r"\bpric|\bstarting from\b|\bspot\b|\bper hour\b", re.IGNORECASE)
_NOT_PRICE_HEADER = re.compile(r"\bvram\b|\bpcpu|\bram\b|\breserve$", re.IGNORECASE)
_SXM = re.compile(r"\bSXM\d?\b", re.IGNORECASE)
_MULTI_FORM = re.compile(r"\b(H100|A100)\b", re.IGNORECASE)
_PCIE = re.compile(r"\bPCIe\b", re.IGNORECASE)


def fetch(client: PoliteClient, source_cfg: dict[str, Any], day) -> list[Payload | FetchFailure]:
    """One GET of the pricing page; a failure becomes a FetchFailure entry."""
    return fetch_page(client, source_cfg["base_url"], PAYLOAD_NAME, ACCEPT_HTML)


def _pricing(heading: str) -> str | None:
    return next((p for rx, p in _PRICING_BY_HEADING if rx.search(heading)), None)


def resolvable_name(model: str) -> str:
    """The page's GPU name with the form Hyperstack leaves implicit: an H100/A100 row that
    does not say SXM (or PCIe) is a PCIe card (see the module docstring)."""
    if _MULTI_FORM.search(model) and not _SXM.search(model) and not _PCIE.search(model):
        return f"{model} PCIe"
    return model


def _records(
    grid: Grid, pricing: str, name: str, vram_by_model: dict[str, float]
) -> tuple[list[dict[str, Any]], int]:
    price_i = next(
        (
            i
            for i, h in enumerate(grid.header)
            if i > 0 and _PRICE_HEADER.search(h) and not _NOT_PRICE_HEADER.search(h)
        ),
        None,
    )
    if price_i is None:
        raise ParseError(
            f"{name}: Hyperstack card {grid.heading!r} has no price column in {grid.header}"
        )
    vram_i = next(
        (i for i, h in enumerate(grid.header) if re.search(r"\bvram\b", h, re.IGNORECASE)), None
    )
    records: list[dict[str, Any]] = []
    contact = n_priced = 0
    for row in grid.rows:
        model = row[0] if row else ""
        if not model:
            continue
        cell = row[price_i] if price_i < len(row) else ""
        if is_contact(cell):
            contact += 1
            continue
        price, lower_bound, _ = dollar_price(cell)
        n_priced += price is not None
        vram = row[vram_i] if vram_i is not None and vram_i < len(row) else ""
        memory = float(vram) if re.fullmatch(r"\d{1,3}", vram) else vram_by_model.get(model)
        notes = ["reservation, starting from (term not stated)"] if pricing == "reserved" else []
        if lower_bound:
            notes.append(f"lower bound ({cell!r})")
        records.append(
            {
                "provider": PROVIDER,
                "segment": None,
                "upstream_source": None,
                "gpu_name": resolvable_name(model),
                "gpu_hint": "",
                "gpu_memory_gb": memory,
                "gpu_count": 1,
                "instance_type": " | ".join([model, *notes]),
                "region": None,
                "pricing": pricing,
                "reserved_term": "unspecified" if pricing == "reserved" else None,
                "price": price if price is not None else cell,
                "price_basis": "per_gpu",
                "currency": "USD",
                "price_min": price if (pricing == "reserved" or lower_bound) else None,
                "price_max": None,
                "n_offers": None,
                "stock_status": None,
                "available_gpus": None,
                "payload_name": name,
                "date": None,
            }
        )
    if not records and not contact:
        raise ParseError(f"{name}: Hyperstack card {grid.heading!r} ({grid.header}) has no rows")
    if records and n_priced == 0:
        raise ParseError(
            f"{name}: Hyperstack card {grid.heading!r}: no price could be read in "
            f"{len(records)} rows (e.g. {records[0]['price']!r})"
        )
    return records, contact


def parse(name: str, content: bytes) -> list[dict[str, Any]]:
    """Candidate on-demand, reserved and spot offers from one archived Hyperstack pricing page."""
    soup = BeautifulSoup(content, "html.parser")
    grids = div_grids(soup, lambda s: s == "GPU Model", ("h2", "h3"))
    records: list[dict[str, Any]] = []
    contact = 0
    vram_by_model: dict[str, float] = {}
    for grid in grids:  # VRAM per model, from the card that states it (the on-demand one)
        vram_i = next(
            (i for i, h in enumerate(grid.header) if re.search(r"\bvram\b", h, re.IGNORECASE)), None
        )
        for row in grid.rows if vram_i is not None else []:
            if vram_i < len(row) and re.fullmatch(r"\d{1,3}", row[vram_i]):
                vram_by_model.setdefault(row[0], float(row[vram_i]))
    for grid in grids:
        pricing = _pricing(grid.heading)
        if pricing is None:
            log.warning(
                "%s: GPU grid %s under %r is not an on-demand, reservation or spot card: skipped",
                name,
                grid.header,
                grid.heading,
            )
            continue
        found, n_contact = _records(grid, pricing, name, vram_by_model)
        records.extend(found)
        contact += n_contact
    if contact:
        log.info("%s: %d 'Contact' cells (no published price): not offers", name, contact)
    if not records:
        raise ParseError(
            f"{name}: no Hyperstack GPU price card found (a 'GPU Model' grid under an "
            f"On-Demand / Reservation / Spot heading); grids: "
            f"{[(g.heading, g.header) for g in grids][:6]}"
        )
    return records
