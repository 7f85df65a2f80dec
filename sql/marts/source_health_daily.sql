-- Per date x source: how the newest load attempt of that source for that date ended, so a
-- user can see which sources delivered on a day before trusting its marts (a source that
-- failed or came back empty is one row here, not a silent gap in the prices).
-- attempts counts every load of the pair (re-runs and backfills replace the rows; the log
-- keeps each attempt).
select
    date,
    source,
    arg_max(status, loaded_at) as status,
    arg_max(mode, loaded_at) as mode,
    arg_max(rows_loaded, loaded_at) as rows_loaded,
    arg_max(rows_quarantined, loaded_at) as rows_quarantined,
    arg_max(error, loaded_at) as error,
    count(*) as attempts
from staging.stg_raw__load_log
group by date, source
