-- One row per canonical offer as loaded by the source assets and importers (rename, cast,
-- dedupe only). Exact duplicate rows of one source/date/payload collapse into one.
with source as (
    select * from raw.gpu_offers
),

deduped as (
    select distinct
        date,
        source,
        provider,
        provider_tier,
        upstream_source,
        gpu_name_raw,
        gpu_model,
        gpu_family,
        gpu_variant_assumed,
        gpu_count,
        instance_type,
        region,
        pricing,
        reserved_term,
        price_original,
        price_basis,
        currency,
        price_usd_per_gpu_hour,
        price_min_usd_per_gpu_hour,
        price_max_usd_per_gpu_hour,
        n_offers,
        stock_status,
        available_gpus,
        payload_name,
        fetched_at
    from source
),

final as (
    select * from deduped
)

select * from final
