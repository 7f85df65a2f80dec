"""Typed settings: one pydantic model per section of ``gpu_tracker.toml``, validated once.

Every section the tracker reads has a model here, and each model's field defaults are *the*
defaults of that section (a source's defaults are its ``SPEC.defaults``: its model is built
from them, see ``source_model``). Unknown keys and wrong types are refused with one line that
names the file, the section and the key (``ConfigError``, a ``ValueError``, which the CLI
prints as one line and exits 2)::

    gpu_tracker.toml: [sources.lambda_pricing] unknown key 'base_ulr' (did you mean 'base_url'?)

Types are strict: TOML has real booleans, integers and strings, so ``enabled = "yes"`` or
``timeout_seconds = "30"`` is a mistake to report, not to coerce. A number field takes an
integer or a float and keeps what was written (``36`` stays ``36``: messages print it).

The environment overrides of the configuration live here too, in one model (``Environment``);
secrets never do (``pipelines.lib.config.secret`` reads them and registers them for
redaction). Nothing is read at import time: ``Environment()`` reads the environment when it is
built, ``settings_model()`` imports the source registry when first called.

``pipelines.lib.config`` reads the file, validates it against ``settings_model()`` (and says
what is wrong in one line) and derives the paths; this module is only the schema.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConfigError(ValueError):
    """The config file (or the environment) does not validate; the message is one line."""


def _number(value: Any) -> int | float:
    # bool is an int in Python, but ``timeout_seconds = true`` is a mistake, not 1
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expected a number")
    return value


Number = Annotated[int | float, PlainValidator(_number)]
Pair = Annotated[list[str], Field(min_length=2, max_length=2)]


class Section(BaseModel):
    """A table of the config file: its keys are exactly the fields, with their types."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


# ------------------------------------------------------------------------------ sections


class PathsSettings(Section):
    """``[paths]``: unset means derived from the warehouse's folder (see ``config``)."""

    warehouse: str | None = None
    archive: str | None = None
    published: str | None = None
    dagster_home: str | None = None


class ScheduleSettings(Section):
    cron: str = "0 6 * * *"
    timezone: str = "UTC"
    fetch_retries: int = 2  # Dagster re-runs a source step whose live fetch failed ...
    fetch_retry_seconds: Number = 60  # ... after this long (HTTP-level retries happen first)


class HttpSettings(Section):
    user_agent: str = "gpu-market-tracker/0.1 (open GPU price tracker; set a contact address here)"
    timeout_seconds: Number = 30
    max_retries: int = 4
    backoff_seconds: Number = 2.0
    max_backoff_seconds: Number = 60.0
    min_interval_seconds: Number = 1.0  # per host
    max_response_bytes: int = 64 * 1024 * 1024
    deadline_seconds: Number = 120  # wall clock per fetch (attempts, waits and body)
    preflight_seconds: Number = 10  # reachability check of the source hosts before a live run


class EstimateSettings(Section):
    mfu: Number = 0.4
    precision: str = "bf16"


class ServingSettings(Section):
    scenario: str = "Offline"  # the MLPerf scenario serving costs are measured in


class EconomicsSettings(Section):
    """``[economics]``: the NVIDIA-margin indicators' assumptions, each with its source."""

    utilization: Number = 0.7
    utilization_source: str = (
        "assumption: a well-run rental fleet bills ~70% of hours (planning figure)"
    )
    useful_life_years: Number = 5.0
    useful_life_source: str = (
        "assumption: hyperscalers depreciate servers over 5-6 years (10-K filings)"
    )
    mfu_inference: Number = 0.3
    mfu_inference_source: str = "assumption: batched serving sustains ~30% of dense peak"
    reference_gpu: str = "H100-SXM-80GB"
    precision: str = "bf16"
    nvidia_gpus: list[str] = ["H100-SXM-80GB", "H200-SXM-141GB", "B200-180GB"]
    amd_gpus: list[str] = ["MI300X-192GB", "MI325X-256GB", "MI355X-288GB"]
    custom_silicon: list[str] = [
        "TPUV5E-16GB",
        "TPUV5P-95GB",
        "TPUV6E-32GB",
        "TRAINIUM-32GB",
        "TRAINIUM2-96GB",
        "INFERENTIA2-32GB",
    ]
    generation_pairs: list[Pair] = [
        ["B200-180GB", "H100-SXM-80GB"],
        ["H200-SXM-141GB", "H100-SXM-80GB"],
        ["H100-SXM-80GB", "A100-SXM-80GB"],
    ]
    build_cost_usd: dict[str, Number] = {"H100-SXM-80GB": 3320.0, "B200-180GB": 6400.0}
    build_cost_source: str = (
        "published analyst estimates of NVIDIA's manufacturing cost (DOMAIN.md): "
        "~$3,320 per H100, ~$6,400 per B200"
    )
    purchase_price_usd: dict[str, Number] = {
        "H100-SXM-80GB": 27500.0,
        "H200-SXM-141GB": 32000.0,
        "B200-180GB": 37500.0,
        "A100-SXM-80GB": 15000.0,
        "MI300X-192GB": 15000.0,
    }
    purchase_price_source: str = (
        "assumption: mid-points of reported street prices (H100 $25-30k, H200 ~$32k, "
        "B200 $35-40k, A100 80GB ~$15k, MI300X ~$10-20k)"
    )
    model_active_params: dict[str, Number] = {}
    model_active_params_source: str = "model cards (see config)"


# ``[api_families]``: label = regular expression on model_key (marts.api_price_families)
DEFAULT_API_FAMILIES: dict[str, str] = {
    "GPT-4o": r"^gpt-4o(-20\d\d-\d\d-\d\d)?$",
    "GPT-4o mini": r"^gpt-4o-mini(-20\d\d-\d\d-\d\d)?$",
    "Claude 3.5 Sonnet": r"^claude-3[.-]5-sonnet",
    "Llama 3.1 70B": r"llama-3\.1-70b",
    "Llama 3.1 8B": r"llama-3\.1-8b",
    "DeepSeek V3": r"deepseek-(v3|chat)$",
}


# ------------------------------------------------------------------------------- alerts


class Rule(Section):
    enabled: bool = True


class PriceMoveRule(Rule):
    threshold_pct: Number = 10.0


class AvailabilityRule(Rule):
    drop_pct: Number = 50.0


class NewRule(Rule):
    watched_organizations: list[str] = [
        "openai",
        "anthropic",
        "google",
        "meta-llama",
        "deepseek",
        "deepseek-ai",
        "mistralai",
        "qwen",
        "x-ai",
        "nvidia",
    ]
    api_price_cut_pct: Number = 20.0


class SourceHealthRule(Rule):
    max_age_hours: Number = 36
    ignore_modes: list[str] = ["import"]


class ServingCostMoveRule(Rule):
    threshold_pct: Number = 10.0
    margin_threshold_pct: Number = 10.0


class AlertRules(Section):
    provider_price_move: PriceMoveRule = Field(default_factory=PriceMoveRule)
    market_price_move: PriceMoveRule = Field(default_factory=PriceMoveRule)
    availability: AvailabilityRule = Field(default_factory=AvailabilityRule)
    new: NewRule = Field(default_factory=NewRule)
    source_health: SourceHealthRule = Field(default_factory=SourceHealthRule)
    serving_cost_move: ServingCostMoveRule = Field(default_factory=ServingCostMoveRule)


class FlapSettings(Section):
    window_days: int = 14
    min_reversals: int = 3


class WebhookSettings(Section):
    # the URL is a secret: GPU_TRACKER_WEBHOOK_URL (environment) overrides it
    url: str = ""
    timeout_seconds: Number = 10  # per socket operation
    deadline_seconds: Number = 30  # the whole delivery, wall clock
    resend_unknown: bool = False


class EmailSettings(Section):
    host: str = ""  # empty: no e-mail
    port: int = 587
    starttls: bool = True
    ssl: bool = False
    username: str = ""  # the password comes from GPU_TRACKER_SMTP_PASSWORD
    from_addr: str = ""
    to: list[str] = []
    timeout_seconds: Number = 10
    deadline_seconds: Number = 60


class AlertsSettings(Section):
    rules: AlertRules = Field(default_factory=AlertRules)
    flap: FlapSettings = Field(default_factory=FlapSettings)
    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)


# ------------------------------------------------------------------------------ sources


class SourceSettings(Section):
    """The keys every ``[sources.<id>]`` has; each source's model adds its SPEC's other keys."""

    enabled: bool = True
    base_url: str = ""


class SourcesSettings(Section):
    """``[sources]``: one field per declared source (see ``settings_model``)."""

    def __getitem__(self, source_id: str) -> SourceSettings:
        if source_id not in type(self).model_fields:
            raise KeyError(f"unknown source {source_id!r}")
        return getattr(self, source_id)

    def ids(self) -> list[str]:
        return list(type(self).model_fields)

    def enabled(self) -> list[str]:
        return [sid for sid in self.ids() if self[sid].enabled]


# Keys a source module reads that its SPEC.defaults does not declare (so they have no default
# here: the module's own fallback applies when they are unset). They belong in SPEC.defaults;
# once there, the entry here is redundant and should go.
UNDECLARED_SOURCE_KEYS: dict[str, dict[str, Any]] = {
    "huggingface": {"pipeline_tag": str, "sort": str, "limit": int},
    "sec_edgar": {"user_agent": str},
}


def _annotation(value: Any) -> Any:
    """The type of a SPEC default value, so a config value of another type is refused."""
    if isinstance(value, bool):
        return bool
    if isinstance(value, int):
        return int
    if isinstance(value, float):
        return Number
    if isinstance(value, str):
        return str
    if isinstance(value, list | tuple):
        inner = {_annotation(v) for v in value}
        return list[inner.pop()] if len(inner) == 1 else list[Any]
    if isinstance(value, dict):
        inner = {_annotation(v) for v in value.values()}
        return dict[str, inner.pop()] if len(inner) == 1 else dict[str, Any]
    return Any


def _model_name(source_id: str) -> str:
    return "".join(part.title() for part in source_id.split("_")) + "Settings"


def source_model(source_id: str, defaults: dict[str, Any]) -> type[SourceSettings]:
    """``[sources.<id>]``'s model: the common keys, plus one field per SPEC default (typed by
    its value), plus the keys in ``UNDECLARED_SOURCE_KEYS`` (optional, no default)."""
    fields: dict[str, Any] = {
        key: (_annotation(value), Field(default=value)) for key, value in defaults.items()
    }
    for key, kind in UNDECLARED_SOURCE_KEYS.get(source_id, {}).items():
        fields.setdefault(key, (kind | None, None))
    return create_model(_model_name(source_id), __base__=SourceSettings, **fields)


class Settings(Section):
    """The whole config file. ``sources`` is replaced by the registry's sources in
    ``settings_model()``; validate through ``validate`` (or ``config.load_config``)."""

    paths: PathsSettings = Field(default_factory=PathsSettings)
    schedule: ScheduleSettings = Field(default_factory=ScheduleSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)
    estimate: EstimateSettings = Field(default_factory=EstimateSettings)
    serving: ServingSettings = Field(default_factory=ServingSettings)
    economics: EconomicsSettings = Field(default_factory=EconomicsSettings)
    api_families: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_API_FAMILIES))
    alerts: AlertsSettings = Field(default_factory=AlertsSettings)
    sources: SourcesSettings = Field(default_factory=SourcesSettings)


@cache
def settings_model() -> type[Settings]:
    """``Settings`` with one ``[sources.<id>]`` model per source of the registry (cached: the
    registry is fixed for the life of the process)."""
    from pipelines.lib import registry  # late: the registry imports every source module

    per_source = {
        sid: (model, Field(default_factory=model))
        for sid, spec in registry.specs().items()
        for model in [source_model(sid, spec.defaults)]
    }
    sources = create_model("RegisteredSources", __base__=SourcesSettings, **per_source)
    return create_model(
        "TrackerSettings", __base__=Settings, sources=(sources, Field(default_factory=sources))
    )


def as_data(settings: Settings) -> dict[str, Any]:
    """The settings as the plain dict ``Config.data`` carries (unset optional keys left out,
    so a caller's ``.get(key)`` and a source's own fallback still see them as absent)."""
    return settings.model_dump(exclude_none=True)


# -------------------------------------------------------------------------- environment


class Environment(BaseSettings):
    """The environment variables that override the configuration, read when built. An empty
    value counts as unset. Secrets are not here (``config.secret``)."""

    model_config = SettingsConfigDict(extra="ignore", env_ignore_empty=True, frozen=True)

    config: str = Field("", validation_alias="GPU_TRACKER_CONFIG")  # the config file
    warehouse: str = Field("", validation_alias="GPU_TRACKER_WAREHOUSE")  # file or ducklake:
    archive: str = Field("", validation_alias="GPU_TRACKER_ARCHIVE")  # raw payload archive
    published: str = Field("", validation_alias="GPU_TRACKER_PUBLISHED")  # published files
    dagster_home: str = Field("", validation_alias="DAGSTER_HOME")  # Dagster's instance
