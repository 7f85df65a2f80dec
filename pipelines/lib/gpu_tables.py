"""The explicit GPU tables ``pipelines.lib.gpus`` maps names with (data, no logic):

* ``FAMILY_VARIANTS``  -- for each chip family, the forms and memory sizes that exist and
  which one a bare name means (the SkyPilot convention: ``A100`` is the 40 GB SXM part);
* ``FAMILY_PATTERNS``  -- ordered (regex, family) pairs over a normalised name;
* ``PRICE_BOUNDS``     -- sane USD per GPU-hour bounds per family, used to quarantine
  absurd prices.

A family added here needs its spec row in ``sql/seeds/gpu_specs.csv`` (the seed's coverage
test checks every id ``all_canonical_ids`` can produce). Import these names from
``pipelines.lib.gpus``, which re-exports them. Pure data: no I/O, no Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

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
