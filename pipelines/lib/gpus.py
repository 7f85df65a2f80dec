"""GPU identity: map the names sources use to canonical ids (``FAMILY-FORM-MEMGB``).

Sources blur variants (H100 SXM vs PCIe vs NVL, A100 40 vs 80 GB). Mapping is driven by
explicit tables in this module, not by guesswork spread over the parsers:

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

# Forms a family can come in. Families with a single form have form None and the id omits it.
SXM, PCIE, NVL = "SXM", "PCIE", "NVL"


@dataclass(frozen=True)
class FamilyVariants:
    """The variants of one chip family that exist, and what a bare name defaults to."""

    forms: dict[str | None, tuple[int, ...]]  # form -> memory sizes (GB) sold in that form
    default_form: str | None
    default_memory_gb: int


# Explicit table of chip families. Memory sizes are the vendor's per-GPU figures.
FAMILY_VARIANTS: dict[str, FamilyVariants] = {
    # NVIDIA data-centre, several forms
    "H100": FamilyVariants({SXM: (80,), PCIE: (80,), NVL: (94,)}, SXM, 80),
    "H200": FamilyVariants({SXM: (141,), NVL: (141,)}, SXM, 141),
    "A100": FamilyVariants({SXM: (40, 80), PCIE: (40, 80)}, SXM, 40),
    "H800": FamilyVariants({SXM: (80,), PCIE: (80,)}, SXM, 80),
    "A800": FamilyVariants({SXM: (80,), PCIE: (40, 80)}, SXM, 80),
    # NVIDIA data-centre, one form
    "B200": FamilyVariants({None: (180,)}, None, 180),
    "B300": FamilyVariants({None: (288,)}, None, 288),
    "GB200": FamilyVariants({None: (186,)}, None, 186),
    "GB300": FamilyVariants({None: (288,)}, None, 288),
    "GH200": FamilyVariants({None: (96, 144)}, None, 96),
    "L40S": FamilyVariants({None: (48,)}, None, 48),
    "L40": FamilyVariants({None: (48,)}, None, 48),
    "L4": FamilyVariants({None: (24,)}, None, 24),
    "L20": FamilyVariants({None: (48,)}, None, 48),
    "A40": FamilyVariants({None: (48,)}, None, 48),
    "A30": FamilyVariants({None: (24,)}, None, 24),
    "A16": FamilyVariants({None: (16,)}, None, 16),
    "A10": FamilyVariants({None: (24,)}, None, 24),
    "A10G": FamilyVariants({None: (24,)}, None, 24),
    "T4": FamilyVariants({None: (16,)}, None, 16),
    "V100": FamilyVariants({None: (16, 32)}, None, 16),
    "P100": FamilyVariants({None: (16,)}, None, 16),
    "P40": FamilyVariants({None: (24,)}, None, 24),
    "P4": FamilyVariants({None: (8,)}, None, 8),
    "K80": FamilyVariants({None: (12,)}, None, 12),
    # NVIDIA workstation
    "RTXPRO6000": FamilyVariants({None: (96,)}, None, 96),
    "RTX6000ADA": FamilyVariants({None: (48,)}, None, 48),
    "RTX5000ADA": FamilyVariants({None: (32,)}, None, 32),
    "RTX4000ADA": FamilyVariants({None: (20,)}, None, 20),
    "RTX2000ADA": FamilyVariants({None: (16,)}, None, 16),
    "RTXA6000": FamilyVariants({None: (48,)}, None, 48),
    "RTXA5000": FamilyVariants({None: (24,)}, None, 24),
    "RTXA4500": FamilyVariants({None: (20,)}, None, 20),
    "RTXA4000": FamilyVariants({None: (16,)}, None, 16),
    "QRTX8000": FamilyVariants({None: (48,)}, None, 48),
    "QRTX6000": FamilyVariants({None: (24,)}, None, 24),
    "QRTX5000": FamilyVariants({None: (16,)}, None, 16),
    "QRTX4000": FamilyVariants({None: (8,)}, None, 8),
    "P4000": FamilyVariants({None: (8,)}, None, 8),
    "M4000": FamilyVariants({None: (8,)}, None, 8),
    # NVIDIA consumer (memory mods exist and are priced separately)
    "RTX5090": FamilyVariants({None: (32,)}, None, 32),
    "RTX5080": FamilyVariants({None: (16,)}, None, 16),
    "RTX5070TI": FamilyVariants({None: (16,)}, None, 16),
    "RTX5070": FamilyVariants({None: (12,)}, None, 12),
    "RTX5060TI": FamilyVariants({None: (8, 16)}, None, 16),
    "RTX4090": FamilyVariants({None: (24, 48)}, None, 24),
    "RTX4080SUPER": FamilyVariants({None: (16,)}, None, 16),
    "RTX4080": FamilyVariants({None: (16, 32)}, None, 16),
    "RTX4070TISUPER": FamilyVariants({None: (16,)}, None, 16),
    "RTX4070TI": FamilyVariants({None: (12,)}, None, 12),
    "RTX4070": FamilyVariants({None: (12,)}, None, 12),
    "RTX4060TI": FamilyVariants({None: (8, 16)}, None, 16),
    "RTX3090TI": FamilyVariants({None: (24,)}, None, 24),
    "RTX3090": FamilyVariants({None: (24,)}, None, 24),
    "RTX3080TI": FamilyVariants({None: (12,)}, None, 12),
    "RTX3080": FamilyVariants({None: (10, 12)}, None, 10),
    "RTX3070TI": FamilyVariants({None: (8,)}, None, 8),
    "RTX3070": FamilyVariants({None: (8,)}, None, 8),
    "RTX3060TI": FamilyVariants({None: (8,)}, None, 8),
    "RTX3060": FamilyVariants({None: (8, 12)}, None, 12),
    "RTX3050": FamilyVariants({None: (8,)}, None, 8),
    "RTX2080TI": FamilyVariants({None: (11,)}, None, 11),
    "RTX2080": FamilyVariants({None: (8,)}, None, 8),
    "RTX2070": FamilyVariants({None: (8,)}, None, 8),
    "RTX2060": FamilyVariants({None: (6,)}, None, 6),
    "GTX1080TI": FamilyVariants({None: (11,)}, None, 11),
    "GTX1080": FamilyVariants({None: (8,)}, None, 8),
    "GTX1070": FamilyVariants({None: (8,)}, None, 8),
    "GTX1060": FamilyVariants({None: (6,)}, None, 6),
    "GTX1660SUPER": FamilyVariants({None: (6,)}, None, 6),
    "GTX1660": FamilyVariants({None: (6,)}, None, 6),
    "GTX1650": FamilyVariants({None: (4,)}, None, 4),
    "GTX1050TI": FamilyVariants({None: (4,)}, None, 4),
    # AMD
    "MI355X": FamilyVariants({None: (288,)}, None, 288),
    "MI350X": FamilyVariants({None: (288,)}, None, 288),
    "MI325X": FamilyVariants({None: (256,)}, None, 256),
    "MI300X": FamilyVariants({None: (192,)}, None, 192),
    "MI300A": FamilyVariants({None: (128,)}, None, 128),
    "MI250X": FamilyVariants({None: (128,)}, None, 128),
    "MI250": FamilyVariants({None: (128,)}, None, 128),
    # Custom silicon (priced by hyperscaler catalogs; needed for the vertical-integration indicator)
    "TPUV5E": FamilyVariants({None: (16,)}, None, 16),
    "TPUV5P": FamilyVariants({None: (95,)}, None, 95),
    "TPUV6E": FamilyVariants({None: (32,)}, None, 32),
    "TRAINIUM": FamilyVariants({None: (32,)}, None, 32),
    "TRAINIUM2": FamilyVariants({None: (96,)}, None, 96),
    "INFERENTIA2": FamilyVariants({None: (32,)}, None, 32),
    "GAUDI2": FamilyVariants({None: (96,)}, None, 96),
    "GAUDI3": FamilyVariants({None: (128,)}, None, 128),
}

# Ordered: the first pattern that matches the normalised name wins, so longer/more specific
# names come before their prefixes (RTX 4090 before RTX 40, GH200 before H200, L40S before L40).
# The normalised name is upper-case with vendor words removed and separators collapsed to
# single spaces (see normalise_gpu_name).
FAMILY_PATTERNS: list[tuple[str, str]] = [
    (r"\bGB300\b", "GB300"),
    (r"\bGB200\b", "GB200"),
    (r"\bGH200\b", "GH200"),
    (r"\bB300\b", "B300"),
    (r"\bB200\b", "B200"),
    (r"\bH200\b", "H200"),
    (r"\bH800\b", "H800"),
    (r"\bH100\b", "H100"),
    (r"\bA800\b", "A800"),
    (r"\bA100\b", "A100"),
    (r"\bL40 ?S\b", "L40S"),
    (r"\bL40\b", "L40"),
    (r"\bL20\b", "L20"),
    (r"\bL4\b", "L4"),
    (r"\bA40\b", "A40"),
    (r"\bA30\b", "A30"),
    (r"\bA16\b", "A16"),
    (r"\bA10 ?G\b", "A10G"),
    (r"\bA10\b", "A10"),
    (r"\bT4\b", "T4"),
    (r"\bV100\b", "V100"),
    (r"\bP100\b", "P100"),
    (r"\bP40\b", "P40"),
    (r"\bP4\b", "P4"),
    (r"\bK80\b", "K80"),
    # workstation: RTX PRO 6000 (Blackwell), "RTX PRO-A6000 SE" is a vendor typo for it
    (r"\bRTX ?PRO ?(A)?6000\b|\bRTX 6000 PRO\b", "RTXPRO6000"),
    (r"\bRTX ?6000 ?ADA\b|\b6000 ADA\b", "RTX6000ADA"),
    (r"\bRTX ?5000 ?ADA\b", "RTX5000ADA"),
    (r"\bRTX ?4000 ?ADA\b", "RTX4000ADA"),
    (r"\bRTX ?2000 ?ADA\b", "RTX2000ADA"),
    (r"\b(RTX ?)?A6000\b", "RTXA6000"),
    (r"\b(RTX ?)?A5000\b", "RTXA5000"),
    (r"\b(RTX ?)?A4500\b", "RTXA4500"),
    (r"\b(RTX ?)?A4000\b", "RTXA4000"),
    (r"\bQUADRO RTX ?8000\b|\bRTX ?8000\b", "QRTX8000"),
    (r"\bQUADRO RTX ?6000\b|\bRTX ?6000\b", "QRTX6000"),
    (r"\bQUADRO RTX ?5000\b", "QRTX5000"),
    (r"\bQUADRO RTX ?4000\b", "QRTX4000"),
    (r"\b(QUADRO )?P4000\b", "P4000"),
    (r"\b(QUADRO )?M4000\b", "M4000"),
    (r"\bRTX ?5090\b", "RTX5090"),
    (r"\bRTX ?5080\b", "RTX5080"),
    (r"\bRTX ?5070 ?TI\b", "RTX5070TI"),
    (r"\bRTX ?5070\b", "RTX5070"),
    (r"\bRTX ?5060 ?TI\b", "RTX5060TI"),
    (r"\bRTX ?4090\b", "RTX4090"),
    (r"\bRTX ?4080 ?SUPER\b", "RTX4080SUPER"),
    (r"\bRTX ?4080\b", "RTX4080"),
    (r"\bRTX ?4070 ?TI ?SUPER\b", "RTX4070TISUPER"),
    (r"\bRTX ?4070 ?TI\b", "RTX4070TI"),
    (r"\bRTX ?4070\b", "RTX4070"),
    (r"\bRTX ?4060 ?TI\b", "RTX4060TI"),
    (r"\bRTX ?3090 ?TI\b", "RTX3090TI"),
    (r"\bRTX ?3090\b", "RTX3090"),
    (r"\bRTX ?3080 ?TI\b", "RTX3080TI"),
    (r"\bRTX ?3080\b", "RTX3080"),
    (r"\bRTX ?3070 ?TI\b", "RTX3070TI"),
    (r"\bRTX ?3070\b", "RTX3070"),
    (r"\bRTX ?3060 ?TI\b", "RTX3060TI"),
    (r"\bRTX ?3060\b", "RTX3060"),
    (r"\bRTX ?3050\b", "RTX3050"),
    (r"\bRTX ?2080 ?TI\b", "RTX2080TI"),
    (r"\bRTX ?2080\b", "RTX2080"),
    (r"\bRTX ?2070\b", "RTX2070"),
    (r"\bRTX ?2060\b", "RTX2060"),
    (r"\bGTX ?1080 ?TI\b", "GTX1080TI"),
    (r"\bGTX ?1080\b", "GTX1080"),
    (r"\bGTX ?1070\b", "GTX1070"),
    (r"\bGTX ?1060\b", "GTX1060"),
    (r"\bGTX ?1660 ?SUPER\b", "GTX1660SUPER"),
    (r"\bGTX ?1660\b", "GTX1660"),
    (r"\bGTX ?1650\b", "GTX1650"),
    (r"\bGTX ?1050 ?TI\b", "GTX1050TI"),
    (r"\bMI355X\b", "MI355X"),
    (r"\bMI350X\b", "MI350X"),
    (r"\bMI325X\b", "MI325X"),
    (r"\bMI300X\b", "MI300X"),
    (r"\bMI300A\b", "MI300A"),
    (r"\bMI250X\b", "MI250X"),
    (r"\bMI250\b", "MI250"),
    (r"\bTPU ?V5 ?(E|LITE(POD)?)\b", "TPUV5E"),
    (r"\bTPU ?V5 ?P\b", "TPUV5P"),
    (r"\bTPU ?V6 ?E\b", "TPUV6E"),
    (r"\bTRAINIUM ?2\b|\bTRN2\b", "TRAINIUM2"),
    (r"\bTRAINIUM\b|\bTRN1\b", "TRAINIUM"),
    (r"\bINFERENTIA ?2\b|\bINF2\b", "INFERENTIA2"),
    (r"\bGAUDI ?3\b", "GAUDI3"),
    (r"\bGAUDI ?2\b", "GAUDI2"),
]
_COMPILED_PATTERNS = [(re.compile(p), fam) for p, fam in FAMILY_PATTERNS]

# Per-GPU-hour price bounds (USD). Outside them an offer is quarantined as implausible, not
# loaded. Wide on purpose: they catch unit errors (per-instance read as per-GPU, cents, monthly
# prices), not cheap marketplace bids. Calibrated on the shared 2024-2026 price histories.
DEFAULT_PRICE_BOUNDS = (0.01, 60.0)
PRICE_BOUNDS: dict[str, tuple[float, float]] = {
    "B300": (0.5, 40.0),
    "GB300": (0.5, 40.0),
    "GB200": (0.5, 40.0),
    "B200": (0.5, 30.0),
    "H200": (0.3, 25.0),
    "H100": (0.2, 20.0),
    "GH200": (0.2, 20.0),
    "A100": (0.1, 12.0),
    "MI355X": (0.3, 30.0),
    "MI325X": (0.3, 25.0),
    "MI300X": (0.2, 20.0),
    "L40S": (0.05, 8.0),
    "L40": (0.05, 8.0),
    "RTX4090": (0.03, 4.0),
    "RTX5090": (0.03, 5.0),
    "RTXPRO6000": (0.1, 10.0),
}


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
    text = f"{norm} {normalise_gpu_name(hint)}" if hint else norm
    assumed = False

    if len(variants.forms) > 1:
        # the name's own form wins; a hint (instance type ...) decides only where the name is
        # silent, so "H100-SXM" on an instance whose name also says pcie stays SXM
        form = _detect_form(norm, family) or (_detect_form(text, family) if hint else None)
    else:
        form = next(iter(variants.forms))
    if form is not None and form not in variants.forms:
        form = None
    # memory: a size in the name must match a variant; sizes in hints (instance types also
    # carry RAM and totals: "8x_H100_192V_1600G") and numeric hints count only if they do.
    candidate_forms = (
        [form] if form is not None or len(variants.forms) == 1 else list(variants.forms)
    )
    all_sizes = tuple(sorted({m for f in candidate_forms for m in variants.forms[f]}))
    memory: int | None = None
    name_mem = _detect_memory(norm)
    if name_mem is not None:
        memory = _snap_memory(float(name_mem), all_sizes)
        if memory is None:
            raise UnmappedGpu(f"{name!r}: {name_mem} GB matches no {family} variant {all_sizes}")
    else:
        hint_mem = _detect_memory(normalise_gpu_name(hint)) if hint else None
        for source_mem in (hint_mem, memory_gb):
            if source_mem:
                memory = _snap_memory(float(source_mem), all_sizes)
                if memory is not None:
                    break
        if memory is None and memory_gb and len(all_sizes) > 1:
            raise UnmappedGpu(
                f"{name!r}: memory {memory_gb} GB matches no {family} variant {all_sizes}"
            )
    if form is None and len(variants.forms) > 1:
        # memory may pin the form (H100 94 GB is NVL)
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
