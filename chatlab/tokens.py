"""Token counts when the server sends none, model limits, and what a reply costs.

Many OpenAI-compatible servers send no usage chunk. We then estimate, and say so:
an exact count would need the model's own tokenizer, which is not always known and
(for tiktoken) is downloaded at first use — not something a chat UI should do on
the hot path or offline. The estimate follows OpenAI's rule of thumb (about four
characters of English per token) and counts each non-ASCII character as most of a
token, which keeps CJK and emoji from being undercounted badly. It runs at C speed:
the sidebar's context budget counts the whole conversation on every slider move.

Prices come from genai-prices (pydantic's table; its data ships in the wheel, so a
lookup never touches the network: its ``UpdatePrices`` downloader is opt-in and never
started here). Limits no package provides live in ``model_facts.toml`` beside this file.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from types import MappingProxyType
from typing import Any

# Per-message framing tokens in the chat format (OpenAI cookbook: "3 per message,
# plus 3 to prime the reply").
_PER_MESSAGE = 3
_REPLY_PRIMING = 3
# What one image costs, without decoding it: OpenAI's high-detail price of a 1024x1024
# image (85 base + 4 tiles of 170). Other servers differ, so this is a middle guess.
IMAGE_TOKENS = 765


# The pieces a BPE tokenizer (cl100k, o200k, Llama 3's, Gemma's) makes of text: a common
# word with its leading space is one token, a long or rare run of letters about one per
# four characters, digits one per group of up to three, each ASCII symbol one, and a run
# of newlines or indentation one.
_PIECE = re.compile(r"[A-Za-z]+|[0-9]{1,3}|[!-/:-@\[-`{-~]|\n+| {2,}|\t+")
_LONG_WORD = re.compile(r"[A-Za-z]{11,}")
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def estimate_tokens(text: str) -> int:
    """A rough token count for ``text`` (0 for empty text).

    Counted by words rather than characters: four characters a token (OpenAI's rule of
    thumb) overcounts plain text by half for short words ("hello " is six characters and
    one token: 5,000 of them are 5,000 tokens to llama.cpp, 7,500 by characters).
    """
    if not text:
        return 0
    count = len(_PIECE.findall(text))  # one pass in C; long words then add their rest
    count += sum(math.ceil(len(word) / 4) - 1 for word in _LONG_WORD.findall(text))
    # Each non-ASCII character: a quarter, and 0.4 for each UTF-8 byte beyond its first
    # (CJK: 2, emoji: 3), so a CJK character counts about one token.
    foreign = len(_NON_ASCII.findall(text))
    if foreign:
        extra_bytes = len(text.encode("utf-8", "surrogatepass")) - len(text)
        count += math.ceil(foreign / 4 + extra_bytes * 0.4)
    return max(1, count)


def estimate_prompt_tokens(messages: Iterable[Mapping[str, Any]]) -> int:
    """A rough count of the tokens a request's ``messages`` take (attachments included)."""
    total = _REPLY_PRIMING
    for message in messages:
        total += _PER_MESSAGE + _content_tokens(message.get("content", ""))
        total += _tool_call_tokens(message.get("tool_calls"))
    return total


def _tool_call_tokens(calls: object) -> int:
    """An assistant message's tool calls: each one's name and arguments, as text."""
    if not isinstance(calls, list):
        return 0
    total = 0
    for call in calls:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            text = f"{function.get('name') or ''} {function.get('arguments') or ''}"
            total += _PER_MESSAGE + estimate_tokens(text)
    return total


def _content_tokens(content: object) -> int:
    """A content string, or a list of text and image parts (an image: a fixed estimate)."""
    if isinstance(content, str):
        return estimate_tokens(content)
    if not isinstance(content, list):
        return 0
    total = 0
    for part in content:
        if isinstance(part, dict) and part.get("type") == "image_url":
            total += IMAGE_TOKENS
        elif isinstance(part, dict) and isinstance(part.get("text"), str):
            total += estimate_tokens(part["text"])
    return total


@dataclass(frozen=True)
class ModelInfo:
    """What we know of a model's limits, in tokens."""

    context_window: int | None = None
    max_output: int | None = None


UNKNOWN_MODEL = ModelInfo()
DEFAULT_MAX_OUTPUT = 4096
FACTS_FILE = "model_facts.toml"


def read_families(text: str) -> dict[str, ModelInfo]:
    """Model families by name prefix, from the facts file's TOML ``text``."""
    table = tomllib.loads(text)["families"]
    return {
        prefix: ModelInfo(int(facts["context_window"]), int(facts["max_output"]))
        for prefix, facts in table.items()
    }


@cache
def families() -> Mapping[str, ModelInfo]:
    """The model facts shipped with Chat Lab (read once)."""
    text = resources.files("chatlab").joinpath(FACTS_FILE).read_text(encoding="utf-8")
    return MappingProxyType(read_families(text))


def model_info(model: str) -> ModelInfo:
    """Context window and output limit for ``model`` (empty when unknown)."""
    name = model.rsplit("/", 1)[-1].lower()  # "openai/gpt-4o" is gpt-4o's family
    known = families()
    matches = [prefix for prefix in known if name.startswith(prefix)]
    return known[max(matches, key=len)] if matches else UNKNOWN_MODEL


def max_output_tokens(model: str) -> int:
    """The largest reply the model can write (4096 when unknown): the slider's range."""
    return model_info(model).max_output or DEFAULT_MAX_OUTPUT


def price_usd(
    model: str,
    *,
    base_url: str | None,
    prompt_tokens: int,
    completion_tokens: int,
    cached_tokens: int = 0,
) -> float | None:
    """What a reply cost at the endpoint's list prices, or None where none is known.

    The provider is the one genai-prices recognises in ``base_url`` (api.openai.com,
    OpenRouter, Groq, ...). A local or unrecognised server gets None even for a model
    name a provider prices: it is not that provider's model at that provider's price.
    ``cached_tokens`` are the part of ``prompt_tokens`` read from the prompt cache.
    """
    if not base_url:
        return None
    # Loaded here, not on import: a new session's first page prices nothing
    # (``chatlab.provider.client.warm_up`` loads it in the background).
    from genai_prices import Usage as PriceUsage
    from genai_prices import calc_price

    usage = PriceUsage(
        input_tokens=prompt_tokens,
        cache_read_tokens=cached_tokens,
        output_tokens=completion_tokens,
    )
    try:
        price = calc_price(usage, model, provider_api_url=base_url)
    except (LookupError, ValueError):  # unknown provider or model; counts it refuses
        return None
    return float(price.total_price)
