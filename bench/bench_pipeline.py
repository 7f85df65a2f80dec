"""Benchmarks for the GPU price pipeline (results go to bench/RESULTS.md).

1. ``import``  -- ``gpu-tracker import`` of the full 125-day observation log (26,282 rows)
   into a fresh warehouse, including the model build. Targets: <= 30 s wall, <= 1.5 GB peak RSS.
   Baseline in the same run: a bare DuckDB aggregation of the same CSV (read + group by
   date x provider x gpu x type, min price, sum offers) -- the floor any import pays.
2. ``replay``  -- ``gpu-tracker run --from-archive`` of one day of every source that has a
   real or hand-written payload (SkyPilot catalogs, the RunPod capture, the source fixtures).
   Target: <= 10 s.

Each measurement runs the real CLI in a subprocess (fresh interpreter, as a user would) and
is repeated; medians are reported with the ratio to the baseline. Peak RSS is the child's
``ru_maxrss``. Usage: ``python bench/bench_pipeline.py [--repeat 3] [--write]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
OBS_LOG = (
    SHARED
    / "price_history/cherielilili_gpu_pricing_tracker/observations_2026-02-11_to_2026-06-15.csv"
)
REPLAY_DAY = "2026-05-24"


def _env(tmp: Path) -> dict[str, str]:
    cfg = tmp / "gpu_tracker.toml"
    cfg.write_text(
        "[paths]\n"
        f'warehouse = "{tmp / "w.duckdb"}"\narchive = "{tmp / "raw"}"\n'
        f'published = "{tmp / "pub"}"\ndagster_home = "{tmp / "dh"}"\n'
    )
    env = dict(os.environ, GPU_TRACKER_CONFIG=str(cfg), DAGSTER_HOME=str(tmp / "dh"))
    env.pop("GPU_TRACKER_WAREHOUSE", None)
    return env


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of one child process: its own rusage, from wait4."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in (0, 1):
            err.seek(0)
            raise RuntimeError(
                f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.read()[-2000:].decode()}"
            )
    return wall, usage.ru_maxrss / 1024


def bench_baseline() -> float:
    code = (
        "import duckdb,time;t=time.perf_counter();"
        f'duckdb.sql("select date, provider, gpu_model, rental_type, min(price_min_usd), sum(n_offers) '
        f"from read_csv('{OBS_LOG}') group by all\").fetchall();print(time.perf_counter()-t)"
    )
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    return time.perf_counter() - start


def build_replay_archive(root: Path) -> list[str]:
    """One day of payloads per source, from shared data (real) and the project's fixtures."""
    day = root / "skypilot_catalog" / REPLAY_DAY
    day.mkdir(parents=True)
    for folder in sorted((SHARED / "skypilot_catalog").iterdir()):
        if folder.is_dir():
            newest = sorted(folder.glob("v8_*.csv")) or sorted(folder.glob("*.csv"))
            shutil.copy(newest[-1], day / f"{folder.name}.csv")
    rp = root / "runpod" / REPLAY_DAY
    rp.mkdir(parents=True)
    shutil.copy(
        SHARED / "provider_payloads/runpod/gpuport_runpod_sample_2025-11-14_0cb9709.json",
        rp / "gpu_types_secure.json",
    )
    fixtures = REPO / "tests" / "fixtures"
    for source, pattern, name in (
        ("vastai", "vastai/bundles_handwritten.json", "bundles.json"),
        ("lambda_pricing", "lambda_pricing/pricing_handwritten.html", "pricing.html"),
        ("coreweave_pricing", "coreweave_pricing/pricing_handwritten.html", "pricing.html"),
    ):
        src = fixtures / pattern
        if src.exists():
            (root / source / REPLAY_DAY).mkdir(parents=True)
            shutil.copy(src, root / source / REPLAY_DAY / name)
    for page in (
        sorted((fixtures / "azure_retail").glob("*.json"))
        if (fixtures / "azure_retail").exists()
        else []
    ):
        (root / "azure_retail" / REPLAY_DAY).mkdir(parents=True, exist_ok=True)
        shutil.copy(page, root / "azure_retail" / REPLAY_DAY / page.name)
    return sorted(p.name for p in root.iterdir())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", action="store_true", help="append results to bench/RESULTS.md")
    args = parser.parse_args()
    exe = shutil.which("gpu-tracker") or "gpu-tracker"
    runs: dict[str, list[tuple[float, float]]] = {
        "import": [],
        "models": [],
        "dbt_like": [],
        "replay": [],
    }
    baseline = []
    sources: list[str] = []
    for i in range(args.repeat):
        print(f"round {i + 1}/{args.repeat}", file=sys.stderr)
        baseline.append(bench_baseline())
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            env = _env(tmp)
            runs["import"].append(_run([exe, "import", str(OBS_LOG), "--format", "obs-log"], env))
            # the full model build again on the imported history: dbt_like + polars marts + publish
            runs["models"].append(_run([exe, "build-models"], env))
            runs["dbt_like"].append(
                _run(
                    [
                        sys.executable,
                        "-m",
                        "dbt_like",
                        "--project-dir",
                        str(REPO / "sql"),
                        "--db",
                        str(tmp / "w.duckdb"),
                        "build",
                    ],
                    env,
                )
            )
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            sources = build_replay_archive(tmp / "archive")
            runs["replay"].append(
                _run(
                    [exe, "run", "--date", REPLAY_DAY, "--from-archive", str(tmp / "archive")],
                    _env(tmp),
                )
            )
    med_b = statistics.median(baseline)

    def row(label: str, key: str, target: str) -> str:
        walls = [w for w, _ in runs[key]]
        med = statistics.median(walls)
        peak = max(p for _, p in runs[key])
        return (
            f"| {label} | {med:.2f} | {', '.join(f'{x:.2f}' for x in walls)} | {peak:.0f} | "
            f"{med / med_b:.1f}x | {target} |"
        )

    lines = [
        (
            f"## {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} -- {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, repeat={args.repeat}"
        ),
        "",
        "| measurement | median wall (s) | runs (s) | peak RSS (MB) | vs baseline | target |",
        "|---|---|---|---|---|---|",
        (
            f"| baseline: bare DuckDB aggregation of the obs-log CSV (fresh interpreter) | {med_b:.2f} | "
            f"{', '.join(f'{x:.2f}' for x in baseline)} | - | 1.0x | - |"
        ),
        row(
            "`gpu-tracker import` 125-day obs-log (26,282 rows) incl. full model build",
            "import",
            "<= 30 s, <= 1.5 GB",
        ),
        row(
            "`gpu-tracker build-models` over that history (SQL models + polars marts + publish, via Dagster)",
            "models",
            "<= 10 s",
        ),
        row(
            "`python -m dbt_like build` alone over that history (SQL models + data tests)",
            "dbt_like",
            "-",
        ),
        row(
            f"`gpu-tracker run --from-archive` one day, sources: {', '.join(sources)}",
            "replay",
            "<= 10 s",
        ),
        "",
    ]
    print("\n".join(lines))
    if args.write:
        results = REPO / "bench" / "RESULTS.md"
        if not results.exists():
            results.write_text(
                "# Benchmark results\n\nWritten by `python bench/bench_pipeline.py --write`.\n\n"
            )
        with results.open("a") as fh:
            fh.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
