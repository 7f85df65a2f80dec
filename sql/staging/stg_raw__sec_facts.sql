-- XBRL facts from SEC EDGAR companyfacts as loaded; pipelines/lib/financials.py turns them
-- into quarters (its rules need every fact, duplicates included).
select * from raw.sec_facts
