"""Messages, settings and per-reply telemetry as plain data.

A conversation is a list of ``ChatMessage``. Only ``system``, ``user`` and ``assistant``
ever reach the API. A reply that was stopped or cut off stays in the list with its
status, so the user keeps what they saw and the model gets it as context next time.
Each message has an id and a parent id so stored conversations can grow branches
(regenerated replies, edited questions) without a schema change.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

Role = Literal["system", "user", "assistant"]


class Status(StrEnum):
    """How a message ended."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"  # the user stopped it, or the page was left mid-reply
    LENGTH = "length"  # cut off by max tokens; can be continued
    CONTENT_FILTER = "content_filter"
    FAILED = "failed"  # an error ended it; the partial text is kept


@dataclass(frozen=True)
class ChatSettings:
    """The knobs that produced (or will produce) a reply."""

    model: str
    temperature: float = 0.7
    max_tokens: int = 1024
    system_prompt: str = "You are a helpful assistant."


@dataclass(frozen=True)
class Usage:
    """Token counts; ``estimated`` when the server sent none and we counted ourselves."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class ReplyStats:
    """Telemetry of one reply."""

    model: str
    usage: Usage
    finish_reason: str | None
    time_to_first_token: float | None
    total_time: float
    cost_usd: float | None = None

    @property
    def tokens_per_second(self) -> float | None:
        """Output speed after the first token arrived (None when it cannot be told)."""
        if self.time_to_first_token is None:
            return None
        generating = self.total_time - self.time_to_first_token
        tokens = self.usage.completion_tokens
        if generating <= 0 or tokens <= 1:
            return None
        return (tokens - 1) / generating


# Characters that draw nothing but which str.strip() keeps.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def is_blank(text: str) -> bool:
    """True when ``text`` would show nothing: whitespace and zero-width characters only."""
    return not text.translate(_INVISIBLE).strip()


def new_id() -> str:
    """A fresh message id."""
    return uuid.uuid4().hex


@dataclass
class ChatMessage:
    """One turn of the conversation, as shown and as sent."""

    role: Role
    content: str
    status: Status = Status.COMPLETE
    id: str = field(default_factory=new_id)
    parent_id: str | None = None
    settings: ChatSettings | None = None
    stats: ReplyStats | None = None
    notices: tuple[str, ...] = ()


def api_messages(system_prompt: str, history: Iterable[ChatMessage]) -> list[dict[str, str]]:
    """The request's ``messages``: the system prompt first, then every turn with text."""
    out: list[dict[str, str]] = []
    if system_prompt.strip():
        out.append({"role": "system", "content": system_prompt})
    out.extend({"role": m.role, "content": m.content} for m in history if m.content)
    return out


def drop_oldest_turns(history: list[ChatMessage], keep_last: int = 1) -> list[ChatMessage]:
    """Drop the oldest user turn and the replies to it, keeping at least ``keep_last`` messages."""
    if len(history) <= keep_last:
        return list(history)
    cut = 1
    while cut < len(history) - keep_last and history[cut].role != "user":
        cut += 1
    return list(history[cut:])
