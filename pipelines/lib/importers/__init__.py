"""Importers for third-party price histories: parse a file into candidate records per date.

Two formats (``gpu-tracker import PATH --format ...``):

* ``obs-log``      -- a daily observation log with the columns of
  ``shared/data/price_history/cherielilili_*`` (``date, provider, gpu_model, gpu_count,
  region, rental_type, price_min_usd, price_median_usd, price_max_usd, n_offers,
  source_url, fetched_at``). Each row is already an aggregate of ``n_offers`` offers.
* ``gpuhunt-json`` -- a gpuhunt daily snapshot (``[{"gpuModel", "price": "$x.xx",
  "provider"}]``), one file per day, date from the file name (``YYYY-MM-DD_*``).

The package: ``base`` (errors, ``ImportBatch``, the import's source name), ``obs_log`` (the
observation log reader), ``obs_log_corrections`` (the corrections it applies, listed in
``OBS_LOG_CORRECTIONS``) and ``gpuhunt`` (the gpuhunt snapshot reader). Every name is
re-exported here, so ``from pipelines.lib.importers import read_obs_log`` keeps working.

Pure apart from reading the given file (and, for the source name, the warehouse's load log).
"""

from __future__ import annotations

from pipelines.lib.importers.base import (
    ImportBatch,
    ImportFormatError,
    ImportNameError,
    import_source_name,
)
from pipelines.lib.importers.gpuhunt import read_gpuhunt_json
from pipelines.lib.importers.obs_log import OBS_LOG_COLUMNS, read_obs_log
from pipelines.lib.importers.obs_log_corrections import (
    GETDEPLOYING_PER_GPU_FROM,
    NEBIUS_ON_DEMAND_FROM,
    OBS_LOG_CORRECTIONS,
    STAT_COLUMNS,
)

__all__ = [
    "GETDEPLOYING_PER_GPU_FROM",
    "NEBIUS_ON_DEMAND_FROM",
    "OBS_LOG_COLUMNS",
    "OBS_LOG_CORRECTIONS",
    "STAT_COLUMNS",
    "ImportBatch",
    "ImportFormatError",
    "ImportNameError",
    "import_source_name",
    "read_gpuhunt_json",
    "read_obs_log",
]
