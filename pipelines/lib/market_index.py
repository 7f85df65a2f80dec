"""Former home of the like-for-like GPU price index; it lives in ``pipelines.lib.analytics``
(``gpu_index``, ``index_hygiene``, ``restatements``). Re-exported here so existing imports
keep working."""

from pipelines.lib.analytics.gpu_index import (  # noqa: F401
    CONFIDENCE,
    CONSTITUENT_KEYS,
    EXCLUSION_REASONS,
    INDEX_BASE_LEVEL,
    INDEX_KEYS,
    MAX_LINK_GAP_DAYS,
    METHODOLOGY_VERSION,
    OBSERVATION_COLUMNS,
    PANEL_DAYS,
    SEGMENTS,
    SERIES_KEYS,
    _panel_absentees,
    _require,
    confidence_expr,
    gpu_price_index,
    index_change,
    index_constituents,
    observations_sql,
)
from pipelines.lib.analytics.index_hygiene import (  # noqa: F401
    AGGREGATOR_FEEDS,
    CATALOG_SOURCES,
    FLOOR_MAX_RATIO,
    FLOOR_MIN_DAYS,
    OUTLIER_MAD_K,
    OUTLIER_MIN_FACTOR,
    OUTLIER_MIN_VOTES,
    exclusion_reason,
    feed_expr,
    feed_rank,
    prepare_observations,
    provider_votes,
    rule_constant_floor,
    rule_not_a_spot_price,
    rule_outlier,
)
from pipelines.lib.analytics.restatements import (  # noqa: F401
    RESTATED_MARTS,
    RESTATEMENT_REL_TOL,
    RESTATEMENT_SCHEMA,
    _versions,
    restatements,
)
