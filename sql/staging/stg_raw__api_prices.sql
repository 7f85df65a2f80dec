-- API prices per model in USD per 1M input / output tokens, from OpenRouter and LiteLLM, as
-- loaded (quarantined rows never reach raw.api_prices).
select * from raw.api_prices
