"""Provider identity: slug names the way the contract fixes them, and tier each provider.

``provider`` is a lower-case slug of letters and digits only (``vast.ai`` -> ``vastai``,
``Lambda Labs`` -> ``lambda``). Renamed companies keep one slug so their history stays one
series (DataCrunch became Verda in 2025). The tier table is explicit; a provider not in it
gets tier ``unknown``, which the per-source checks count and surface.

Pure module: no I/O.
"""

from __future__ import annotations

import re

HYPERSCALER, NEOCLOUD, MARKETPLACE, UNKNOWN = "hyperscaler", "neocloud", "marketplace", "unknown"

# raw slug -> canonical slug (after lower-casing and dropping non-alphanumerics)
PROVIDER_ALIASES: dict[str, str] = {
    "lambdalabs": "lambda",
    "lambdacloud": "lambda",
    "datacrunch": "verda",
    "oracle": "oci",
    "oraclecloud": "oci",
    "google": "gcp",
    "googlecloud": "gcp",
    "amazon": "aws",
    "amazonwebservices": "aws",
    "microsoftazure": "azure",
    "vast": "vastai",
    "crusoecloud": "crusoe",
    "coreweavecloud": "coreweave",
    "jarvis": "jarvislabs",
    "jarvislabsai": "jarvislabs",
    "do": "digitalocean",
    "thundercompute": "thunder",
    "massedcompute": "massedcompute",
    "togetherai": "together",
    "hotaisle": "hotaisle",
    "ovhcloud": "ovh",
    "sfcompute": "sfcompute",
    "primeintellectai": "primeintellect",
}

PROVIDER_TIERS: dict[str, str] = {
    **{p: HYPERSCALER for p in ("aws", "azure", "gcp", "oci", "ibm")},
    **{
        p: MARKETPLACE
        for p in (
            "vastai",
            "tensordock",
            "akash",
            "salad",
            "sfcompute",
            "cloudrift",
            "spheron",
            "clore",
            "quickpod",
            "gpuhub",
            "dataoorts",
        )
    },
    **{
        p: NEOCLOUD
        for p in (
            "lambda",
            "coreweave",
            "crusoe",
            "nebius",
            "verda",
            "hyperstack",
            "jarvislabs",
            "runpod",
            "together",
            "fluidstack",
            "paperspace",
            "digitalocean",
            "vultr",
            "cudo",
            "scaleway",
            "ovh",
            "hyperbolic",
            "latitude",
            "oblivus",
            "massedcompute",
            "civo",
            "sesterce",
            "koyeb",
            "novita",
            "lyceum",
            "hotaisle",
            "replicate",
            "thunder",
            "flyio",
            "packetai",
            "theta",
            "upcloud",
            "cerebrium",
            "enverge",
            "acecloud",
            "gcore",
            "beyondpl",
            "beam",
            "buildai",
            "seeweb",
            "modal",
            "genesiscloud",
            "qubrid",
            "primeintellect",
            "shadeform",
            "mithril",
            "lium",
            "yotta",
            "daytona",
            "simplepod",
            "ionet",
            "voltagepark",
            "denvr",
            "tenstorrent",
            "hetzner",
            "linode",
            "exoscale",
        )
    },
}


def provider_slug(name: str) -> str:
    """Canonical provider slug: lower-case letters and digits only, aliases applied."""
    slug = re.sub(r"[^a-z0-9]", "", (name or "").lower())
    if slug.endswith("ai") and slug[:-2] in PROVIDER_TIERS and slug not in PROVIDER_TIERS:
        slug = slug[:-2]  # "runpod.ai", "lambda.ai" style names
    return PROVIDER_ALIASES.get(slug, slug)


def provider_tier(slug: str, segment: str | None = None) -> str:
    """Tier of a provider. RunPod's community cloud is a marketplace; its secure cloud a
    neocloud (DOMAIN.md), so ``segment`` (``community``/``secure``) can override."""
    if slug == "runpod" and segment and segment.lower() == "community":
        return MARKETPLACE
    return PROVIDER_TIERS.get(slug, UNKNOWN)
