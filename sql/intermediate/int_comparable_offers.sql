-- The offers that enter market statistics: priced per GPU-hour or per instance-hour (divided
-- by the GPUs in the instance). Cluster rates (price_basis = 'cluster_per_gpu': a multi-node
-- reservation quoted per GPU, e.g. Lambda's 1-Click Clusters) are a different product and
-- stay out, as do non-positive prices (normalisation quarantines them; this is a guard).
with offers as (
    select * from staging.stg_raw__gpu_offers
),

comparable as (
    select *
    from offers
    where price_basis in ('per_gpu', 'per_instance')
      and price_usd_per_gpu_hour > 0
)

select * from comparable
