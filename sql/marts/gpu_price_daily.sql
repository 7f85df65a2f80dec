-- Daily price per GPU model x provider x price type, in USD per GPU-hour.
-- price_min: lowest per-GPU-hour price seen that day; price_max: highest;
-- price_median: median over the underlying offers (a pre-aggregated log row stands for
-- n_offers offers at its own median price); n_offers: offers behind the row.
-- Cluster rates are left out upstream (intermediate.int_comparable_offers).
with offers as (
    select * from intermediate.int_comparable_offers
),

expanded as (
    -- one row per underlying offer, so the median weights log rows by their n_offers
    select
        offers.date,
        offers.gpu_model,
        offers.provider,
        offers.pricing,
        offers.price_usd_per_gpu_hour
    from offers, range(offers.n_offers) as r(i)
),

medians as (
    select
        date,
        gpu_model,
        provider,
        pricing,
        quantile_cont(price_usd_per_gpu_hour, 0.5) as price_median
    from expanded
    group by all
),

aggregated as (
    select
        date,
        gpu_model,
        any_value(gpu_family) as gpu_family,
        provider,
        case when count(distinct provider_tier) = 1 then any_value(provider_tier) else 'mixed' end
            as provider_tier,
        pricing,
        min(price_min_usd_per_gpu_hour) as price_min,
        max(price_max_usd_per_gpu_hour) as price_max,
        sum(n_offers)::bigint as n_offers,
        count(*)::bigint as n_rows,
        sum(available_gpus)::bigint as available_gpus,
        bool_or(gpu_variant_assumed) as gpu_variant_assumed,
        string_agg(distinct source, ',' order by source) as sources
    from offers
    group by date, gpu_model, provider, pricing
),

final as (
    select
        aggregated.date,
        aggregated.gpu_model,
        aggregated.gpu_family,
        aggregated.provider,
        aggregated.provider_tier,
        aggregated.pricing,
        round(aggregated.price_min, 6) as price_min,
        round(medians.price_median, 6) as price_median,
        round(aggregated.price_max, 6) as price_max,
        aggregated.n_offers,
        aggregated.n_rows,
        aggregated.available_gpus,
        aggregated.gpu_variant_assumed,
        aggregated.sources
    from aggregated
    inner join medians
        on aggregated.date = medians.date
        and aggregated.gpu_model = medians.gpu_model
        and aggregated.provider = medians.provider
        and aggregated.pricing = medians.pricing
)

select * from final
