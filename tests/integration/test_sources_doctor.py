"""``gpu-tracker sources`` (the registry with terms) and ``gpu-tracker doctor`` against a local
server serving real recorded payloads from ../shared/data (and one that breaks)."""

from __future__ import annotations

import gzip
import http.server
import json
import threading

import pytest

from pipelines import cli
from pipelines.lib import registry
from pipelines.lib.sources.base import TERMS_VERDICTS


def test_registry_lists_every_source_module_once_with_terms():
    specs = registry.specs()
    # every source the tracker ships, each declared once, with a terms verdict and a date
    for sid in (
        "runpod",
        "vastai",
        "azure_retail",
        "openrouter",
        "litellm_prices",
        "huggingface",
        "epoch_models",
        "sec_edgar",
    ):
        assert sid in specs
    for sid, spec in specs.items():
        assert spec.terms.verdict in TERMS_VERDICTS, sid
        assert spec.terms.checked == "2026-12-01" or spec.terms.checked[:4] == "2026", sid
        assert spec.terms.url.startswith("https://"), sid
        assert spec.kind in ("gpu_offers", "market"), sid
    # config defaults and secrets derive from the specs
    assert registry.config_defaults()["vastai"]["base_url"].startswith("https://console.vast.ai")
    assert "RUNPOD_API_KEY" in registry.secret_env_vars()


def test_sec_edgar_ships_disabled_until_a_user_agent_is_set(tracker_env):
    from pipelines.lib.config import load_config

    assert registry.spec("sec_edgar").defaults["enabled"] is False
    assert load_config().source("sec_edgar")["enabled"] is False
    assert "sec_edgar" not in load_config().enabled_sources()


def test_sources_command_json(tracker_env, capsys):
    assert cli.main(["sources", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by_id = {r["id"]: r for r in rows}
    assert by_id["epoch_models"]["licence"] == "CC-BY-4.0"
    assert by_id["epoch_models"]["terms"] == "permits"
    assert by_id["sec_edgar"]["enabled"] is False
    assert set(rows[0]) >= {
        "id",
        "enabled",
        "kind",
        "providers",
        "terms_url",
        "terms",
        "terms_checked",
        "licence",
    }


@pytest.fixture
def payload_server(shared_data):
    """Serves a real LiteLLM price map (gzip in the shared folder, plain on the wire), a real
    OpenRouter envelope, and an HTML error page for everything else."""
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
    routes = {"/litellm.json": litellm, "/api/v1/models": openrouter}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = routes.get(self.path.split("?")[0])
            if body is None:
                body, status = b"<html><body>we moved</body></html>", 200
            else:
                status = 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", {k: len(v) for k, v in routes.items()}
    server.shutdown()


def test_doctor_reports_each_source_and_fails_on_the_broken_one(
    tracker_env, payload_server, tmp_path, capsys
):
    payload_server, payload_server_sizes = payload_server
    config = tmp_path / "gpu_tracker.toml"
    config.write_text(
        config.read_text()
        + f"""
[http]
min_interval_seconds = 0
max_retries = 0
timeout_seconds = 5

[sources.litellm_prices]
base_url = "{payload_server}/litellm.json"

[sources.openrouter]
base_url = "{payload_server}/api/v1/models"

[sources.epoch_models]
base_url = "{payload_server}/epoch.csv"
"""
    )
    out = tmp_path / "doctor"
    rc = cli.main(
        [
            "doctor",
            "--sources",
            "litellm_prices,openrouter,epoch_models",
            "--out",
            str(out),
            "--format",
            "json",
        ]
    )
    captured = capsys.readouterr()
    checks = {c["source"]: c for c in json.loads(captured.out)}
    assert rc == 1  # epoch_models got an HTML page, not its CSV
    assert (
        checks["litellm_prices"]["ok"] and checks["litellm_prices"]["rows"] == 599
    )  # usable price rows of litellm 1.53.1
    assert checks["litellm_prices"]["status"] == "200"
    assert checks["litellm_prices"]["bytes"] == payload_server_sizes["/litellm.json"]
    assert checks["openrouter"]["ok"] and checks["openrouter"]["rows"] > 300
    assert not checks["epoch_models"]["ok"]
    assert checks["epoch_models"]["error"]
    # every fetched payload was archived for a bug report, under the doctor's own folder
    assert list((out / "litellm_prices").glob("*/model_prices.json"))
    assert list((out / "epoch_models").glob("*/*"))
    assert "1 failing" not in captured.err and "failing: epoch_models" in captured.err
