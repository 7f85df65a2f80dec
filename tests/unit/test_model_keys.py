"""model_key / organization_slug: rules on real ids from OpenRouter and LiteLLM, and the join
between the two real payloads (read in place from ../shared/data)."""

from __future__ import annotations

import gzip
import json

import pytest

from pipelines.lib.model_keys import model_key, organization_slug, undated_key

OPENROUTER_0227 = "model_releases/openrouter/raw_envelope/openrouter-models_2026-02-27_gptel_eda7195a_envelope.json"
LITELLM_0606 = (
    "api_prices/litellm/model_prices_and_context_window_2026-06-06_litellm-1.88.0.json.gz"
)


@pytest.mark.parametrize(
    ("model_id", "key"),
    [
        # OpenRouter: vendor prefix and route suffixes go
        ("openai/gpt-4o", "gpt-4o"),
        ("openai/gpt-4o:extended", "gpt-4o"),
        ("anthropic/claude-3.7-sonnet:thinking", "claude-3.7-sonnet"),
        ("qwen/qwen3-coder:free", "qwen3-coder"),
        ("qwen/qwen3-coder:exacto", "qwen3-coder"),
        ("meta-llama/llama-3.1-70b-instruct", "llama-3.1-70b-instruct"),
        ("~anthropic/claude-sonnet-latest", "claude-sonnet"),
        # LiteLLM: routing prefixes go, the last path component stays
        ("gpt-4o", "gpt-4o"),
        ("azure/gpt-4o", "gpt-4o"),
        ("openrouter/openai/gpt-4o", "gpt-4o"),
        ("deepseek/deepseek-chat", "deepseek-chat"),
        ("bedrock/us-east-1/1-month-commitment/anthropic.claude-v1", "claude-v1"),
        # Bedrock ids: geo + vendor prefix, :0 revision, -vN after a date/version
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4.5-20250929"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3.5-sonnet-20241022"),
        ("anthropic.claude-opus-4-6-v1", "claude-opus-4.6"),
        ("amazon.nova-pro-v1:0", "nova-pro-v1"),
        ("anthropic.claude-v2:1", "claude-v2:1"),  # Claude 2.1 ...
        ("anthropic.claude-v2", "claude-v2"),  # ... is not Claude 2
        # Vertex's @ date separator; hyphenated version pairs become dotted
        ("vertex_ai/claude-3-5-haiku@20241022", "claude-3.5-haiku-20241022"),
        ("claude-3-5-haiku-20241022", "claude-3.5-haiku-20241022"),
        ("claude-sonnet-4-5", "claude-sonnet-4.5"),
        ("xai/grok-4-1-fast", "grok-4.1-fast"),
        ("claude-3-5-sonnet-latest", "claude-3.5-sonnet"),
        # untouched: dates, sizes, snapshots, fine-tune ids
        ("gpt-4o-2024-08-06", "gpt-4o-2024-08-06"),
        ("gpt-4-0613", "gpt-4-0613"),
        ("o3-2025-04-16", "o3-2025-04-16"),
        ("glm-4-9b-chat", "glm-4-9b-chat"),
        ("llama-2-70b-chat", "llama-2-70b-chat"),
        ("gpt-3.5-turbo", "gpt-3.5-turbo"),
        ("ft:gpt-3.5-turbo", "ft:gpt-3.5-turbo"),
        # Hugging Face / Epoch names
        ("meta-llama/Llama-3.1-8B", "llama-3.1-8b"),
        ("Claude 3.5 Sonnet", "claude-3.5-sonnet"),
        (None, ""),
        ("  ", ""),
    ],
)
def test_model_key_rules(model_id, key):
    assert model_key(model_id) == key


def test_openrouter_and_litellm_ids_share_keys():
    assert model_key("openai/gpt-4o") == model_key("gpt-4o") == model_key("azure/gpt-4o")
    assert model_key("anthropic/claude-sonnet-4.5") == model_key("claude-sonnet-4-5")
    assert model_key("x-ai/grok-4.1-fast") == model_key("xai/grok-4-1-fast")
    assert model_key("mistralai/mistral-large") == model_key("mistral/mistral-large-latest")
    # Bedrock and Anthropic's own id of the same snapshot
    assert model_key("us.anthropic.claude-sonnet-4-5-20250929-v1:0") == model_key(
        "claude-sonnet-4-5-20250929"
    )


def test_dated_snapshots_stay_apart_and_undated_key_is_explicit():
    # gpt-4o-2024-05-13 is $5/$15 while gpt-4o is $2.50/$10: one key would fake a disagreement
    assert model_key("openai/gpt-4o-2024-05-13") != model_key("openai/gpt-4o")
    assert undated_key(model_key("openai/gpt-4o-2024-05-13")) == "gpt-4o"
    assert undated_key(model_key("claude-3-7-sonnet-20250219")) == model_key(
        "anthropic/claude-3.7-sonnet"
    )
    assert undated_key("gpt-4-0613") == "gpt-4-0613"  # MMDD is not a safe date


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("openai", "openai"),
        ("Meta AI", "meta-ai"),
        ("meta-llama", "meta-llama"),
        ("vertex_ai-language-models", "vertex-ai-language-models"),
        ("~anthropic", "anthropic"),
        ("x-ai", "x-ai"),
        ("  Z.ai  ", "z-ai"),
        ("", ""),
        (None, ""),
    ],
)
def test_organization_slug(text, slug):
    assert organization_slug(text) == slug


def test_real_openrouter_models_find_litellm_counterparts(shared_data):
    openrouter = json.loads((shared_data / OPENROUTER_0227).read_bytes())["data"]
    with gzip.open(shared_data / LITELLM_0606, "rt") as fh:
        litellm = json.load(fh)
    litellm_keys = {model_key(k) for k in litellm}
    ids = [m["id"] for m in openrouter]
    matched = [i for i in ids if model_key(i) in litellm_keys]
    # 255 of the 344 OpenRouter models of 2026-02-27 have a LiteLLM 1.88.0 (2026-06-06)
    # counterpart; a raw lower-cased last path component matches only 224
    assert len(ids) == 344
    assert len(matched) == 255
    naive = {k.lower().rsplit("/", 1)[-1] for k in litellm}
    assert sum(i.lower().rsplit("/", 1)[-1] in naive for i in ids) == 224
    for must in (
        "openai/gpt-4o",
        "anthropic/claude-sonnet-4.5",
        "deepseek/deepseek-chat",
        "google/gemini-2.5-pro",
        "x-ai/grok-4.1-fast",
        "openai/gpt-4o:extended",
    ):
        assert must in matched, must
