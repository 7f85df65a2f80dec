"""Source loads side by side: three live page sources whose server answers after 2 s each.

Since #11 a source's fetch and parse hold no pool and no lock; only its write takes the
warehouse writer lock. This measures what that buys on the load path itself, without
Dagster's step-process start-up: ``pipelines.lib.source_load.load_days`` for
lambda_pricing, coreweave_pricing and nebius_pricing (real captures from ../shared/data
served by a local server that sleeps ``--delay`` seconds before each answer), first one
after another in one process, then in three OS processes at once, into one fresh DuckDB file
each time. The processes are spawned and import everything first; the clock starts when all
three are ready (forking after polars/DuckDB threads started can deadlock), so the figure is
the load path itself. Every load must write its ``raw.load_log`` line.

Usage: ``python bench/bench_source_concurrency.py [--delay 2] [--repeat 3]``. No network:
the server listens on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
SHARED = REPO.parent / "shared" / "data" / "pricing_pages"
PAGES = {
    "lambda_pricing": SHARED / "lambda/2024-11-03_henryzhangpku_c4ae7ff_lambda_20241103180910.html",
    "coreweave_pricing": SHARED / "coreweave/2026-10-07_ewyluda_338a61b_coreweave_pricing.html",
    "nebius_pricing": SHARED / "nebius/2026-10-08_ewyluda_75b04a0_nebius_prices.html",
}


def _server(delay: float):
    bodies = {s: p.read_bytes() for s, p in PAGES.items()}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            time.sleep(delay)
            body = bodies[self.path.strip("/")]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


def _config(tmp: Path, url: str) -> Path:
    cfg = tmp / "gpu_tracker.toml"
    text = (
        f'[paths]\nwarehouse = "{tmp / "gpu_market.duckdb"}"\narchive = "{tmp / "raw"}"\n'
        f'published = "{tmp / "published"}"\ndagster_home = "{tmp / "dagster_home"}"\n'
        "\n[http]\nmax_retries = 0\nmin_interval_seconds = 0\ntimeout_seconds = 30\n"
    )
    for source in PAGES:
        text += f'\n[sources.{source}]\nenabled = true\nbase_url = "{url}/{source}"\n'
    cfg.write_text(text)
    return cfg


def _load(source: str, ready=None, go=None) -> None:
    from pipelines.lib import source_load
    from pipelines.lib.config import load_config

    if ready is not None:  # a spawned process: imported, now wait for the start signal
        ready.put(source)
        go.wait()
    day = dt.datetime.now(dt.UTC).date()
    for event in source_load.load_days(source, [day], load_config()):
        if isinstance(event, source_load.DayFailed):
            raise SystemExit(f"{source}: {event.error}")


def _loaded(db: Path) -> int:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("select count(*) from raw.load_log where status = 'ok'").fetchone()[0]
    finally:
        con.close()


def _once(url: str, concurrent: bool) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["GPU_TRACKER_CONFIG"] = str(_config(Path(tmp), url))
        if concurrent:
            ctx = mp.get_context("spawn")
            ready, go = ctx.Queue(), ctx.Event()
            procs = [ctx.Process(target=_load, args=(s, ready, go)) for s in PAGES]
            for p in procs:
                p.start()
            for _ in procs:
                ready.get(timeout=120)
            started = time.monotonic()
            go.set()
            for p in procs:
                p.join(timeout=120)
            if any(p.exitcode for p in procs):
                raise SystemExit("a concurrent load failed")
        else:
            started = time.monotonic()
            for source in PAGES:
                _load(source)
        seconds = time.monotonic() - started
        assert _loaded(Path(tmp) / "gpu_market.duckdb") == len(PAGES)
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--delay", type=float, default=2.0)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import pipelines.lib.source_load  # noqa: F401 -- imported before the sequential clock

    httpd, url = _server(args.delay)
    try:
        seq = [_once(url, concurrent=False) for _ in range(args.repeat)]
        par = [_once(url, concurrent=True) for _ in range(args.repeat)]
    finally:
        httpd.shutdown()
    print(
        f"3 live page sources, {args.delay:g} s per answer, median of {args.repeat}: "
        f"one after another {statistics.median(seq):.1f} s, three processes at once "
        f"{statistics.median(par):.1f} s (runs: {[round(s, 1) for s in seq]} vs "
        f"{[round(s, 1) for s in par]})"
    )


if __name__ == "__main__":
    main()
