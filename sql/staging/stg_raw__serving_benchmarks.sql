-- Measured LLM serving throughput (MLPerf Inference, InferenceX) as loaded, one row per
-- source x date x round x system x benchmark model x scenario x precision.
select * from raw.serving_benchmarks
