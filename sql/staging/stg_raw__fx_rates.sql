-- ECB euro reference rates per date as loaded (offers in EUR are converted at load time with
-- the rate of the same date; this view is for readers and tests).
select * from raw.fx_rates
