"""Active parameters of the mixture-of-experts models the API price sources list, and the
dense families whose total parameter count *is* their active count.

A forward pass costs ``2 x N_active`` FLOPs per token. For a mixture-of-experts model the
router sends each token through a few experts, so ``N_active`` is a fraction of the total
(DeepSeek-V3: 37B of 671B). A model whose active count is not established must never be
costed as dense: ``active_parameters(key)`` returns ``None`` for it and the caller flags it
as unknown (``pipelines.lib.market._api_margin_proxy``).

``MOE_MODELS``: (regex on the tracker model key, total, active, model card). Keys come from
``pipelines.lib.model_keys.model_key`` (OpenRouter ``deepseek/deepseek-chat-v3-0324`` ->
``deepseek-chat-v3-0324``, LiteLLM ``together_ai/deepseek-ai/DeepSeek-R1`` -> ``deepseek-r1``).
Each figure is the one the model card states (checked 2026-12-01). Distilled models named
after an MoE parent (``deepseek-r1-distill-llama-70b``) are dense and excluded by the patterns.

``DENSE_FAMILIES``: (regex, evidence): families documented as dense transformers; for them the
total parameter count (from ``marts.model_releases``) is the active count. Anything in
neither table is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class MoeModel:
    pattern: str
    total: float
    active: float
    source: str


MOE_MODELS: tuple[MoeModel, ...] = (
    # DeepSeek-V3 card: "671B total parameters with 37B activated for each token" (the 685B on
    # the Hub includes the 14B multi-token-prediction module). V3.1/V3.2 keep the architecture;
    # the API's deepseek-chat / deepseek-reasoner serve them.
    MoeModel(
        r"^deepseek-v3\.1(-terminus)?$",
        671e9,
        37e9,
        "https://huggingface.co/deepseek-ai/DeepSeek-V3.1",
    ),
    MoeModel(
        r"^deepseek-v3\.2(-exp|-speciale)?$",
        671e9,
        37e9,
        "https://huggingface.co/deepseek-ai/DeepSeek-V3.2-Exp",
    ),
    MoeModel(
        r"^deepseek-(v3|chat)([.-].*)?$",
        671e9,
        37e9,
        "https://huggingface.co/deepseek-ai/DeepSeek-V3",
    ),
    MoeModel(
        r"^deepseek-(r1|reasoner)(-0528)?$",
        671e9,
        37e9,
        "https://huggingface.co/deepseek-ai/DeepSeek-R1",
    ),
    # Kimi K2: "32 billion activated parameters and 1 trillion total parameters"
    MoeModel(
        r"^kimi-k2(-instruct)?(-0711|-0905)?$",
        1e12,
        32e9,
        "https://huggingface.co/moonshotai/Kimi-K2-Instruct",
    ),
    MoeModel(
        r"^kimi-k2-thinking$", 1e12, 32e9, "https://huggingface.co/moonshotai/Kimi-K2-Thinking"
    ),
    # gpt-oss: "117B parameters with 5.1B active" / "21B parameters with 3.6B active"
    MoeModel(r"^gpt-oss-120b$", 117e9, 5.1e9, "https://huggingface.co/openai/gpt-oss-120b"),
    MoeModel(
        r"^gpt-oss(-safeguard)?-20b$", 21e9, 3.6e9, "https://huggingface.co/openai/gpt-oss-20b"
    ),
    # Qwen3 MoE: "30.5B in total and 3.3B activated"; "235B in total and 22B activated";
    # Qwen3-Coder "480B-parameter Mixture-of-Experts model with 35B active parameters";
    # Qwen3-Next "80B total parameters and only 3B activated"
    MoeModel(
        r"^qwen3-30b-a3b(-instruct|-thinking)?(-2507)?$",
        30.5e9,
        3.3e9,
        "https://huggingface.co/Qwen/Qwen3-30B-A3B",
    ),
    MoeModel(
        r"^qwen3-coder-30b-a3b(-instruct)?$",
        30.5e9,
        3.3e9,
        "https://huggingface.co/Qwen/Qwen3-Coder-30B-A3B-Instruct",
    ),
    MoeModel(
        r"^qwen3-235b-a22b(-instruct|-thinking)?(-2507)?$",
        235e9,
        22e9,
        "https://huggingface.co/Qwen/Qwen3-235B-A22B",
    ),
    MoeModel(
        r"^qwen3-coder(-480b-a35b(-instruct)?)?$",
        480e9,
        35e9,
        "https://huggingface.co/Qwen/Qwen3-Coder-480B-A35B-Instruct",
    ),
    MoeModel(
        r"^qwen3-next-80b-a3b(-instruct|-thinking)?$",
        80e9,
        3e9,
        "https://huggingface.co/Qwen/Qwen3-Next-80B-A3B-Instruct",
    ),
    # MiniMax-Text-01 / M1: "456 billion total parameters, 45.9 billion activated per token";
    # MiniMax-M2: "230 billion total parameters with 10 billion active"
    MoeModel(
        r"^minimax-(01|text-01)$", 456e9, 45.9e9, "https://huggingface.co/MiniMaxAI/MiniMax-Text-01"
    ),
    MoeModel(
        r"^minimax-m1(-40k|-80k)?$",
        456e9,
        45.9e9,
        "https://huggingface.co/MiniMaxAI/MiniMax-M1-80k",
    ),
    MoeModel(r"^minimax-m2$", 230e9, 10e9, "https://huggingface.co/MiniMaxAI/MiniMax-M2"),
    # Mixtral: "46.7B total parameters but only uses 12.9B parameters per token";
    # 8x22B: "39B active parameters out of 141B"
    MoeModel(
        r"^(open-)?mixtral-8x7b(-instruct)?(-v0\.1)?$",
        46.7e9,
        12.9e9,
        "https://mistral.ai/news/mixtral-of-experts",
    ),
    MoeModel(
        r"^(open-)?mixtral-8x22b(-instruct)?(-v0\.1)?$",
        141e9,
        39e9,
        "https://mistral.ai/news/mixtral-8x22b",
    ),
    # Llama 4: Scout 17B active / 109B total (16 experts), Maverick 17B active / 400B total
    MoeModel(
        r"^llama-4-scout(-17b-16e(-instruct)?)?$",
        109e9,
        17e9,
        "https://huggingface.co/meta-llama/Llama-4-Scout-17B-16E-Instruct",
    ),
    MoeModel(
        r"^llama-4-maverick(-17b-128e(-instruct)?(-fp8)?)?$",
        400e9,
        17e9,
        "https://huggingface.co/meta-llama/Llama-4-Maverick-17B-128E-Instruct",
    ),
    # GLM-4.5: "355 billion total parameters and 32 billion active"; Air "106B / 12B"
    MoeModel(r"^glm-4\.5$", 355e9, 32e9, "https://huggingface.co/zai-org/GLM-4.5"),
    MoeModel(r"^glm-4\.6$", 355e9, 32e9, "https://huggingface.co/zai-org/GLM-4.6"),
    MoeModel(r"^glm-4\.5-air$", 106e9, 12e9, "https://huggingface.co/zai-org/GLM-4.5-Air"),
)

DENSE_FAMILIES: tuple[tuple[str, str], ...] = (
    (
        r"^(meta-)?llama-?(2|3|3\.1|3\.2|3\.3)-",
        ("Llama 2/3 papers: standard dense Transformer (https://arxiv.org/abs/2407.21783)"),
    ),
    (r"^(hermes-3-llama-3\.1|llama-3\.1-nemotron)-\d+b", "fine-tunes of dense Llama 3.1"),
    (
        r"^deepseek-r1-distill-(llama|qwen)-\d+(\.\d+)?b$",
        (
            "distilled into dense Llama/Qwen bases "
            "(https://huggingface.co/deepseek-ai/DeepSeek-R1-Distill-Llama-70B)"
        ),
    ),
    (
        r"^qwen3-(0\.6|1\.7|4|8|14|32)b$",
        ("Qwen3 release: six dense models 0.6B-32B (https://qwenlm.github.io/blog/qwen3/)"),
    ),
    (
        r"^mistral-7b(-instruct)?(-v0\.\d)?$",
        "Mistral 7B (https://mistral.ai/news/announcing-mistral-7b)",
    ),
)

_MOE = [(re.compile(m.pattern), m) for m in MOE_MODELS]
_DENSE = [(re.compile(p), why) for p, why in DENSE_FAMILIES]


def moe_model(key: str) -> MoeModel | None:
    """The table entry of a mixture-of-experts model key, or None."""
    return next((m for rx, m in _MOE if rx.match(key or "")), None)


def dense_evidence(key: str) -> str | None:
    """Why ``key`` is a dense model (its total = active parameters), or None if not established."""
    if moe_model(key) is not None:
        return None
    return next((why for rx, why in _DENSE if rx.match(key or "")), None)
