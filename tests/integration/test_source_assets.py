"""The source assets as Dagster runs them (#11 items 2 and 5, #13 item 5), on real payloads.

* partition status says what was loaded: a single-run backfill over a range whose replay
  archive holds payloads for a few dates materializes exactly those dates (it used to mark
  every date of the range: 1,017 "materialized" partitions for 1-20 real payloads);
* a date that fails in a range: the dates that loaded are still materialized, the step fails;
* the parser's notes (Lambda's "CONTACT SALES" rows) reach raw.load_log;
* two or three source steps in separate processes fetch at the same time (no pool around the
  fetch) and all load, their writes serialised by the writer lock: measured against a local
  server that delays every response by 2 s.

The payloads are the real ones in ../shared/data (read in place or staged into tmp_path).
"""

from __future__ import annotations

import datetime as dt
import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg
import duckdb
import pytest

from pipelines import launch
from pipelines.defs.resources import TrackerResource
from pipelines.defs.sources import build_source_asset, source_asset_key
from pipelines.lib.shared_history import stage

RANGE = ("2026-02-01", "2026-03-31")
LITELLM = "api_prices/litellm/model_prices_and_context_window_2023-12-13_litellm-1.14.0.json.gz"
LAMBDA_2024 = "pricing_pages/lambda/2024-11-03_henryzhangpku_c4ae7ff_lambda_20241103180910.html"
PAGES = {  # source -> real capture served for it (one GET each)
    "lambda_pricing": LAMBDA_2024,
    "coreweave_pricing": "pricing_pages/coreweave/2026-10-07_ewyluda_338a61b_coreweave_pricing.html",
    "nebius_pricing": "pricing_pages/nebius/2026-10-08_ewyluda_75b04a0_nebius_prices.html",
}
DELAY_SECONDS = 2.0
# a forkserver with the definitions preloaded, as the CLI's live runs use: spawning a fresh
# interpreter per step costs seconds of CPU, more than the fetches save on a small machine
MULTIPROCESS = {
    "multiprocess": {
        "max_concurrent": 3,
        "start_method": {"forkserver": {"preload_modules": ["pipelines.defs.sources"]}},
    }
}


def _q(db, sql, params=None):
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def _backfill(assets, instance, archive, db, start, end):
    return dg.materialize(
        assets,
        instance=instance,
        resources={"tracker": TrackerResource(from_archive=str(archive), warehouse=str(db))},
        tags={
            "dagster/asset_partition_range_start": start,
            "dagster/asset_partition_range_end": end,
        },
        raise_on_error=False,
    )


def test_backfill_materializes_only_the_dates_the_archive_held(tracker_env, tmp_path, shared_data):
    archive = tmp_path / "archive"
    stage(shared_data, archive)
    db = tracker_env / "gpu_market.duckdb"
    sources = ["openrouter", "litellm_prices"]
    first, last = (dt.date.fromisoformat(d) for d in RANGE)
    staged = {
        s: {
            d.name
            for d in (archive / s).iterdir()
            if first <= dt.date.fromisoformat(d.name) <= last
        }
        for s in sources
    }
    assert staged == {  # what the shared data holds in the range (4 dates of 59)
        "openrouter": {"2026-02-27", "2026-03-15"},
        "litellm_prices": {"2026-02-01", "2026-03-31"},
    }
    with dg.instance_for_test() as instance:
        result = _backfill([build_source_asset(s) for s in sources], instance, archive, db, *RANGE)
        assert result.success
        for source in sources:
            materialized = instance.get_materialized_partitions(source_asset_key(source))
            assert materialized == staged[source], source
            loaded = {
                d.isoformat()
                for (d,) in _q(
                    db,
                    "select date from raw.load_log where source = ? and status = 'ok' "
                    "and rows_loaded > 0",
                    [source],
                )
            }
            assert loaded == staged[source]
        # each date's materialization carries that date's own counts
        events = result.get_asset_materialization_events()
        per_date = {
            (e.asset_key.path[-1], e.partition): e.materialization.metadata["rows"].value
            for e in events
        }
        assert len(events) == len(per_date) == 4
        assert all(n > 0 for n in per_date.values())
        checks = {
            (e.asset_key.path[-1], e.check_name): e.passed
            for e in result.get_asset_check_evaluations()
        }
        assert checks[("openrouter", "non_empty")] and checks[("litellm_prices", "non_empty")]


def test_a_failed_date_keeps_the_loaded_dates_materialized(tracker_env, tmp_path, shared_data):
    """Every date of the range has a payload, the middle one unparseable: dates 1 and 3 are
    materialized (they are in the warehouse), the step fails, date 2 is failed, not missing."""
    from dagster._core.storage.partition_status_cache import (
        get_and_update_asset_status_cache_value,
    )

    from pipelines.defs.sources import DAILY

    archive = tmp_path / "archive"
    good = gzip.decompress((shared_data / LITELLM).read_bytes())
    days = ["2026-03-01", "2026-03-02", "2026-03-03"]
    for day, body in zip(days, [good, b"{not json", good], strict=True):
        folder = archive / "litellm_prices" / day
        folder.mkdir(parents=True)
        (folder / "model_prices.json").write_bytes(body)
    db = tracker_env / "gpu_market.duckdb"
    key = source_asset_key("litellm_prices")
    with dg.instance_for_test() as instance:
        result = _backfill(
            [build_source_asset("litellm_prices")], instance, archive, db, days[0], days[-1]
        )
        assert not result.success
        assert instance.get_materialized_partitions(key) == {days[0], days[2]}
        status = get_and_update_asset_status_cache_value(instance, key, DAILY)
        failed = status.deserialize_failed_partition_subsets(DAILY).get_partition_keys()
        assert list(failed) == [days[1]]
    assert dict(_q(db, "select date::varchar, status from raw.load_log")) == {
        days[0]: "ok",
        days[1]: "failed",
        days[2]: "ok",
    }


def test_lambda_parser_notes_reach_the_load_log(tracker_env, tmp_path, shared_data):
    """The 2024 Lambda page prices its reserved H100 row "CONTACT SALES": not an offer, not an
    error, a note of the parser, kept in raw.load_log beside the ok load (and in the run)."""
    folder = tmp_path / "archive" / "lambda_pricing" / "2024-11-03"
    folder.mkdir(parents=True)
    (folder / "pricing.html").write_bytes((shared_data / LAMBDA_2024).read_bytes())
    db = tracker_env / "gpu_market.duckdb"
    result = dg.materialize(
        [build_source_asset("lambda_pricing")],
        partition_key="2024-11-03",
        resources={
            "tracker": TrackerResource(from_archive=str(tmp_path / "archive"), warehouse=str(db))
        },
    )
    assert result.success
    [(status, rows, message)] = _q(
        db, "select status, rows_loaded, error from raw.load_log where source = 'lambda_pricing'"
    )
    assert (status, rows) == ("ok", 17)
    assert message == (
        "notes: pricing.html: not_priced=1 (reserved Reserved 8x NVIDIA H100 SXM: CONTACT SALES)"
    )
    [event] = result.get_asset_materialization_events()
    assert event.partition == "2024-11-03"


# ----------------------------------------------------------------------------- concurrency
def page_sources_job() -> dg.JobDefinition:
    """The three page sources as one job on the multi-or-in-process executor (module level,
    so ``dg.reconstructable`` can rebuild it in each step process)."""
    assets = [build_source_asset(s) for s in PAGES]
    defs = dg.Definitions(
        assets=assets,
        jobs=[
            dg.define_asset_job(
                "page_sources",
                selection=[source_asset_key(s) for s in PAGES],
                executor_def=dg.multi_or_in_process_executor,
            )
        ],
        resources={"tracker": TrackerResource()},
    )
    return defs.resolve_job_def("page_sources")


def _delaying_server(bodies: dict[str, bytes]):
    """127.0.0.1 server: GET /<source> answers that source's capture after DELAY_SECONDS,
    recording (path, start, end) of every request."""
    seen: list[tuple[str, float, float]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            start = time.time()
            time.sleep(DELAY_SECONDS)
            body = bodies[self.path.strip("/")]
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            seen.append((self.path.strip("/"), start, time.time()))

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}", seen


def _live_config(tracker_env, url: str) -> None:
    config = tracker_env.parent / "gpu_tracker.toml"
    text = config.read_text() + (
        "\n[http]\nmax_retries = 0\nmin_interval_seconds = 0\ntimeout_seconds = 30\n"
    )
    for source in PAGES:
        text += f'\n[sources.{source}]\nenabled = true\nbase_url = "{url}/{source}"\n'
    config.write_text(text)


def _run(instance, executor: dict, day: str) -> tuple[dg.JobExecutionResult, float]:
    started = time.monotonic()
    with dg.execute_job(
        dg.reconstructable(page_sources_job),
        instance=instance,
        run_config={"execution": {"config": executor}},
        tags={"dagster/partition": day},
    ) as result:
        return result.success, time.monotonic() - started


@pytest.mark.slow
def test_source_steps_in_separate_processes_fetch_at_once_and_all_load(
    tracker_env, shared_data, capsys
):
    bodies = {s: (shared_data / p).read_bytes() for s, p in PAGES.items()}
    httpd, url, seen = _delaying_server(bodies)
    try:
        _live_config(tracker_env, url)
        day = dt.datetime.now(dt.UTC).date().isoformat()
        db = tracker_env / "gpu_market.duckdb"
        with dg.instance_for_test() as instance:
            ok, sequential = _run(instance, {"in_process": {}}, day)
            assert ok
            sequential_windows = list(seen)
            seen.clear()
            # workers fork from the forkserver and inherit its environment: one an earlier test
            # started would point them at that test's config and warehouse
            launch.run.fresh_forkserver()
            ok, concurrent = _run(instance, MULTIPROCESS, day)
            assert ok
            concurrent_windows = list(seen)
    finally:
        httpd.shutdown()
    loaded = dict(
        _q(
            db,
            "select source, count(*) from raw.load_log where status = 'ok' group by 1 order by 1",
        )
    )
    assert loaded == dict.fromkeys(sorted(PAGES), 2)  # every source, in both runs
    # in process the fetches follow one another; in separate processes they overlap
    assert _max_overlap(sequential_windows) == 1
    assert _max_overlap(concurrent_windows) >= 2
    with capsys.disabled():
        print(
            f"\n3 page sources, {DELAY_SECONDS:g} s per response: in-process {sequential:.1f} s, "
            f"multiprocess (3) {concurrent:.1f} s; fetches at once: "
            f"{_max_overlap(concurrent_windows)}; first request to last answer: "
            f"{_span(sequential_windows):.1f} s vs {_span(concurrent_windows):.1f} s"
        )


def _span(windows: list[tuple[str, float, float]]) -> float:
    return max(e for _, _, e in windows) - min(s for _, s, _ in windows)


def _max_overlap(windows: list[tuple[str, float, float]]) -> int:
    """The most requests in flight at one moment."""
    points = sorted([(s, 1) for _, s, _ in windows] + [(e, -1) for _, _, e in windows])
    live = peak = 0
    for _, step in points:
        live += step
        peak = max(peak, live)
    return peak
