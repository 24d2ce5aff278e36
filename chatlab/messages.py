"""Messages, settings and per-reply telemetry as plain data.

A conversation is a list of ``ChatMessage``. Only ``system``, ``user`` and ``assistant``
ever reach the API. A reply that was stopped or cut off stays in the list with its
status, so the user keeps what they saw and the model gets it as context next time.
Each message has an id and a parent id so stored conversations can grow branches
(regenerated replies, edited questions) without a schema change.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal, get_args

from chatlab import controls
from chatlab.attachments import Attachment
from chatlab.logprobs import MAX_TOP_LOGPROBS, TokenLogprob
from chatlab.params import MAX_SEED, Param, declares, longest_reply
from chatlab.structured import ResponseFormat
from chatlab.tools import ToolCall

Role = Literal["system", "user", "assistant"]


class Status(StrEnum):
    """How a message ended."""

    COMPLETE = "complete"
    STREAMING = "streaming"
    STOPPED = "stopped"  # the user stopped it, or the page was left mid-reply
    LENGTH = "length"  # cut off by max tokens; can be continued
    CONTENT_FILTER = "content_filter"
    FAILED = "failed"  # an error ended it; the partial text is kept


DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
# How a reply ended, from the server's finish reason (any other: complete).
FINISH_STATUS = {"length": Status.LENGTH, "content_filter": Status.CONTENT_FILTER}


def finish_status(reason: str | None) -> Status:
    """The status of a reply the server ended with ``reason`` (None: it just ended)."""
    return FINISH_STATUS.get(reason or "", Status.COMPLETE)


SOURCES = ("chat", "compare", "judge", "arena")  # what sends requests, as Usage tells them apart
# The values the openai SDK accepts for ``reasoning_effort`` (``openai.types.ReasoningEffort``);
# not every reasoning model takes every one.
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]
REASONING_EFFORTS: tuple[ReasoningEffort, ...] = get_args(ReasoningEffort)
MAX_STOP_SEQUENCES = 4  # OpenAI's limit
MAX_STOP_LENGTH = 200
PENALTY_LIMIT = 2.0  # presence and frequency penalties run from -2 to 2


@declares
@dataclass(frozen=True)
class ChatSettings:
    """The knobs that produced (or will produce) a reply; the defaults are the app's.

    The optional parameters default to "not set" (None, or no stop sequences): a request
    carries only what the user set, and the server's own default applies to the rest.
    Each sampling parameter is declared here once, by its ``Param`` (``chatlab.params``):
    the sidebar, the request, the import checks and Compare all read it.
    """

    model: str
    temperature: Annotated[
        float,
        Param(
            controls.TEMPERATURE,
            "How adventurous the wording is. Lower (0–0.5): focused and consistent, good for "
            "facts and code. Higher (1–2): more varied and creative, and more likely to wander. "
            "0.5–1.0 is the usual range; the default is {default}.",
            "slider",
            low=0.0,
            high=2.0,
            step=0.05,
            sending="always",
            advanced=False,
            rejected_by="reasoning models (o-series, gpt-5): any value but 1",
        ),
    ] = 0.7
    max_tokens: Annotated[
        int,
        Param(
            controls.MAX_TOKENS,
            "The cap on the reply's length, in tokens (about ¾ of a word each). A reply that "
            f"hits it is cut off mid-sentence; use {controls.CONTINUE} to get the rest.",
            "slider",
            low=1,
            high=longest_reply(),  # and per model: chatlab.params.max_tokens_limit
            step=1,
            sending="always",
            advanced=False,
            stored=(0, 1_000_000_000),
            rejected_by="reasoning models (o-series, gpt-5): they take max_completion_tokens",
        ),
    ] = 1024
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    # top_p has a switch: "not set" is not the same as 1.0 on servers whose own default is
    # lower (llama.cpp, Ollama).
    top_p: Annotated[
        float | None,
        Param(
            controls.TOP_P,
            "Sample only from the most likely tokens whose probabilities add up to p: 0.1 keeps "
            "the top tenth of the probability, 1 keeps everything. Lower is more focused. Change "
            "this or temperature, not both; 0.8–1.0 is the usual range. Not set: the server's own "
            "default (1 on OpenAI, often 0.9–0.95 on local servers).",
            "slider",
            low=0.0,
            high=1.0,
            step=0.01,
            shown_unset=1.0,  # the API's own default
            switch="Set top_p",
        ),
    ] = None
    seed: Annotated[
        int | None,
        Param(
            controls.SEED,
            "The same seed with the same request and settings asks for the same reply again: "
            "repeatable on most local servers, best effort on OpenAI. Blank: a fresh random draw "
            "each time.",
            "number",
            low=0,
            high=MAX_SEED,
            step=1,
            placeholder="random",
        ),
    ] = None
    stop: Annotated[
        tuple[str, ...],
        Param(
            controls.STOP,
            f"Up to {MAX_STOP_SEQUENCES} sequences, one per line (at most {MAX_STOP_LENGTH} "
            "characters each): the reply ends just before the first one it would write, and "
            "that text is left out. Blank: none.",
            "lines",
            low=0,
            high=MAX_STOP_SEQUENCES,
            max_length=MAX_STOP_LENGTH,
            placeholder="one per line",
            sweep=False,
        ),
    ] = ()
    presence_penalty: Annotated[
        float | None,
        Param(
            controls.PRESENCE_PENALTY,
            "Positive values discourage repeating anything already said, however often, "
            "nudging the model towards new topics; negative values encourage it. −2 to 2, "
            "0.1–1 is the usual range; 0 is the default and is not sent.",
            "slider",
            low=-PENALTY_LIMIT,
            high=PENALTY_LIMIT,
            step=0.1,
            shown_unset=0.0,  # the API's default: the slider's "not set"
        ),
    ] = None
    frequency_penalty: Annotated[
        float | None,
        Param(
            controls.FREQUENCY_PENALTY,
            "Positive values discourage repeating a token the more often it has appeared, "
            "cutting word-for-word repetition; negative values encourage it. −2 to 2, 0.1–1 "
            "is the usual range; 0 is the default and is not sent.",
            "slider",
            low=-PENALTY_LIMIT,
            high=PENALTY_LIMIT,
            step=0.1,
            shown_unset=0.0,
        ),
    ] = None
    reasoning_effort: Annotated[
        ReasoningEffort | None,
        Param(
            controls.REASONING_EFFORT,
            "For reasoning models (o-series, gpt-5): how long they think before answering. "
            "Lower is faster and cheaper, higher is more thorough; not every model takes every "
            "value. Default: not sent, the model's own (usually medium). Other models reject "
            "it, and the reply then says so.",
            "choice",
            shown_unset="default",  # the choice that sends nothing
            rejected_by="models that do not reason; some reasoning models refuse some values",
        ),
    ] = None
    # Token probabilities (chatlab.logprobs): asked for only when on.
    logprobs: Annotated[
        bool,
        Param(
            "Probabilities",
            "Ask for each token's probability (logprobs) and its likeliest alternatives, shown "
            "under the reply token by token, with the reply's mean log-probability and "
            "perplexity. OpenAI, vLLM, llama.cpp and recent Ollama send them; other servers "
            "ignore or refuse it, and the reply then says so.",
            "toggle",
            sending="with logprobs",
            sweep=False,
            rejected_by="servers other than OpenAI, vLLM, llama.cpp and recent Ollama may",
        ),
    ] = False
    top_logprobs: Annotated[
        int | None,
        Param(
            "Top alternatives per token",
            "How many alternatives to get for each token, 0–{high}; {shown_unset} is plenty "
            "to see where the reply could have gone.",
            "number",
            low=0,
            high=MAX_TOP_LOGPROBS,
            step=1,
            sending="with logprobs",
            shown_unset=5,
            needs="logprobs",
        ),
    ] = None
    # Structured output (chatlab.structured): None is plain text, and nothing is sent.
    response_format: Annotated[
        ResponseFormat | None,
        Param(
            "Response format",
            "Text: the model writes freely. JSON object: any JSON object. JSON Schema: JSON "
            "that matches the schema you write (checked before it is sent). The reply is shown "
            "pretty-printed and checked, each violation with its path. Servers without "
            "structured output refuse it, and the reply then says so.",
            "format",
            sweep=False,
            rejected_by="LM Studio: JSON object (it takes JSON Schema); older llama.cpp: "
            "JSON Schema; servers without structured output",
        ),
    ] = None


@dataclass(frozen=True)
class Usage:
    """Token counts; ``estimated`` when the server sent none and we counted ourselves."""

    prompt_tokens: int
    completion_tokens: int
    estimated: bool = False


@dataclass(frozen=True)
class ReplyStats:
    """Telemetry of one reply."""

    model: str
    usage: Usage
    finish_reason: str | None
    time_to_first_token: float | None
    total_time: float
    cost_usd: float | None = None
    parts: int = 1  # requests that made this reply (Continue adds one)
    reasoning_tokens: int | None = None  # of the completion tokens, spent thinking
    mean_logprob: float | None = None  # where the server sent token probabilities
    source: str = "chat"  # which page sent the request: "chat" or "compare" (Usage)

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

    def followed_by(self, later: ReplyStats) -> ReplyStats:
        """One reply made of two requests (Continue): both parts' tokens, cost and time."""
        usage = Usage(
            self.usage.prompt_tokens + later.usage.prompt_tokens,
            self.usage.completion_tokens + later.usage.completion_tokens,
            self.usage.estimated or later.usage.estimated,
        )
        cost = None
        if self.cost_usd is not None and later.cost_usd is not None:
            cost = self.cost_usd + later.cost_usd
        return ReplyStats(
            model=later.model,
            usage=usage,
            finish_reason=later.finish_reason,
            time_to_first_token=self.time_to_first_token,
            total_time=self.total_time + later.total_time,
            cost_usd=cost,
            parts=self.parts + later.parts,
            reasoning_tokens=_sum(self.reasoning_tokens, later.reasoning_tokens),
            mean_logprob=_weighted_mean(self, later),
            source=later.source,
        )


def _weighted_mean(first: ReplyStats, second: ReplyStats) -> float | None:
    """Both parts' mean log-probability, weighted by their output tokens; None unless both."""
    if first.mean_logprob is None or second.mean_logprob is None:
        return None
    weights = first.usage.completion_tokens, second.usage.completion_tokens
    total = sum(weights)
    if total == 0:
        return (first.mean_logprob + second.mean_logprob) / 2
    return (first.mean_logprob * weights[0] + second.mean_logprob * weights[1]) / total


def _sum(first: int | None, second: int | None) -> int | None:
    return None if first is None and second is None else (first or 0) + (second or 0)


# Characters that draw nothing but which str.strip() keeps.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff"))


def is_blank(text: str) -> bool:
    """True when ``text`` would show nothing: whitespace and zero-width characters only."""
    stripped = text.strip()
    if stripped and ord(stripped[0]) not in _INVISIBLE:
        return False  # a visible first character: no need to translate the whole text
    return not stripped.translate(_INVISIBLE).strip()


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
    # A reply's request body exactly as sent (the key is a header, never in it); the
    # last request when Continue made the reply of several.
    request: dict[str, Any] | None = None
    # A reasoning model's thinking (chatlab.provider.reasoning): shown and stored, never sent.
    reasoning: str = ""
    # When it was first written (UTC); stored rows carry it, a new message gets it now.
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC), compare=False)
    # Files the user attached (chatlab.attachments); stored once per owner by content.
    attachments: tuple[Attachment, ...] = ()
    # A reply's tokens with their probabilities, when asked for and sent (chatlab.logprobs);
    # stored, but read only when shown (``Store.load_token_logprobs``), as ``request`` is.
    token_logprobs: tuple[TokenLogprob, ...] = field(default=(), compare=False)
    # The tool calls a reply made, each with the result the user gave it (``chatlab.tools``):
    # the request sends them as the reply's ``tool_calls`` and one ``tool`` message each.
    tool_calls: tuple[ToolCall, ...] = ()

    @property
    def answered(self) -> bool:
        """True for a reply whose tool calls all have their results: the model goes on."""
        return bool(self.tool_calls) and all(c.result is not None for c in self.tool_calls)
