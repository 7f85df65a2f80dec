"""Typed settings (pipelines.lib.settings, pipelines.lib.config): the shipped gpu_tracker.toml
validates and says the defaults; every kind of mistake is refused in one line naming the file,
the section and the key; environment overrides and the resource's warehouse override resolve
the same way; the resource reads the config once per run."""

import importlib
import tomllib
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from pipelines.cli import main as cli
from pipelines.defs import resources
from pipelines.defs.resources import TrackerResource
from pipelines.lib import registry, settings
from pipelines.lib.config import REPO_ROOT, ConfigError, load_config, validate
from pipelines.lib.settings import as_data, settings_model

SHIPPED = REPO_ROOT / "gpu_tracker.toml"

# Values the shipped file sets on purpose to something other than the default (its comments
# say so); every other value written there must equal the default.
DEPLOYMENT_CHOICES = {
    ("economics", "model_active_params"),
    ("economics", "model_active_params_source"),
    ("api_families", "DeepSeek V3"),
}


@pytest.fixture
def no_env(monkeypatch):
    for name in (
        "GPU_TRACKER_CONFIG",
        "GPU_TRACKER_WAREHOUSE",
        "GPU_TRACKER_ARCHIVE",
        "GPU_TRACKER_PUBLISHED",
        "DAGSTER_HOME",
    ):
        monkeypatch.delenv(name, raising=False)


def _leaves(table: dict[str, Any], path: tuple[str, ...] = ()):
    for key, value in table.items():
        if isinstance(value, dict) and value:
            yield from _leaves(value, (*path, key))
        else:
            yield (*path, key), value


def _at(data: dict[str, Any], path: tuple[str, ...]) -> Any:
    for part in path:
        data = data[part]
    return data


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "gpu_tracker.toml"
    path.write_text(text)
    return path


# ------------------------------------------------------------------------- shipped file


def test_shipped_config_validates_and_every_key_is_a_known_field():
    shipped = tomllib.loads(SHIPPED.read_text())
    config = load_config(SHIPPED)
    assert config.settings.sources["sec_edgar"].enabled is False
    for path, _ in _leaves(shipped):
        # a key the models do not know would have been refused; this also proves it reached
        # the typed settings (not dropped), including free-form tables (api_families)
        node: Any = config.settings
        for part in path:
            node = node[part] if isinstance(node, dict) else getattr(node, part)


def test_shipped_config_values_are_the_defaults_unless_marked_as_a_choice():
    defaults = as_data(settings_model()())
    shipped = tomllib.loads(SHIPPED.read_text())
    differing = {
        path
        for path, value in _leaves(shipped)
        if path[0] != "paths" and not any(path[: len(c)] == c for c in DEPLOYMENT_CHOICES)
        if _at(defaults, path) != value
    }
    assert differing == set()
    # and the marked choices really differ (else the mark is stale)
    for choice in DEPLOYMENT_CHOICES:
        assert _at(shipped, choice) != _at(defaults, choice)


def test_source_models_take_their_defaults_from_the_spec():
    sources = settings_model()().sources
    for sid, spec in registry.specs().items():
        assert as_data(sources[sid]) == spec.defaults, sid
    assert sources.ids() == registry.ids()


def test_keys_not_in_a_spec_are_keys_its_module_reads():
    for sid, keys in settings.UNDECLARED_SOURCE_KEYS.items():
        text = Path(registry.module(sid).__file__).read_text()
        for key in keys:
            assert f'"{key}"' in text, (sid, key)
    got = validate({"sources": {"sec_edgar": {"user_agent": "Jane jane@example.org"}}}, "t")
    assert got.sources["sec_edgar"].user_agent == "Jane jane@example.org"
    # unset, it is absent from data, so the module's own fallback (the environment) applies
    assert "user_agent" not in as_data(settings_model()())["sources"]["sec_edgar"]


# Other modules that still hold their own copy of a section's defaults (module, name, section,
# how to read the copy); they are being moved in #11, so each is looked for where it may live.
OTHER_COPIES = [
    ("pipelines.lib.alerts", "DEFAULT_ALERT_CONFIG", "alerts", None),
    ("pipelines.lib.alerts.config", "DEFAULT_ALERT_CONFIG", "alerts", None),
    ("pipelines.lib.market", "ECONOMICS_DEFAULTS", "economics", None),
    ("pipelines.lib.analytics.indicators", "ECONOMICS_DEFAULTS", "economics", None),
    ("pipelines.lib.cost_model", "DEFAULTS", "estimate", None),
    ("pipelines.lib.serving", "DEFAULT_SCENARIO", "serving", "scenario"),
    ("pipelines.lib.analytics.serving_benchmarks", "DEFAULT_SCENARIO", "serving", "scenario"),
    ("pipelines.lib.analytics.api_prices", "DEFAULT_API_FAMILIES", "api_families", None),
]


def test_defaults_agree_with_the_copies_other_modules_still_hold():
    """Drift guard while other modules keep their own copy of a default."""
    defaults = as_data(settings_model()())
    checked = []
    for module_name, name, section, key in OTHER_COPIES:
        try:
            copy = getattr(importlib.import_module(module_name), name)
        except (ImportError, AttributeError):
            continue  # moved or removed: nothing left to drift there
        expected = defaults[section] if key is None else defaults[section][key]
        assert copy == expected, f"{module_name}.{name} != settings [{section}]"
        checked.append(name)
    if not checked:
        pytest.skip("no other copy of a default left: this guard can go")


# ------------------------------------------------------------------------------ refusals


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[sources.lambda_pricing]\nbase_ulr = "https://x"\n',
            "[sources.lambda_pricing] unknown key 'base_ulr' (did you mean 'base_url'?)",
        ),
        ("[sources.lambda_pricng]\nenabled = true\n", "unknown source [sources.lambda_pricng]"),
        ("[htp]\ntimeout_seconds = 3\n", "unknown section [htp] (did you mean 'http'?)"),
        ("[alerts.rules.new]\nthreshold = 3\n", "[alerts.rules.new] unknown key 'threshold'"),
        ('[http]\ntimeout_seconds = "30"\n', "[http] 'timeout_seconds': expected a number"),
        ("[http]\ntimeout_seconds = true\n", "[http] 'timeout_seconds': expected a number"),
        ("[http]\nmax_retries = 1.5\n", "[http] 'max_retries': input should be a valid integer"),
        ('[sources.runpod]\nenabled = "yes"\n', "[sources.runpod] 'enabled': input should be"),
        ("[sources.azure_retail]\nregions = [1]\n", "[sources.azure_retail] 'regions[0]':"),
        ("http = 5\n", "'http' must be a table"),
        ("[economics.build_cost_usd]\nH100 = 'x'\n", "[economics.build_cost_usd] 'H100':"),
        ("[http\n", "gpu_tracker.toml: "),  # not TOML at all
    ],
)
def test_a_mistake_is_one_line_naming_file_section_and_key(tmp_path, no_env, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_cli_prints_the_one_line_and_exits_2(tmp_path, no_env, monkeypatch, capsys):
    path = _write(tmp_path, '[sources.lambda_pricing]\nbase_ulr = "https://x"\n')
    monkeypatch.setenv("GPU_TRACKER_CONFIG", str(path))
    assert cli(["sources"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    err = captured.err.strip().splitlines()
    assert len(err) == 1
    assert f"{path}: [sources.lambda_pricing] unknown key 'base_ulr'" in err[0]


def test_with_source_validates_the_replacement(tmp_path, no_env):
    config = load_config(_write(tmp_path, ""))
    shrunk = config.with_source("azure_retail", {**config.source("azure_retail"), "max_pages": 1})
    assert shrunk.settings.sources["azure_retail"].max_pages == 1
    assert shrunk.source("azure_retail")["max_pages"] == 1
    assert config.source("azure_retail")["max_pages"] == 200  # the original is untouched
    with pytest.raises(ConfigError, match="unknown key 'pages'"):
        config.with_source("azure_retail", {"pages": 1})


# ---------------------------------------------------------------- data view and merging


def test_data_is_the_settings_with_every_default_filled_in(tmp_path, no_env):
    config = load_config(_write(tmp_path, "[http]\nmax_backoff_seconds = 2\n"))
    assert config.data == as_data(config.settings)
    assert config.http["max_backoff_seconds"] == 2 and config.http["max_retries"] == 4
    assert config.data["alerts"]["rules"]["source_health"]["max_age_hours"] == 36  # int kept
    assert config.data["schedule"]["fetch_retries"] == 2
    assert config.enabled_sources() == config.settings.sources.enabled()


def test_a_table_valued_source_key_overrides_entries_not_the_table(tmp_path, no_env):
    config = load_config(
        _write(tmp_path, '[sources.mlperf_inference]\nrounds = { "v9.9" = "https://x/s.csv" }\n')
    )
    rounds = config.settings.sources["mlperf_inference"].rounds
    assert rounds["v9.9"] == "https://x/s.csv"
    assert set(registry.spec("mlperf_inference").defaults["rounds"]) < set(rounds)


# ------------------------------------------------------------------ environment overrides


def test_environment_overrides_resolve_paths(tmp_path, no_env, monkeypatch):
    path = _write(tmp_path, '[paths]\npublished = "pub"\narchive = "arch"\n')
    plain = load_config(path)
    assert plain.warehouse_path == tmp_path / "warehouse" / "gpu_market.duckdb"
    assert plain.published_dir == tmp_path / "pub" and plain.archive_dir == tmp_path / "arch"
    monkeypatch.setenv("GPU_TRACKER_WAREHOUSE", "")  # empty = unset
    assert load_config(path).warehouse_path == plain.warehouse_path
    monkeypatch.setenv("GPU_TRACKER_WAREHOUSE", str(tmp_path / "elsewhere" / "w.duckdb"))
    moved = load_config(path)
    assert moved.warehouse_path == tmp_path / "elsewhere" / "w.duckdb"
    assert moved.published_dir == tmp_path / "elsewhere" / "published"  # not the checkout's
    monkeypatch.setenv("GPU_TRACKER_PUBLISHED", str(tmp_path / "p2"))
    monkeypatch.setenv("GPU_TRACKER_ARCHIVE", str(tmp_path / "a2"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "dh"))
    env = load_config(path)
    assert (env.published_dir, env.archive_dir, env.dagster_home) == (
        tmp_path / "p2",
        tmp_path / "a2",
        tmp_path / "dh",
    )
    monkeypatch.setenv("GPU_TRACKER_CONFIG", str(path))
    assert load_config().config_path == path
    monkeypatch.setenv("GPU_TRACKER_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(FileNotFoundError, match="GPU_TRACKER_CONFIG="):
        load_config()


@pytest.mark.parametrize("target", ["ducklake:lake/catalog.ducklake", "moved/w.duckdb"])
def test_resource_warehouse_override_resolves_like_the_environment(
    tmp_path, no_env, monkeypatch, target
):
    path = _write(tmp_path, "")
    by_resource = TrackerResource(config_path=str(path), warehouse=target).load()
    monkeypatch.setenv("GPU_TRACKER_WAREHOUSE", target)
    by_env = load_config(path)
    assert by_resource.warehouse_path == by_env.warehouse_path
    assert by_resource.published_dir == by_env.published_dir
    assert by_resource.warehouse_path.is_relative_to(tmp_path)  # relative to the config file
    assert "ducklake:" not in str(by_resource.warehouse_path)


def test_resource_reads_the_config_once_per_run(tracker_env, monkeypatch):
    reads = []

    def counting(*args, **kwargs):
        reads.append(args)
        return load_config(*args, **kwargs)

    monkeypatch.setattr(resources, "load_config", counting)

    @dg.asset
    def reads_config(tracker: TrackerResource) -> int:
        tracker.load(), tracker.db_path()
        return tracker.settings.http.max_retries

    result = dg.materialize([reads_config], resources={"tracker": TrackerResource()})
    assert result.success and result.output_for_node("reads_config") == 4
    assert len(reads) == 1
    assert set(resources.tracker_resources().resources) == {"tracker"}
