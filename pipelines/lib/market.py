"""Former home of the model-release, API-price and NVIDIA-margin computations; they live by
subject in ``pipelines.lib.analytics`` (``model_releases``, ``api_prices``, ``indicators``,
``nvidia``, ``api_margin``). Re-exported here so existing imports keep working."""

from pipelines.lib.analytics.api_margin import (  # noqa: F401
    _active_params_table,
    _api_margin_proxy,
)
from pipelines.lib.analytics.api_prices import (  # noqa: F401
    API_DAILY_COLUMNS,
    FAMILY_SCHEMA,
    api_prices_daily,
    cheapest_by_family,
)
from pipelines.lib.analytics.indicators import (  # noqa: F401
    _CONFIDENCE_RANK,
    ECONOMICS_DEFAULTS,
    HOURS_PER_YEAR,
    INDICATOR_SCHEMA,
    _pair_confidence,
    _pflop_cost,
    _ratio_pairs,
    _rows,
    _side_quality,
    economics,
)
from pipelines.lib.analytics.model_releases import (  # noqa: F401
    MODEL_RELEASES_SCHEMA,
    model_releases,
)
from pipelines.lib.analytics.nvidia import (  # noqa: F401
    _reported_margin,
    margin_indicators,
)
