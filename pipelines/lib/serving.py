"""Former home of the serving cost per 1M output tokens; it lives in
``pipelines.lib.analytics.serving_cost`` (the mart, the formula) and ``serving_benchmarks``
(which measurement prices a model on a GPU). Re-exported here so existing imports keep
working."""

from pipelines.lib.analytics.serving_benchmarks import (  # noqa: F401
    DEFAULT_SCENARIO,
    DEFAULT_SOURCE,
    Benchmark,
    ServingCostError,
    _model_filter,
    _rank_best,
    best_benchmarks,
    eligible,
    latest_loads,
    round_order,
    select_benchmark,
)
from pipelines.lib.analytics.serving_cost import (  # noqa: F401
    API_MAX_AGE_DAYS,
    CHEAPEST_LEVEL,
    MARKET_LEVEL,
    MART_KEYS,
    MART_SCHEMA,
    SECONDS_PER_HOUR,
    _api_prices,
    _cost_expr,
    market_level,
    serving_cost,
    serving_cost_daily,
    usd_per_million_output_tokens,
)
