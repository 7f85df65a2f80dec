-- Daily price per GPU model x provider x price type, in USD per GPU-hour.
-- price_min: lowest per-GPU-hour price seen that day; price_max: highest;
-- price_median: median over the underlying offers (a pre-aggregated log row stands for
-- n_offers offers at its own median price); n_offers: offers behind the row.
-- spot_not_below_on_demand: a spot row whose lowest price is at or above the same
-- provider's lowest on-demand price that day (not a spot price: METHODOLOGY.md, rule
-- not_a_spot_price; the index excludes it, the row stays here with the flag).
-- Cluster rates are left out upstream (intermediate.int_comparable_offers).
with offers as (
    select * from intermediate.int_comparable_offers
),

ranked as (
    -- the weighted median without one row per offer (a log row claiming 2e9 offers must
    -- not allocate 2e9 rows): running offer counts in price order locate the two middle
    -- offers, exactly as quantile_cont over the expanded rows would
    select
        date,
        gpu_model,
        provider,
        pricing,
        price_usd_per_gpu_hour as price,
        sum(n_offers::bigint) over (
            partition by date, gpu_model, provider, pricing
            order by price_usd_per_gpu_hour
            rows between unbounded preceding and current row
        ) as offers_through,
        sum(n_offers::bigint) over (partition by date, gpu_model, provider, pricing) as offers_total
    from offers
    where n_offers >= 1
),

middle as (
    select
        date,
        gpu_model,
        provider,
        pricing,
        any_value(offers_total) as offers_total,
        -- 0-based positions of the middle offers: floor and ceil of (total - 1) / 2
        min(price) filter (where offers_through > (offers_total - 1) // 2) as price_lower_middle,
        min(price) filter (where offers_through > offers_total // 2) as price_upper_middle
    from ranked
    group by all
),

medians as (
    select
        date,
        gpu_model,
        provider,
        pricing,
        price_lower_middle
        + ((offers_total - 1) / 2.0 - (offers_total - 1) // 2)
        * (price_upper_middle - price_lower_middle) as price_median
    from middle
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
        aggregated.sources,
        aggregated.pricing = 'spot' and coalesce(aggregated.price_min >= on_demand.price_min, false)
            as spot_not_below_on_demand,
        '2.0' as methodology_version
    from aggregated
    inner join medians
        on aggregated.date = medians.date
        and aggregated.gpu_model = medians.gpu_model
        and aggregated.provider = medians.provider
        and aggregated.pricing = medians.pricing
    left join aggregated as on_demand
        on aggregated.date = on_demand.date
        and aggregated.gpu_model = on_demand.gpu_model
        and aggregated.provider = on_demand.provider
        and on_demand.pricing = 'on_demand'
)

select * from final
