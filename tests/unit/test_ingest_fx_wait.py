"""Live EUR sources wait (bounded) for the ECB rates a concurrent ``ecb_fx`` step archives.

Source steps now fetch at the same time (no pool around the fetch), so ``scaleway`` can parse
before ``ecb_fx`` has archived the day's rates; with the pool, ``ecb_fx`` always ran first
(priority tag). ``ingest`` therefore waits up to ``FX_WAIT_SECONDS`` for the rates when
``ecb_fx`` is enabled and re-parses with them; with ``ecb_fx`` disabled it does not wait
and the offers are quarantined ``non_usd_currency`` as before. Fixtures are the hand-written
ones in the real shapes (tests/fixtures/scaleway, tests/fixtures/ecb_fx).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from pathlib import Path

import pytest

from pipelines.lib import ingest as ingest_module
from pipelines.lib.config import load_config
from tests.local_server import polite_client, serve

FIXTURES = Path(__file__).parents[1] / "fixtures"
SERVERS = FIXTURES / "scaleway" / "fr-par-2_servers.json"
ECB = FIXTURES / "ecb_fx" / "eurofxref-daily.xml"
DAY = dt.date(2026, 11, 28)


def _config(tracker_env, url: str, ecb_enabled: bool):
    path = tracker_env.parent / "gpu_tracker.toml"
    path.write_text(
        path.read_text()
        + f'\n[sources.scaleway]\nenabled = true\nbase_url = "{url}"\nzones = ["fr-par-2"]\n'
        + f"\n[sources.ecb_fx]\nenabled = {'true' if ecb_enabled else 'false'}\n"
    )
    return load_config()


def test_a_live_eur_source_waits_for_the_rates_of_a_concurrent_ecb_step(tracker_env, monkeypatch):
    httpd, url, _ = serve(200, SERVERS.read_bytes(), "application/json")
    monkeypatch.setattr(ingest_module, "FX_WAIT_SECONDS", 30.0)
    monkeypatch.setattr(ingest_module, "FX_POLL_SECONDS", 0.1)
    try:
        config = _config(tracker_env, url.removesuffix("/pricing"), ecb_enabled=True)
        folder = config.archive_dir / "ecb_fx" / DAY.isoformat()

        def ecb_step_archives_later():
            time.sleep(1.0)
            folder.mkdir(parents=True, exist_ok=True)
            (folder / ECB.name).write_bytes(ECB.read_bytes())

        writer = threading.Thread(target=ecb_step_archives_later)
        writer.start()
        started = time.monotonic()
        result = ingest_module.ingest("scaleway", DAY, config, client=polite_client())
        waited = time.monotonic() - started
        writer.join()
    finally:
        httpd.shutdown()
    assert 1.0 <= waited < 10
    reasons = set(result.quarantine["reason"].to_list())
    assert "non_usd_currency" not in reasons
    assert set(result.offers["currency"].to_list()) == {"EUR"}
    assert result.offers.height == 3


def test_no_wait_when_ecb_fx_is_disabled(tracker_env, monkeypatch):
    httpd, url, _ = serve(200, SERVERS.read_bytes(), "application/json")
    monkeypatch.setattr(ingest_module, "FX_WAIT_SECONDS", 30.0)
    try:
        config = _config(tracker_env, url.removesuffix("/pricing"), ecb_enabled=False)
        started = time.monotonic()
        with pytest.raises(ingest_module.SourceFailed) as failed:  # every offer needs a rate
            ingest_module.ingest("scaleway", DAY, config, client=polite_client())
        waited = time.monotonic() - started
        result = failed.value.result
    finally:
        httpd.shutdown()
    assert waited < 5
    assert "non_usd_currency" in set(result.quarantine["reason"].to_list())
