"""The MLPerf Inference summaries parser on every real summary file in
shared/data/serving_benchmarks (v4.1, v5.1, v6.0 JSON; v6.1 CSV)."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pytest

from pipelines.lib import ingest
from pipelines.lib.sources import mlperf_inference as m
from pipelines.lib.sources.base import ParseError
from tests.conftest import SHARED_DATA

FILES = {
    "v4.1": "mlperf_inference_v4.1_summary_results.json",
    "v5.1": "mlperf_inference_v5.1_summary_results.json",
    "v6.0": "mlperf_inference_v6.0_summary_results.json",
    "v6.1": "mlperf_inference_v6.1_summary.csv",
}


@pytest.fixture(scope="module")
def parsed() -> dict[str, pl.DataFrame]:
    folder = SHARED_DATA / "serving_benchmarks"
    return {r: m.parse(name, (folder / name).read_bytes())[m.TABLE] for r, name in FILES.items()}


def _one(frame: pl.DataFrame, **eq) -> dict:
    hit = frame.filter(pl.all_horizontal([pl.col(k) == v for k, v in eq.items()]))
    assert hit.height == 1, (eq, hit.height)
    return hit.row(0, named=True)


def test_token_rows_per_file_and_round_from_content(parsed):
    # Units == Tokens/s rows only (README counts: v6.1 354, v6.0 384, v5.1 406, v4.1 329)
    assert {r: f.height for r, f in parsed.items()} == {
        "v4.1": 329,
        "v5.1": 406,
        "v6.0": 384,
        "v6.1": 354,
    }
    for r, f in parsed.items():
        assert f["round"].unique().to_list() == [r]
        assert f["payload_name"].unique().to_list() == [FILES[r]]


def test_problem_counts_per_file(parsed):
    counts = {r: dict(f.group_by("problem").len().iter_rows()) for r, f in parsed.items()}
    assert counts == {
        "v4.1": {None: 312, "no_accelerator": 14, "unknown_accelerator": 3},
        "v5.1": {
            None: 379,
            "no_accelerator": 12,
            "unknown_accelerator": 7,
            "mixed_accelerators": 8,
        },
        "v6.0": {
            None: 329,
            "no_accelerator": 12,
            "unknown_accelerator": 31,
            "mixed_accelerators": 4,
            "ambiguous_accelerator_count": 8,
        },
        "v6.1": {
            None: 287,
            "no_accelerator": 18,
            "unknown_accelerator": 39,
            "mixed_accelerators": 10,
        },
    }
    for f in parsed.values():
        good = f.filter(pl.col("problem").is_null())
        assert good["tokens_per_second_per_gpu"].min() > 0
        assert good["gpu_model"].null_count() == 0 and good["model_key"].null_count() == 0
        bad = f.filter(pl.col("problem").is_not_null())
        assert bad["tokens_per_second_per_gpu"].null_count() == bad.height


def test_per_accelerator_throughput_of_named_systems(parsed):
    v61 = parsed["v6.1"]
    # v6.1 uses total_accelerators (README sanity table)
    r = _one(
        v61,
        system="NVIDIA DGX B300 (8x B300-SXM-270GB, TensorRT)",
        benchmark_model="llama2-70b-99.9",
        scenario="Offline",
        submitter="NVIDIA",
    )
    assert (r["gpu_model"], r["total_accelerators"], r["result_tokens_per_second"]) == (
        "B300-288GB",
        8,
        109277.0,
    )
    assert r["tokens_per_second_per_gpu"] == pytest.approx(13659.625)
    r = _one(
        v61,
        submitter="CoreWeave",
        benchmark_model="gpt-oss-120b",
        scenario="Offline",
        gpu_model="B200-180GB",
    )
    assert r["tokens_per_second_per_gpu"] == pytest.approx(91487.4 / 8)  # 11,435.9
    r = _one(
        v61,
        system="NVIDIA GB200 NVL72 (72x GB200-186GB_aarch64, TensorRT)",
        benchmark_model="deepseek-r1",
        scenario="Offline",
        submitter="NVIDIA",
    )
    assert (r["nodes"], r["accelerators_per_node"], r["total_accelerators"]) == (18, 4, 72)
    assert r["tokens_per_second_per_gpu"] == pytest.approx(
        523790.0 / 72
    )  # 7,274.9: GPUs, not superchips
    r = _one(
        v61,
        submitter="AMD",
        platform="8xMI355X_2xEPYC_9575F",
        benchmark_model="llama2-70b-99.9",
        scenario="Offline",
        division="closed",
    )
    assert r["tokens_per_second_per_gpu"] == pytest.approx(106517.0 / 8)  # 13,314.6
    # v6.0: Total Accelerators
    r = _one(
        parsed["v6.0"],
        system="NVIDIA GB300 NVL72 (72x GB300-288GB_aarch64, TensorRT)",
        benchmark_model="deepseek-r1",
        scenario="Offline",
        total_accelerators=288,
        submitter="NVIDIA",
    )
    assert r["tokens_per_second_per_gpu"] == pytest.approx(2494310.0 / 288)
    # v5.1: no total, Nodes x a#
    r = _one(
        parsed["v5.1"],
        system="NVIDIA H200 (8x H200-SXM-141GB, TensorRT)",
        benchmark_model="llama2-70b-99",
        scenario="Offline",
    )
    assert (r["submitter"], r["gpu_model"], r["total_accelerators"]) == (
        "Google",
        "H200-SXM-141GB",
        8,
    )
    assert r["tokens_per_second_per_gpu"] == pytest.approx(35043.7 / 8)  # 4,380.5
    # v4.1: a# is the float 1.0
    r = _one(
        parsed["v4.1"],
        system="Supermicro AS-8125GS-TNMR2",
        benchmark_model="llama2-70b-99",
        scenario="Offline",
        platform="1xMI300X_2xEPYC-9374F",
    )
    assert (r["gpu_model"], r["total_accelerators"], r["precision"]) == ("MI300X-192GB", 1, "fp8")
    assert r["tokens_per_second_per_gpu"] == pytest.approx(3062.72)


def test_inconsistent_totals_are_quarantined_not_guessed(parsed):
    amb = parsed["v6.0"].filter(pl.col("problem") == "ambiguous_accelerator_count")
    assert sorted(set(amb["platform"].to_list())) == [
        "87xMI355X_22xEPYC_9575F",
        "94xMI355X_24xEPYC_9575F",
    ]
    assert sorted(set(amb["total_accelerators"].to_list())) == [
        88,
        96,
    ]  # vs (x87) / (x94) in the name


# every distinct accelerator name on the token rows of the four files -> gpu_model or problem
ACCELERATORS = {
    "": "no_accelerator",
    "N/A": "no_accelerator",
    "AMD Instinct MI300X 192GB HBM3": "MI300X-192GB",
    "AMD Instinct MI300X-NPS1-SPX-192GB-750W": "MI300X-192GB",
    "AMD MI300X-NPS1-SPX-192GB-750W": "MI300X-192GB",
    "AMD Instinct MI325X 256GB HBM3e": "MI325X-256GB",
    "AMD Instinct MI350X": "MI350X-288GB",
    "AMD Instinct MI350X 288GB HBM3e": "MI350X-288GB",
    "AMD Instinct MI355X 288GB HBM3e": "MI355X-288GB",
    "AMD Instinct MI355X 288GB HBM3e (Power Cap 1000 W)": "MI355X-288GB",
    "AMD Instinct MI355X 288GB HBM3e (x87)": "MI355X-288GB",
    "AMD Instinct MI355X 288GB HBM3e (x94)": "MI355X-288GB",
    "NVIDIA B200-SXM-180GB": "B200-180GB",
    "NVIDIA B300-SXM-270GB": "B300-288GB",
    "Nvidia B300-SXM-270GB": "B300-288GB",
    "NVIDIA GB200": "GB200-186GB",
    "NVIDIA GB300": "GB300-288GB",
    "NVIDIA GH200 Grace Hopper Superchip 144GB": "GH200-144GB",
    "NVIDIA GH200 Grace Hopper Superchip 96GB": "GH200-96GB",
    "NVIDIA GeForce RTX 4090": "RTX4090-24GB",
    "NVIDIA H100-NVL-94GB": "H100-NVL-94GB",
    "NVIDIA H100-PCIe-80GB": "H100-PCIE-80GB",
    "NVIDIA H100-SXM-80GB": "H100-SXM-80GB",
    "NVIDIA H200-NVL-141GB": "H200-NVL-141GB",
    "NVIDIA H200-SXM-141GB": "H200-SXM-141GB",
    "NVIDIA H200-SXM-141GB-CTS": "H200-SXM-141GB",
    "Virtualized NVIDIA H200-SXM-141GB": "H200-SXM-141GB",
    "NVIDIA L40S": "L40S-48GB",
    "NVIDIA RTX PRO 6000 Blackwell": "RTXPRO6000-96GB",
    "NVIDIA RTX PRO 6000 Blackwell Server Edition": "RTXPRO6000-96GB",
    # systems of several GPU types: not attributable to one GPU
    "AMD Instinct MI300X 192GB HBM3 (x2x8) and AMD Instinct MI355X 288GB HBM3e (x2x8)": "mixed_accelerators",
    "AMD Instinct MI300X 192GB HBM3 (x32), AMD Instinct MI325X 256GB HBM3e (x16)": "mixed_accelerators",
    "AMD Instinct MI300X 192GB HBM3 (x8) and AMD Instinct MI325X 256GB HBM3e (x8) and "
    "AMD Instinct MI355X 288GB HBM3e (x8)": "mixed_accelerators",
    "AMD Instinct MI325X 256GB HBM3E (x16), AMD Instinct MI300X 192GB HBM3 (x8)": "mixed_accelerators",
    "NVIDIA H200-SXM-141GB + AMD Instinct MI350X 288GB HBM3e": "mixed_accelerators",
    # not in the GPU table (pipelines/lib/gpus.py): quarantined with their names
    "AMD Instinct MI350P": "unknown_accelerator",
    "Intel(R) Arc Pro(R) B50": "unknown_accelerator",
    "Intel(R) Arc Pro(R) B60": "unknown_accelerator",
    "Intel(R) Arc Pro(R) B70": "unknown_accelerator",
    "Intel(R) Arc(TM) Pro B70": "unknown_accelerator",
    "MS-Intel Arc Pro B60 Dual 48G Turbo": "unknown_accelerator",
    "[MAXSUN] MS-Intel Arc Pro B60 Dual 48G Turbo": "unknown_accelerator",
    "NVIDIA Jetson AGX Orin 64G": "unknown_accelerator",
    "NVIDIA Jetson AGX Thor 128G": "unknown_accelerator",
    "NVIDIA RTX PRO 4500 Blackwell": "unknown_accelerator",
    "NVIDIA RTX PRO 4500 Blackwell-PCIe-32GB": "unknown_accelerator",
    "NVIDIA VR200": "unknown_accelerator",
    "NVIDIA Vera Rubin": "unknown_accelerator",
}


def test_gpu_mapping_of_every_accelerator_name(parsed):
    names = set(pl.concat(parsed.values())["accelerator_name"].to_list())
    assert names == set(ACCELERATORS)
    for name, expected in ACCELERATORS.items():
        gpu, _assumed, problem = m.map_accelerator(name)
        assert (gpu or problem) == expected, name
    # every row of a name carries the same verdict
    for f in parsed.values():
        for name, gpu, problem in (
            f.select("accelerator_name", "gpu_model", "problem").unique().iter_rows()
        ):
            assert (gpu or problem) == ACCELERATORS[
                name
            ] or problem == "ambiguous_accelerator_count", name


def test_model_mapping_of_every_benchmark_name(parsed):
    pairs = {
        (b, k, t)
        for b, k, t in pl.concat(parsed.values())
        .select("benchmark_model", "model_key", "accuracy_target")
        .unique()
        .iter_rows()
    }
    assert pairs == {
        ("llama2-70b-99", "llama-2-70b-chat", "99"),
        ("llama2-70b-99.9", "llama-2-70b-chat", "99.9"),
        ("gptj-99", "gpt-j-6b", "99"),
        ("gptj-99.9", "gpt-j-6b", "99.9"),
        ("mixtral-8x7b", "mixtral-8x7b-instruct", None),
        ("llama3.1-8b", "llama-3.1-8b-instruct", None),
        ("llama3.1-8b-edge", "llama-3.1-8b-instruct", None),
        ("llama3.1-405b", "llama-3.1-405b-instruct", None),
        ("deepseek-r1", "deepseek-r1", None),
        ("gpt-oss-120b", "gpt-oss-120b", None),
    }


def test_problem_rows_reach_quarantine_with_the_accelerator_name(parsed):
    frame = parsed["v6.1"].select(
        pl.lit(dt.date(2026, 12, 1)).alias("date"), pl.lit(m.SOURCE_ID).alias("source"), pl.all()
    )
    q = ingest._problem_rows_to_quarantine(m.TABLE, frame)
    assert q.height == 354 - 287
    vera = q.filter(pl.col("record").str.contains("Vera Rubin"))
    assert vera.height == 3 and set(vera["reason"].to_list()) == {"unknown_accelerator"}
    assert json.loads(vera["record"][0])["accelerator_name"] == "NVIDIA Vera Rubin"


def test_scenario_case_and_precision_normalised(parsed):
    assert set(pl.concat(parsed.values())["scenario"].to_list()) == {
        "Offline",
        "Server",
        "Interactive",
    }
    assert "UNSET" not in set(parsed["v6.1"]["precision"].drop_nulls().to_list())
    assert {"fp4", "fp8", "mxfp4"} <= set(parsed["v6.1"]["precision"].drop_nulls().to_list())


@pytest.mark.parametrize(
    "content",
    [
        b"<html><body>rate limited</body></html>",
        b'{"message": "Not Found"}',
        b"[]",
        b'[{"foo": 1}]',
        b'Organization,Result\n"AMD","1"\n',
        b"",
    ],
)
def test_unrecognised_payload_raises(content):
    with pytest.raises(ParseError):
        m.parse("summary.json", content)


def test_payload_names_match_the_shared_copies():
    for round_id, url in m.DEFAULT_ROUNDS.items():
        assert m.payload_name(round_id, url) == FILES[round_id]


def _real_csv_row_with(**changes) -> bytes:
    """The v6.1 header and its first 8-accelerator token row (a real AMD MI355X row), with fields
    changed as given: a bad-number case built from a real row, not an invented file."""
    import csv
    import io

    text = (SHARED_DATA / "serving_benchmarks" / FILES["v6.1"]).read_text(encoding="utf-8")
    reader = csv.DictReader(io.StringIO(text, newline=""))
    row = next(r for r in reader if r["Units"] == "Tokens/s" and r["total_accelerators"] == "8")
    row.update(changes)
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=reader.fieldnames, quoting=csv.QUOTE_ALL)
    w.writeheader()
    w.writerow(row)
    return out.getvalue().encode()


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Result": "abc"}, "unparseable_result"),
        ({"Result": "-5"}, "unparseable_result"),
        ({"total_accelerators": "0"}, "unknown_accelerator_count"),
        ({"accelerators_per_node": "7.5", "total_accelerators": ""}, "unknown_accelerator_count"),
        ({"total_accelerators": "16"}, "ambiguous_accelerator_count"),  # 1 node x 8 per node
        ({"MlperfModel": "qwen3.6-27b"}, "unknown_benchmark_model"),
        (
            {"accelerator_model_name": "NVIDIA H200-SXM-141GB + AMD Instinct MI350X 288GB HBM3e"},
            "mixed_accelerators",
        ),
    ],
)
def test_bad_numbers_and_names_are_quarantined_never_guessed(changes, problem):
    row = m.parse("summary.csv", _real_csv_row_with(**changes))[m.TABLE].row(0, named=True)
    assert row["problem"] == problem
    assert row["tokens_per_second_per_gpu"] is None and row["gpu_model"] is None


def test_the_unchanged_real_row_loads():
    row = m.parse("summary.csv", _real_csv_row_with())[m.TABLE].row(0, named=True)
    assert row["problem"] is None and row["tokens_per_second_per_gpu"] == pytest.approx(
        row["result_tokens_per_second"] / 8
    )
