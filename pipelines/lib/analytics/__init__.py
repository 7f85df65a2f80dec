"""The marts' computations, by subject: pure polars functions, no I/O, no Dagster.

* ``gpu_market``   -- the market's day (``daily_summary``), spreads across providers;
* ``cost_per_flop``, ``price_changes`` -- per provider: cost per FLOP, what moved;
* ``gpu_index``, ``index_hygiene``, ``restatements`` -- the like-for-like index
  (METHODOLOGY.md), its hygiene rules, and what a rebuild restated;
* ``model_releases``, ``api_prices`` -- models across sources, API token prices;
* ``indicators``, ``nvidia``, ``api_margin`` -- the NVIDIA-margin indicators;
* ``serving_cost``, ``serving_benchmarks`` -- cost per 1M output tokens served.

Each mart is declared once, in the YAML under ``sql/`` (docs, key, tests, column types), and
computed by its Python model in ``sql/marts/<mart>.py``, which calls these functions.
``from pipelines.lib import analytics`` keeps the GPU-market names of the former
``analytics`` module (``analytics.daily_summary`` ...).
"""

from pipelines.lib.analytics.cost_per_flop import (  # noqa: F401
    PRECISIONS,
    cost_per_flop,
)
from pipelines.lib.analytics.gpu_market import (  # noqa: F401
    CHANGE_HORIZONS,
    CHANGE_TOLERANCE_DAYS,
    COVERAGE_WINDOW_DAYS,
    MARKET_KEYS,
    MAX_COMPARISON_AGE_DAYS,
    METHODOLOGY_VERSION,
    PRICE_KEYS,
    SUMMARY_CONFIDENCE,
    TIERS,
    _asof_change,
    _like_for_like,
    _median,
    _require,
    daily_summary,
    provider_spreads,
)
from pipelines.lib.analytics.price_changes import (  # noqa: F401
    price_changes,
)
