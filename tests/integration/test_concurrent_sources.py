"""The live daily run fetches its sources side by side (issue #11 item 5).

Four live sources (SkyPilot's Lambda catalog, Lambda's pricing page, LiteLLM's price map,
OpenRouter's models) are served by a local server from real recorded payloads in
../shared/data; every response is delayed, as a slow provider would be. ``gpu-tracker run``
without ``--from-archive`` runs ``daily_sources_job`` with the multiprocess executor
(``GPU_TRACKER_SOURCE_PROCESSES``): the requests are in flight at the same time and the
sources run takes less than the sum of the delays. Before, ``execute_in_process`` ran the
steps one after another (the job's executor was ignored), so it took at least their sum.
"""

from __future__ import annotations

import gzip
import http.server
import threading
import time

import pytest

from pipelines.cli import main as cli

DELAY = 5.0  # seconds per response; the sum over four sources is 20 s
SOURCES = ("skypilot_catalog", "lambda_pricing", "litellm_prices", "openrouter")


def _payloads(shared_data) -> dict[str, tuple[bytes, str]]:
    litellm = gzip.decompress(
        (
            shared_data / "api_prices/litellm/"
            "model_prices_and_context_window_2024-11-28_litellm-1.53.1.json.gz"
        ).read_bytes()
    )
    openrouter = (
        shared_data / "model_releases/openrouter/raw_envelope/"
        "openrouter-models_2026-02-27_gptel_eda7195a_envelope.json"
    ).read_bytes()
    catalog = (shared_data / "skypilot_catalog/lambda/v8_0f40703_us-east-1.csv").read_bytes()
    page = (
        shared_data
        / "pricing_pages/lambda/2026-01-09_henryzhangpku_c4ae7ff_lambda_20260109103934.html"
    ).read_bytes()
    return {
        "/skypilot/lambda/vms.csv": (catalog, "text/csv"),
        "/lambda/pricing": (page, "text/html; charset=utf-8"),
        "/litellm.json": (litellm, "application/json"),
        "/api/v1/models": (openrouter, "application/json"),
    }


@pytest.fixture
def slow_server(shared_data):
    """Serves the four payloads, each after DELAY seconds; records (path, start, end)."""
    routes = _payloads(shared_data)
    requests: list[tuple[str, float, float]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            started = time.monotonic()
            body, kind = routes.get(self.path.split("?")[0], (b"not here", "text/plain"))
            time.sleep(DELAY)
            self.send_response(200 if self.path.split("?")[0] in routes else 404)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            requests.append((self.path, started, time.monotonic()))

        def do_HEAD(self):
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def _config(tracker_env, base: str) -> None:
    config = tracker_env.parent / "gpu_tracker.toml"
    config.write_text(
        config.read_text()
        + f"""
[http]
min_interval_seconds = 0
max_retries = 0
timeout_seconds = 30

[sources.skypilot_catalog]
base_url = "{base}/skypilot"
clouds = ["lambda"]

[sources.lambda_pricing]
base_url = "{base}/lambda/pricing"

[sources.litellm_prices]
base_url = "{base}/litellm.json"

[sources.openrouter]
base_url = "{base}/api/v1/models"
"""
    )


@pytest.mark.slow  # four run worker processes start on a 2-core machine
def test_live_run_fetches_sources_concurrently(tracker_env, slow_server, monkeypatch, capfd):
    import dagster as dg

    base, requests = slow_server
    _config(tracker_env, base)
    monkeypatch.setenv("GPU_TRACKER_SOURCE_PROCESSES", "4")
    assert cli(["run", "--sources", ",".join(SOURCES)]) == 0, capfd.readouterr().err
    out, err = capfd.readouterr()
    assert out.startswith("run ok: 1 date(s), 4 source(s), ") and "4 at a time" in err, (out, err)
    # the step workers (other processes, on the same stderr) are quiet too
    assert "DEBUG" not in err and "Warning" not in err, err

    fetches = [r for r in requests if r[0].split("?")[0] != "/"]
    assert len(fetches) == 4, fetches
    # at least two requests were in flight at once: one started before another had answered
    overlapping = any(
        a[1] < b[2] and b[1] < a[2] for i, a in enumerate(fetches) for b in fetches[i + 1 :]
    )
    assert overlapping, fetches

    instance = dg.DagsterInstance.get()
    (run,) = [r for r in instance.get_runs() if r.job_name == "daily_sources_job"]
    stats = instance.get_run_stats(run.run_id)
    sources_seconds = stats.end_time - stats.start_time
    # one after another the four responses alone take 4 x DELAY
    assert sources_seconds < len(SOURCES) * DELAY, sources_seconds
    steps = {s.step_key for s in instance.get_run_step_stats(run.run_id)}
    assert steps == {f"raw__{s}" for s in SOURCES}
