-- One row per load attempt of a source for a date: status, rows, quarantined, error.
select * from raw.load_log
