"""Token counts when the server sends none, and what a reply costs.

Many OpenAI-compatible servers send no usage chunk. We then estimate, and say so:
an exact count would need the model's own tokenizer, which is not always known and
(for tiktoken) is downloaded at first use — not something a chat UI should do on
the hot path or offline. The estimate follows OpenAI's rule of thumb (about four
characters of English per token) and counts each non-ASCII character as most of a
token, which keeps CJK and emoji from being undercounted badly. It runs at C speed:
the sidebar's context budget counts the whole conversation on every slider move.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Per-message framing tokens in the chat format (OpenAI cookbook: "3 per message,
# plus 3 to prime the reply").
_PER_MESSAGE = 3
_REPLY_PRIMING = 3


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text`` (0 for empty text)."""
    if not text:
        return 0
    # UTF-8 length is computed in C; each byte beyond the first of a character (CJK: 2,
    # emoji: 3) adds 0.4, so a CJK character counts about one token.
    extra_bytes = len(text.encode("utf-8", "surrogatepass")) - len(text)
    return max(1, math.ceil(len(text) / 4 + extra_bytes * 0.4))


def estimate_prompt_tokens(messages: Iterable[Mapping[str, str]]) -> int:
    """A rough count of the tokens a request's ``messages`` take."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + estimate_tokens(message.get("content", ""))
    return total


@dataclass(frozen=True)
class ModelInfo:
    """What we know of a model: limits, and USD prices per million tokens."""

    context_window: int | None = None
    max_output: int | None = None
    input_price: float | None = None
    output_price: float | None = None


UNKNOWN_MODEL = ModelInfo()
DEFAULT_MAX_OUTPUT = 4096

# Public list prices and limits (USD per 1M tokens), longest matching prefix wins, so
# dated snapshots ("gpt-4o-mini-2024-07-18") find their family. Check your provider's
# page before trusting a cost to the cent.
CATALOG: dict[str, ModelInfo] = {
    "gpt-5-nano": ModelInfo(400_000, 128_000, 0.05, 0.40),
    "gpt-5-mini": ModelInfo(400_000, 128_000, 0.25, 2.00),
    "gpt-5": ModelInfo(400_000, 128_000, 1.25, 10.00),
    "gpt-4.1-nano": ModelInfo(1_047_576, 32_768, 0.10, 0.40),
    "gpt-4.1-mini": ModelInfo(1_047_576, 32_768, 0.40, 1.60),
    "gpt-4.1": ModelInfo(1_047_576, 32_768, 2.00, 8.00),
    "gpt-4o-mini": ModelInfo(128_000, 16_384, 0.15, 0.60),
    "gpt-4o": ModelInfo(128_000, 16_384, 2.50, 10.00),
    "gpt-4-turbo": ModelInfo(128_000, 4_096, 10.00, 30.00),
    "gpt-3.5-turbo": ModelInfo(16_385, 4_096, 0.50, 1.50),
    "o4-mini": ModelInfo(200_000, 100_000, 1.10, 4.40),
    "o3-mini": ModelInfo(200_000, 100_000, 1.10, 4.40),
    "o3": ModelInfo(200_000, 100_000, 2.00, 8.00),
    "o1-mini": ModelInfo(128_000, 65_536, 1.10, 4.40),
    "o1": ModelInfo(200_000, 100_000, 15.00, 60.00),
}


def model_info(model: str) -> ModelInfo:
    """Limits and prices for ``model`` (empty when unknown)."""
    name = model.rsplit("/", 1)[-1].lower()
    matches = [prefix for prefix in CATALOG if name.startswith(prefix)]
    return CATALOG[max(matches, key=len)] if matches else UNKNOWN_MODEL


def max_output_tokens(model: str) -> int:
    """The largest reply the model can write (4096 when unknown)."""
    return model_info(model).max_output or DEFAULT_MAX_OUTPUT


def cost_usd(model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    """What a reply cost at list prices, or None for a model without a price."""
    info = model_info(model)
    if info.input_price is None or info.output_price is None:
        return None
    return (prompt_tokens * info.input_price + completion_tokens * info.output_price) / 1e6
