-- Models as listed by OpenRouter, the Hugging Face Hub and Epoch AI, one row per
-- source x date x model as loaded (no rename, no cast: the marts read the raw columns).
select * from raw.model_catalog
