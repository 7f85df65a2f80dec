"""One join key for a model across OpenRouter, LiteLLM, Hugging Face and Epoch AI.

The sources name the same model differently:

* OpenRouter: ``vendor/slug[:route]`` -- ``openai/gpt-4o``, ``anthropic/claude-3.7-sonnet:thinking``,
  ``qwen/qwen3-coder:free``; the route suffix picks a *variant of the route* (free tier,
  extended context, reasoning on, provider sort), not another model.
* LiteLLM: a bare API id (``gpt-4o``, ``claude-3-7-sonnet-20250219``) or one behind routing
  prefixes (``azure/gpt-4o``, ``openrouter/openai/gpt-4o``, ``vertex_ai/claude-3-5-haiku@20241022``,
  ``bedrock/us-east-1/1-month-commitment/anthropic.claude-v1``, ``us.anthropic.claude-sonnet-4-5-20250929-v1:0``).
* Hugging Face: ``org/Name`` with capitals (``meta-llama/Llama-3.1-8B``); Epoch AI: display
  names with spaces (``Claude 3.5 Sonnet``).

``model_key(model_id)`` applies, in order:

1. lower-case, trim, whitespace runs -> ``-`` (Epoch display names);
2. keep the **last path component** (drops ``vendor/`` and every LiteLLM routing prefix:
   ``openrouter/openai/gpt-4o`` -> ``gpt-4o``);
3. drop an OpenRouter **route suffix** ``:free :thinking :extended :beta :nitro :floor
   :online :exacto`` (a closed list: other ``:x`` tails such as Bedrock's ``:1`` revision or
   ``ft:`` fine-tune ids are identity, not routing);
4. **Bedrock ids** (``[geo.]vendor.model[-vN][:0]``): drop the geo prefix (us. eu. apac. au.
   jp. ca. global. us-gov.) and the ``vendor.`` prefix, the ``:0`` first revision, and a
   ``-vN`` that follows a date or version digit (``claude-3-5-sonnet-20241022-v2:0`` is
   Anthropic's ``claude-3-5-sonnet-20241022``; ``nova-pro-v1`` keeps its ``-v1``, which is
   part of the name on OpenRouter too). ``:1`` and later revisions are kept:
   ``anthropic.claude-v2:1`` is Claude 2.1, not Claude 2;
5. Vertex's ``@`` date separator -> ``-`` (``claude-3-5-haiku@20241022`` ->
   ``claude-3-5-haiku-20241022``, Anthropic's own id);
6. a single-digit version pair written with a hyphen becomes dotted when it is followed by
   ``-`` or the end: ``claude-3-5-sonnet`` -> ``claude-3.5-sonnet``, ``claude-sonnet-4-5`` ->
   ``claude-sonnet-4.5``, ``grok-4-1-fast`` -> ``grok-4.1-fast`` (Anthropic, Bedrock and xAI
   ids write versions with hyphens where OpenRouter writes dots). Dates (``2024-08-06``,
   ``-0613``) and sizes (``glm-4-9b``, ``gemma-3-4b``) are untouched: the digits must stand
   alone and the second must not be followed by a letter or digit. Dots are the canonical
   form (not hyphens) because the rest of the project matches keys like ``llama-3.1-70b``;
7. drop the ``-latest`` alias suffix (``mistral-large-latest`` is what OpenRouter calls
   ``mistralai/mistral-large``; ``chatgpt-4o-latest`` becomes ``chatgpt-4o`` on both sides).

**Dated snapshot suffixes are kept** (``-20240620``, ``-2024-08-06``). Stripping them is not
safe: a dated snapshot is often priced apart from the undated alias -- ``gpt-4o-2024-05-13``
is $5/$15 per 1M tokens while ``gpt-4o`` (= ``-2024-08-06``) is $2.50/$10, both on OpenRouter and
in LiteLLM -- so one key for both would turn a correct price into a fake 100% disagreement.
``undated_key`` strips them for callers that want a looser, lossy family match (e.g. to pair
OpenRouter's undated ``claude-3.7-sonnet`` with LiteLLM's ``claude-3-7-sonnet-20250219``).

``organization_slug(text)``: lower-case letters, digits and single hyphens
(``Meta AI`` -> ``meta-ai``, ``vertex_ai-language-models`` -> ``vertex-ai-language-models``).
"""

from __future__ import annotations

import re

ROUTE_SUFFIXES = frozenset(
    {"free", "thinking", "extended", "beta", "nitro", "floor", "online", "exacto"}
)
BEDROCK_GEOS = ("us-gov", "global", "apac", "us", "eu", "au", "jp", "ca")

_BEDROCK = re.compile(
    r"^(?:(?:" + "|".join(re.escape(g) for g in BEDROCK_GEOS) + r")\.)?"
    r"(?P<vendor>[a-z][a-z0-9-]{1,20})\.(?P<rest>[a-z].*)$"
)
_BEDROCK_REVISION = re.compile(r"(-v\d+):0$")
_BEDROCK_VERSION_AFTER_DIGIT = re.compile(r"(?<=\d)-v\d+$")
_VERSION_PAIR = re.compile(r"(?<![\d.])(\d)-(\d)(?=-|$)")
_DATE_SUFFIX = re.compile(r"-(?:20\d{6}|20\d\d-\d\d-\d\d)$")
_NOT_SLUG = re.compile(r"[^a-z0-9]+")


def model_key(model_id: str | None) -> str:
    """The cross-source join key of ``model_id`` (see the module docstring); "" for None/blank."""
    if model_id is None:
        return ""
    key = re.sub(r"\s+", "-", str(model_id).strip().lower())
    key = key.rstrip("/").rsplit("/", 1)[-1]
    head, sep, tail = key.rpartition(":")
    if sep and head and tail in ROUTE_SUFFIXES:
        key = head
    bedrock = _BEDROCK.match(key)
    if bedrock:
        key = bedrock.group("rest")
    revision = _BEDROCK_REVISION.search(key)
    if revision:
        key = key[: revision.start()] + revision.group(1)
    if bedrock or revision:
        key = _BEDROCK_VERSION_AFTER_DIGIT.sub("", key)
    key = key.replace("@", "-")
    key = _VERSION_PAIR.sub(r"\1.\2", key)
    if key.endswith("-latest") and len(key) > len("-latest"):
        key = key[: -len("-latest")]
    return key


def undated_key(key: str) -> str:
    """``key`` without a trailing dated-snapshot suffix (``-20250219``, ``-2024-08-06``).
    Lossy: merges snapshots that may be priced differently (see the module docstring)."""
    return _DATE_SUFFIX.sub("", key)


def organization_slug(text: str | None) -> str:
    """Lower-case slug of letters, digits and single hyphens; "" for None/blank."""
    if text is None:
        return ""
    return _NOT_SLUG.sub("-", str(text).strip().lower()).strip("-")


# ----------------------------------------------------------------------------- benchmarks
# Serving benchmarks (MLPerf Inference) name the model they run by benchmark, with an
# accuracy target suffix (``-99`` / ``-99.9``: the same model held to 99% or 99.9% of the
# reference accuracy). Each benchmark runs one published checkpoint; its tracker key is the
# ``model_key`` of that checkpoint's API id, so serving cost joins ``api_prices_daily``.
# Sources: the MLPerf Inference reference implementations (mlcommons/inference, README of
# each benchmark: Llama-2-70b-chat-hf, Llama-3.1-8B/405B-Instruct, Mixtral-8x7B-Instruct-v0.1,
# DeepSeek-R1, gpt-oss-120b, GPT-J 6B fine-tuned on CNN-DailyMail).
BENCHMARK_MODELS: dict[str, str] = {
    "llama2-70b": "llama-2-70b-chat",
    "llama3.1-8b": "llama-3.1-8b-instruct",
    "llama3.1-8b-edge": "llama-3.1-8b-instruct",  # the edge suite runs the same checkpoint
    "llama3.1-405b": "llama-3.1-405b-instruct",
    "mixtral-8x7b": "mixtral-8x7b-instruct",
    "deepseek-r1": "deepseek-r1",
    "gpt-oss-120b": "gpt-oss-120b",
    "gptj": "gpt-j-6b",
}
_ACCURACY_TARGET = re.compile(r"^(?P<base>.+?)-(?P<target>99(?:\.9)?)$")


def benchmark_model(name: str | None) -> tuple[str, str | None, str | None]:
    """``(benchmark base name, accuracy target, tracker model key)`` of a benchmark model
    name: ``llama2-70b-99.9`` -> ``("llama2-70b", "99.9", "llama-2-70b-chat")``. The key is
    None for a benchmark the table does not know (the caller flags it; no guessing)."""
    text = re.sub(r"\s+", "", str(name or "")).lower().replace("_", ".")
    m = _ACCURACY_TARGET.match(text)
    base, target = (m.group("base"), m.group("target")) if m else (text, None)
    return base, target, BENCHMARK_MODELS.get(base)
