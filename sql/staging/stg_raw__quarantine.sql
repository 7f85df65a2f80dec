-- Every record that could not become a trustworthy row, with its reason, as loaded.
select * from raw.quarantine
