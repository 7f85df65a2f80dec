-- Every like-for-like change of the index lies between the smallest and largest price
-- relative of the providers it matched (a Jevons mean cannot leave that range; 1e-9 absorbs
-- float rounding). Fails the index build, so a broken index is never published.
select date, gpu_model, pricing, segment, change_1d_pct, min_relative, max_relative
from marts.gpu_price_index
where change_1d_pct is not null
  and (1.0 + change_1d_pct / 100.0 < min_relative - 1e-9
       or 1.0 + change_1d_pct / 100.0 > max_relative + 1e-9)
