"""How model servers word what went wrong: the dialects of OpenAI, llama.cpp, vLLM and LM
Studio, as patterns over their error text.

Servers agree on the HTTP status at best; the words and numbers differ per server and per
version. Each pattern below names the servers it was taken from, so a new wording is one
more line in the right list. Numbers a server sends are believed only when plausible
(``server_count``): a whole number from 0 to 10^8. ``chatlab.provider.server_errors`` asks these
questions; nothing here builds an error.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection

__all__ = [
    "MAX_COUNT",
    "prompt_size",
    "refuses_images",
    "refuses_response_format",
    "says_cache_full",
    "says_overflow",
    "server_count",
    "window_size",
]

MAX_COUNT = 10**8  # more tokens than any request or reply has: absurd above it

# How each server says the conversation does not fit. Numbers, where a form has them, are
# read by the patterns below (the first that matches wins).
_OVERFLOW_CODES = {"context_length_exceeded", "exceed_context_size_error"}
_OVERFLOW_WORDS = re.compile(
    r"context (?:length|size|window)|maximum context|context the overflows|n_ctx", re.IGNORECASE
)
_WINDOW_PATTERNS = [
    re.compile(r"maximum context length is (\d{1,15})", re.IGNORECASE),  # OpenAI, vLLM
    re.compile(r"available context size \((\d{1,15}) tokens", re.IGNORECASE),  # llama.cpp
    re.compile(r"context length of only (\d{1,15})", re.IGNORECASE),  # LM Studio
    re.compile(r"n_ctx: ?(\d{1,15})", re.IGNORECASE),  # LM Studio
]
_PROMPT_PATTERNS = [
    re.compile(r"\((\d{1,15}) in the messages", re.IGNORECASE),  # vLLM, OpenAI (older)
    re.compile(r"messages resulted in (\d{1,15}) tokens", re.IGNORECASE),  # OpenAI
    re.compile(r"request has (\d{1,15}) input tokens", re.IGNORECASE),  # vLLM
    re.compile(r"you requested (\d{1,15}) tokens", re.IGNORECASE),  # vLLM, older form
    re.compile(r"request \((\d{1,15}) tokens\)", re.IGNORECASE),  # llama.cpp
    re.compile(r"keep the first (\d{1,15}) tokens", re.IGNORECASE),  # LM Studio
    re.compile(r"n_keep: ?(\d{1,15})", re.IGNORECASE),  # LM Studio
]


# How servers refuse an image sent to a text-only model: OpenAI ("image_url is only
# supported by certain models"), llama.cpp without an mmproj ("image input is not
# supported"), vLLM ("is not a multimodal model"), and others' plainer wordings.
_NO_VISION_WORDS = re.compile(
    r"image_url is only supported|image input is not supported|not a multimodal model"
    r"|(does not|doesn't) support (image|vision)|images? (is|are) not supported"
    r"|vision is not supported",
    re.IGNORECASE,
)


# llama.cpp's words when its KV cache has no room for the next token (server-context.cpp,
# update_slots). A prompt longer than a slot's window is refused before that, with a 400
# that names both numbers; and one request alone stops at its slot's window ("length").
# So these words mean the requests running at once filled the cache they share.
_CACHE_FULL = re.compile(r"^\s*context size has been exceeded\b", re.IGNORECASE)


# How servers refuse structured output itself, without OpenAI's ``unsupported_parameter``
# code (chatlab.structured lists what each takes): LM Studio's json_object refusal
# ("'response_format.type' must be 'json_schema' or 'text'", the whole error a string),
# llama.cpp's for a type it does not know ("response_format type must be one of ..."), and
# OpenAI's for a model without it ("'response_format' of type 'json_object' is not supported
# with this model"). A schema OpenAI's strict mode cannot take names response_format too,
# in other words: that one is the user's to fix, and is shown, not learnt.
_FORMAT_REFUSED_WORDS = re.compile(
    r"'?response_format(?:\.type)?'? (?:type )?must be"
    r"|'response_format' of type '[\w-]+' is not supported"
    r"|response_format is not supported",
    re.IGNORECASE,
)


def refuses_response_format(text: str) -> bool:
    """The server refused ``response_format`` (or the type asked for) outright."""
    return bool(_FORMAT_REFUSED_WORDS.search(text))


def says_overflow(text: str, names: Collection[str]) -> bool:
    """The error's text, or one of its type/code ``names``, says the conversation does not fit."""
    return bool(set(names) & _OVERFLOW_CODES or _OVERFLOW_WORDS.search(text))


def says_cache_full(text: str) -> bool:
    """llama.cpp's shared KV cache filled up (not this conversation's own size)."""
    return bool(_CACHE_FULL.search(text))


def refuses_images(text: str) -> bool:
    """The server refused an image because the model reads text only."""
    return bool(_NO_VISION_WORDS.search(text))


def window_size(text: str) -> int | None:
    """The model's context window, as the error's text gives it."""
    return _number(_WINDOW_PATTERNS, text)


def prompt_size(text: str) -> int | None:
    """The prompt's size in tokens, as the error's text gives it."""
    return _number(_PROMPT_PATTERNS, text)


def _number(patterns: list[re.Pattern[str]], text: str) -> int | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return server_count(int(found.group(1)))
    return None


def server_count(value: object) -> int | None:
    """A token count a server sent, if it is a plausible one: a whole number, 0 to 10^8."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or value != int(value) or not 0 <= value <= MAX_COUNT:
        return None
    return int(value)
