"""The asset checks of every source asset, declared once and parametrised by the family.

Names and severities are a contract (the UI, the CLI's summary and the tests rely on them);
what each check computes lives in ``pipelines.lib.load_checks``. A GPU-offer source gets
``non_empty``, ``prices_positive``, ``no_duplicate_keys``, ``prices_within_bounds``,
``unmapped_gpu_names``, ``fetch_and_parse_errors``; a market source (model catalogs, API
prices, SEC facts, serving benchmarks, FX rates) ``non_empty``, ``no_duplicate_keys``,
``problem_rows``, ``fetch_and_parse_errors``.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from pipelines.lib import registry
from pipelines.lib.load_checks import check_names

ERROR, WARN = dg.AssetCheckSeverity.ERROR, dg.AssetCheckSeverity.WARN

# check -> (severity, description per family)
SOURCE_CHECKS: dict[str, tuple[dg.AssetCheckSeverity, dict[str, str]]] = {
    "non_empty": (
        ERROR,
        {
            registry.GPU_OFFERS: "offers were loaded for every partition date",
            registry.MARKET: "rows were loaded for every partition date",
        },
    ),
    "prices_positive": (ERROR, {registry.GPU_OFFERS: "every per-GPU-hour price is > 0"}),
    "no_duplicate_keys": (
        ERROR,
        {
            registry.GPU_OFFERS: "no two offers share the offer key",
            registry.MARKET: "no two rows share a key within (source, date)",
        },
    ),
    "prices_within_bounds": (
        WARN,
        {registry.GPU_OFFERS: "no price quarantined as outside the family's sane bounds"},
    ),
    "unmapped_gpu_names": (WARN, {registry.GPU_OFFERS: "no GPU name quarantined as unknown"}),
    "problem_rows": (
        WARN,
        {registry.MARKET: "no row quarantined (bad price, missing id, bad number)"},
    ),
    "fetch_and_parse_errors": (
        WARN,
        {
            registry.GPU_OFFERS: "every payload was fetched and parsed",
            registry.MARKET: "every payload was fetched and parsed",
        },
    ),
}


def checks_for(kind: str) -> dict[str, tuple[dg.AssetCheckSeverity, str]]:
    """``{check name: (severity, description)}`` of a source of family ``kind``."""
    return {
        name: (SOURCE_CHECKS[name][0], SOURCE_CHECKS[name][1][kind]) for name in check_names(kind)
    }


# the two families' tables, as other modules imported them before #11
CHECKS = checks_for(registry.GPU_OFFERS)
MARKET_CHECKS = checks_for(registry.MARKET)


def check_specs(key: dg.AssetKey, kind: str) -> list[dg.AssetCheckSpec]:
    return [
        dg.AssetCheckSpec(name, asset=key, description=desc)
        for name, (_, desc) in checks_for(kind).items()
    ]


def check_results(
    kind: str, results: dict[str, tuple[bool, dict[str, Any]]]
) -> list[dg.AssetCheckResult]:
    """``pipelines.lib.load_checks.evaluate``'s results as Dagster check results."""
    checks = checks_for(kind)
    return [
        dg.AssetCheckResult(
            check_name=name, passed=bool(passed), severity=checks[name][0], metadata=meta
        )
        for name, (passed, meta) in results.items()
    ]
