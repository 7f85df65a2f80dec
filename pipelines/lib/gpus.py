"""GPU identity: map the names sources use to canonical ids (``FAMILY-FORM-MEMGB``).

Sources blur variants (H100 SXM vs PCIe vs NVL, A100 40 vs 80 GB). Mapping is driven by
explicit tables (``pipelines.lib.gpu_tables``, re-exported here), not by guesswork spread
over the parsers:

* ``FAMILY_PATTERNS``  -- ordered (regex, family) pairs over a normalised name;
* ``FAMILY_VARIANTS``  -- for each family, the forms and memory sizes that exist and which
  one a bare name means (the SkyPilot convention: ``A100`` is the 40 GB SXM part);
* ``PRICE_BOUNDS``     -- sane USD per GPU-hour bounds per family, used to quarantine
  absurd prices.

A name that matches no family, or a memory size that matches no variant, is *unmapped*:
the caller quarantines it. When the variant had to be assumed from the family default,
``GpuMatch.variant_assumed`` says so and the offer keeps that flag.

This module is pure: no I/O, no Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pipelines.lib.gpu_tables import (
    DEFAULT_PRICE_BOUNDS,
    FAMILY_PATTERNS,
    FAMILY_VARIANTS,
    NVL,
    PCIE,
    PRICE_BOUNDS,
    SXM,
    FamilyVariants,
)

_COMPILED_PATTERNS = [(re.compile(p), fam) for p, fam in FAMILY_PATTERNS]

# the tables' names, importable from here as before (offers, seeds, tests)
__all__ = [
    "DEFAULT_PRICE_BOUNDS",
    "FAMILY_PATTERNS",
    "FAMILY_VARIANTS",
    "NVL",
    "PCIE",
    "PRICE_BOUNDS",
    "SXM",
    "FamilyVariants",
    "GpuMatch",
    "UnmappedGpu",
    "all_canonical_ids",
    "gpu_family",
    "gpu_id",
    "memory_sizes",
    "normalise_gpu_name",
    "price_bounds",
    "resolve_gpu",
    "snap_memory",
]


@dataclass(frozen=True)
class GpuMatch:
    """The canonical identity a raw GPU name was mapped to."""

    gpu_model: str  # canonical id, e.g. H100-SXM-80GB
    gpu_family: str  # the chip, e.g. H100
    form: str | None
    memory_gb: int
    variant_assumed: bool  # form or memory was taken from the family default


class UnmappedGpu(ValueError):
    """A GPU name (with its hints) that no explicit table entry covers."""


_VENDOR_WORDS = re.compile(
    r"\b(NVIDIA|AMD|INSTINCT|TESLA|GEFORCE|RADEON|INTEL|HABANA|GOOGLE|CLOUD|AWS|GPU|GPUS|OAM|"
    r"HGX|DGX|BLACKWELL|HOPPER|AMPERE|SERVER|WORKSTATION|EDITION|GENERATION|HIGH FREQ)\b"
)


def normalise_gpu_name(name: str) -> str:
    """Upper-case, separators to spaces, vendor words dropped: ``NVIDIA-H100-80GB-HBM3`` ->
    ``H100 80GB HBM3``. ``_`` and ``-`` are separators, so ``RTX_4090`` == ``RTX 4090``."""
    s = name.upper().replace("_", " ").replace("-", " ").replace("/", " ")
    s = re.sub(r"[(),.]", " ", s)
    s = _VENDOR_WORDS.sub(" ", s)
    return re.sub(r"\s+", " ", s).strip()


def gpu_id(family: str, form: str | None, memory_gb: int) -> str:
    """Compose the canonical id ``FAMILY-FORM-MEMGB`` (FORM omitted for one-form families)."""
    return f"{family}-{form}-{memory_gb}GB" if form else f"{family}-{memory_gb}GB"


def all_canonical_ids() -> list[str]:
    """Every canonical id the tables can produce (used by the spec seed's coverage test)."""
    return sorted(
        gpu_id(fam, form, mem)
        for fam, fv in FAMILY_VARIANTS.items()
        for form, mems in fv.forms.items()
        for mem in mems
    )


def _detect_form(text: str, family: str) -> str | None:
    """Form from tokens in name + hints. NVLink (a bridge) is *not* the NVL form, except
    where a vendor calls the A100/H100 HGX parts "NVLink" without saying PCIe."""
    # a bare "pci" token is PCIe too (Cudo instance names: ``intel-ice-lake-a100-pci_1x2v4gb``)
    has_pcie = re.search(r"\bPCI ?E\b|\bPCIE\d?\b|\bPCI\b", text) is not None
    if re.search(r"\bNVL\b|\bNVL\d+\b", text) and family in ("H100", "H200"):
        return NVL
    if has_pcie:
        return PCIE
    if re.search(r"\bSXM\d?\b|\bSXM\d", text) or re.search(r"\bHBM3E?\b", text):
        # HBM3 80 GB H100s are SXM5 parts; the PCIe H100 uses HBM2e.
        return SXM
    if re.search(r"\bNVLINK\b", text) and family in ("A100", "H100", "A800", "H800"):
        return SXM
    return None


def _detect_memory(text: str) -> int | None:
    """Per-GPU memory from tokens like ``80GB``, ``80G``, ``141GB``; ``A100-80GB-640GB`` names
    the per-GPU size first, so the first token wins."""
    m = re.search(r"\b(\d{1,3}) ?(GB|G|GIB)\b", text)
    return int(m.group(1)) if m else None


def _snap_memory(hint: float, sizes: tuple[int, ...]) -> int | None:
    """The listed size within 10% of a memory hint (180 vs 192 GB for B200, 143 vs 141 for
    H200 NVL), else None."""
    best = min(sizes, key=lambda s: abs(s - hint))
    return best if abs(best - hint) <= 0.10 * best + 0.5 else None


def _named_form(norm: str, hint: str, family: str, variants: FamilyVariants) -> str | None:
    """The form the name (or, where the name is silent, the hint) gives; None if neither
    names one the family comes in."""
    if len(variants.forms) > 1:
        # the name's own form wins; a hint (instance type ...) decides only where the name is
        # silent, so "H100-SXM" on an instance whose name also says pcie stays SXM
        text = f"{norm} {normalise_gpu_name(hint)}" if hint else norm
        form = _detect_form(norm, family) or (_detect_form(text, family) if hint else None)
    else:
        form = next(iter(variants.forms))
    return form if form is None or form in variants.forms else None


def _named_memory(
    name: str,
    norm: str,
    hint: str,
    memory_gb: float | None,
    family: str,
    all_sizes: tuple[int, ...],
) -> int | None:
    """The variant size the source names: a size in the name must match a variant; sizes in
    hints (instance types also carry RAM and totals: "8x_H100_192V_1600G") and numeric hints
    count only if they do."""
    name_mem = _detect_memory(norm)
    if name_mem is not None:
        memory = _snap_memory(float(name_mem), all_sizes)
        if memory is None:
            raise UnmappedGpu(f"{name!r}: {name_mem} GB matches no {family} variant {all_sizes}")
        return memory
    hint_mem = _detect_memory(normalise_gpu_name(hint)) if hint else None
    for source_mem in (hint_mem, memory_gb):
        if source_mem:
            memory = _snap_memory(float(source_mem), all_sizes)
            if memory is not None:
                return memory
    if memory_gb and len(all_sizes) > 1:
        raise UnmappedGpu(
            f"{name!r}: memory {memory_gb} GB matches no {family} variant {all_sizes}"
        )
    return None


def _settle_variant(
    variants: FamilyVariants, form: str | None, memory: int | None
) -> tuple[str | None, int, bool]:
    """(form, memory, assumed): what the source left open, from the memory (H100 94 GB is
    NVL) or else the family default (``assumed``)."""
    assumed = False
    if form is None and len(variants.forms) > 1:
        forms_with_mem = [f for f, mems in variants.forms.items() if memory in mems]
        if len(forms_with_mem) == 1:
            form = forms_with_mem[0]
        else:
            form, assumed = variants.default_form, True
    if memory is None:
        sizes = variants.forms[form]
        if len(sizes) == 1:
            memory = sizes[0]
        else:
            memory, assumed = variants.default_memory_gb, True
    return form, memory, assumed


@lru_cache(maxsize=8192)
def resolve_gpu(name: str, hint: str = "", memory_gb: float | None = None) -> GpuMatch:
    """Map a raw GPU name to its canonical id.

    ``hint`` is any other text the source gives about the part (instance type, GpuInfo
    name, display name): it may name the form (``sxm5``, ``pcie``, ``NVL``) or memory
    (``80gb``). ``memory_gb`` is a numeric memory figure from the source, trusted only when
    it is close to a real variant's size. Raises ``UnmappedGpu`` when nothing fits.
    """
    norm = normalise_gpu_name(name or "")
    if not norm:
        raise UnmappedGpu(f"empty GPU name {name!r}")
    family = next((fam for rx, fam in _COMPILED_PATTERNS if rx.search(norm)), None)
    if family is None:
        raise UnmappedGpu(f"unknown GPU name {name!r} (normalised {norm!r})")
    variants = FAMILY_VARIANTS[family]
    form = _named_form(norm, hint, family, variants)
    candidate_forms = (
        [form] if form is not None or len(variants.forms) == 1 else list(variants.forms)
    )
    all_sizes = tuple(sorted({m for f in candidate_forms for m in variants.forms[f]}))
    memory = _named_memory(name, norm, hint, memory_gb, family, all_sizes)
    form, memory, assumed = _settle_variant(variants, form, memory)
    if memory not in variants.forms[form]:
        raise UnmappedGpu(f"{name!r}: {family} {form or ''} has no {memory} GB variant")
    return GpuMatch(gpu_id(family, form, memory), family, form, memory, assumed)


def gpu_family(name: str) -> str | None:
    """The chip family a raw GPU name belongs to (``H100-80G-PCIe`` -> ``H100``), or None."""
    norm = normalise_gpu_name(name or "")
    return next((fam for rx, fam in _COMPILED_PATTERNS if rx.search(norm)), None) if norm else None


def memory_sizes(family: str) -> tuple[int, ...]:
    """Every per-GPU memory size (GB) the family is sold with, over all its forms."""
    return tuple(sorted({m for mems in FAMILY_VARIANTS[family].forms.values() for m in mems}))


def snap_memory(family: str, memory_gb: float) -> int | None:
    """The family's listed size a memory figure names (within 10%), else None: 45 GiB is an
    L40S's 48 GB, 564 GB is no H200 (a total, not a per-GPU figure)."""
    return _snap_memory(float(memory_gb), memory_sizes(family))


def price_bounds(family: str) -> tuple[float, float]:
    """Sane USD per GPU-hour bounds for a family."""
    return PRICE_BOUNDS.get(family, DEFAULT_PRICE_BOUNDS)
