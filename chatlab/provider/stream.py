"""The stream wrapper: text deltas out, telemetry recorded on the way.

``ReplyStream`` iterates over the SDK's chunk stream and yields only text. While doing
so it notes when the first token came, the finish reason and the usage chunk (sent
last, with ``choices: []``, when ``stream_options.include_usage`` is on). Servers that
send no usage get an estimate, flagged as such. Whatever goes wrong mid-stream is
raised as a ``ChatError`` and the text received so far stays readable in ``.text``.

Everything a chunk carries is checked here, at the boundary: the SDK builds chunks
without validation, so a compatible server can put ``Infinity`` in a token count, a
list of parts in ``content`` or a lone surrogate in any string. What cannot be stored
and read back is replaced (text) or treated as unknown (counts).

A ``Watch`` (``chatlab.deadline``) bounds each wait by the read timeout and the whole
reply by the reply timeout, however slowly the bytes trickle; ``close()`` from any
thread cuts the connection and the reply ends quietly, marked ``stopped``.
"""

from __future__ import annotations

import contextlib
import math
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any, Protocol

from chatlab.config import MAX_REPLY_CHARS, Timeouts
from chatlab.deadline import Watch
from chatlab.errors import ChatError
from chatlab.logprobs import (
    MAX_TOKENS,
    NO_LOGPROBS,
    TokenLogprob,
    mean_logprob,
    perplexity,
    token_logprob,
)
from chatlab.messages import ReplyStats, Usage
from chatlab.provider.dialects import server_count
from chatlab.provider.reasoning import ThinkSplitter
from chatlab.provider.server_errors import (
    empty_reply,
    incomplete_stream,
    no_answer_at_length,
    reply_timed_out,
    reply_too_long,
    stalled,
    to_chat_error,
)
from chatlab.provider.tool_calls import ToolCallAssembler
from chatlab.tokens import estimate_tokens, price_usd
from chatlab.tools import ToolCall

Clock = Callable[[], float]
MAX_NAME = 200  # a model id or finish reason longer than this is not one
# No single reply costs more (o1-pro's whole window and output run to about $90): a larger
# reported cost is a broken gateway, not a bill.
MAX_SERVER_COST = 1_000.0
_SURROGATE = re.compile("[\ud800-\udfff]")
_END = object()


class ChunkStream(Protocol):
    """What the SDK's ``Stream[object]`` offers us: chunks as the JSON the server sent."""

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


def readable(text: str) -> str:
    """``text`` with lone surrogates (unencodable, unstorable) replaced by U+FFFD."""
    return _SURROGATE.sub("\ufffd", text)


def field(obj: object, name: str) -> Any:
    """``obj.name`` or ``obj[name]``: the SDK leaves shapes it cannot build as dicts."""
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def content_text(content: object) -> str:
    """The text of a delta's content: a string, text parts joined, or a number."""
    if isinstance(content, str):
        return readable(content)
    if isinstance(content, list):
        parts = (field(part, "text") for part in content)
        return readable("".join(part for part in parts if isinstance(part, str)))
    if isinstance(content, int | float) and not isinstance(content, bool):
        return str(content) if math.isfinite(content) else ""
    return ""


def short_name(value: object) -> str | None:
    """A model id or finish reason, when the server sent a plausible one."""
    if isinstance(value, str) and 0 < len(value) <= MAX_NAME:
        return readable(value)
    return None


def usage_of(value: object) -> Usage | None:
    """Token counts from a usage object, or None when either is not a plausible count."""
    prompt = server_count(field(value, "prompt_tokens"))
    completion = server_count(field(value, "completion_tokens"))
    if prompt is None or completion is None:
        return None
    return Usage(prompt_tokens=prompt, completion_tokens=completion)


def cached_tokens_of(value: object, prompt_tokens: int) -> int:
    """``prompt_tokens_details.cached_tokens``: the prompt read from cache (0 if implausible)."""
    cached = server_count(field(field(value, "prompt_tokens_details"), "cached_tokens"))
    return cached if cached is not None and cached <= prompt_tokens else 0


def server_cost(value: object) -> float | None:
    """A cost in USD the server reported (OpenRouter's ``usage.cost``), when plausible."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return None
    return float(value) if 0 <= value <= MAX_SERVER_COST else None  # NaN fails both


def _wants_logprobs(request: dict[str, Any] | None) -> bool:
    return request is not None and request.get("logprobs") is True


@dataclass(frozen=True)
class Outcome:
    """What a reply came to, read off its stream once: all that settling it needs.

    Chat and Compare settle a reply from this one frozen value (what arrived, how it
    ended, its telemetry) rather than each pulling attributes off a live stream that a
    worker thread may still be writing. ``NOTHING`` is the outcome of a request that
    never got a stream (refused, or failed before the server answered).
    """

    text: str = ""
    reasoning: str = ""
    finish_reason: str | None = None
    stats: ReplyStats | None = None
    notices: tuple[str, ...] = ()
    token_logprobs: tuple[TokenLogprob, ...] = ()
    request: dict[str, Any] | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # the calls the reply made (``chatlab.tools``)

    @property
    def mean_logprob(self) -> float | None:
        """The reply's mean log-probability (None without token probabilities)."""
        return self.stats.mean_logprob if self.stats is not None else None

    def counted_as(self, source: str) -> Outcome:
        """The same outcome, its telemetry counted under ``source`` (chat, compare)."""
        stats = self.stats if self.stats is None else replace(self.stats, source=source)
        return replace(self, stats=stats)


NOTHING = Outcome()


class ReplyStream:
    """Yields a reply's text deltas and records its telemetry.

    ``close()`` may be called from any thread, at any time, more than once: it ends the
    iteration quietly (``stopped`` is then True if the reply had not ended) and closes
    the HTTP connection at once, even under a blocked read.
    """

    def __init__(
        self,
        chunks: ChunkStream,
        *,
        model: str,
        prompt_tokens: int,
        started: float,
        clock: Clock = time.perf_counter,
        notices: tuple[str, ...] = (),
        watch: Watch | None = None,
        timeouts: Timeouts | None = None,
        max_chars: int = MAX_REPLY_CHARS,
        request: dict[str, Any] | None = None,
        base_url: str | None = None,
    ) -> None:
        self._chunks = chunks
        self._clock = clock
        self._parts: list[str] = []
        self._thoughts: list[str] = []  # reasoning, never part of ``text``
        self._logprobs: list[TokenLogprob] = []
        self._think = ThinkSplitter()
        self._tools = ToolCallAssembler()
        self._length = 0
        self._watch = watch or Watch()
        self._timeouts = timeouts
        self._lock = threading.Lock()
        self._reading = False
        self._released = False
        self._ended = False
        self.max_chars = max_chars
        self.model = model
        self.notices = notices
        self.request = (
            request  # the body that was sent (``chatlab.provider.client.request_options``)
        )
        self.started = started
        self.estimated_prompt_tokens = prompt_tokens
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.base_url = base_url  # whose list prices apply (``chatlab.tokens.price_usd``)
        self.cached_tokens = 0
        self.reasoning_tokens: int | None = None
        self.server_cost: float | None = None
        self.stopped = False

    @property
    def text(self) -> str:
        """Everything received so far."""
        return "".join(self._parts)

    @property
    def tool_calls(self) -> tuple[ToolCall, ...]:
        """The tool calls received so far, assembled from their deltas."""
        return self._tools.calls()

    @property
    def tool_characters(self) -> int:
        """How much of the tool calls' arguments has arrived (a cheap measure of progress)."""
        return self._tools.characters

    @property
    def reasoning(self) -> str:
        """The model's thinking received so far (shown apart, never sent back)."""
        return "".join(self._thoughts)

    @property
    def token_logprobs(self) -> tuple[TokenLogprob, ...]:
        """Each token received with its probability, where the server sent them."""
        return tuple(self._logprobs)

    @property
    def mean_logprob(self) -> float | None:
        """The reply's mean log-probability (None without token probabilities)."""
        return mean_logprob(self._logprobs)

    @property
    def perplexity(self) -> float | None:
        """exp(-mean log-probability), or None without token probabilities."""
        return perplexity(self.mean_logprob)

    def __iter__(self) -> Iterator[str]:
        failure: ChatError | None = None
        try:
            yield from self._read()
        except ChatError as err:
            failure = err
        except Exception as exc:
            if not self.stopped:
                failure = self._explain(exc)
                failure.__cause__ = exc
        finally:
            self.ended_at = self._clock()
            self._ended = True
            self._release()
        # Text held back as a possible "<think>" is kept (and shown) however it ended.
        yield from self._keep(*self._think.flush())
        if failure is not None:
            raise failure
        if self.stopped:
            return
        if _wants_logprobs(self.request) and not self._logprobs:
            self.notices = (*self.notices, NO_LOGPROBS)  # ignored: said, never an error
        if self.finish_reason is None:
            raise incomplete_stream()
        if self._tools.count:
            return  # calls are an answer, with or without text
        if not self._parts and self.finish_reason == "stop":
            raise empty_reply()
        if not self._parts and self.finish_reason == "length":
            raise no_answer_at_length(self.reasoning_tokens, bool(self._thoughts))

    def _read(self) -> Iterator[str]:
        chunks = iter(self._chunks)
        while True:
            with self._lock:
                if self.stopped:
                    return
                self._reading = True
            try:
                with self._watch.active():
                    chunk = next(chunks, _END)
            finally:
                with self._lock:
                    self._reading = False
            if chunk is _END or self.stopped:
                return
            if self._timeouts is not None:
                self._watch.extend(self._timeouts.read)
                if self._watch.over:
                    raise reply_timed_out(self._timeouts.reply)
            yield from self._take(chunk)

    def _explain(self, exc: Exception) -> ChatError:
        if self._watch.expired and self._timeouts is not None:
            if self._watch.over:
                return reply_timed_out(self._timeouts.reply)
            return stalled(self._timeouts.read)
        return to_chat_error(exc, model=self.model, answered=True)

    def _take(self, chunk: Any) -> Iterator[str]:
        usage = field(chunk, "usage")
        if usage is not None:
            self.usage = usage_of(usage) or self.usage
            if self.usage is not None:
                self.cached_tokens = cached_tokens_of(usage, self.usage.prompt_tokens)
            details = field(usage, "completion_tokens_details")
            self.reasoning_tokens = server_count(field(details, "reasoning_tokens"))
            cost = server_cost(field(usage, "cost"))
            self.server_cost = self.server_cost if cost is None else cost
        self.model = short_name(field(chunk, "model")) or self.model
        choices = field(chunk, "choices")
        for choice in choices if isinstance(choices, list) else ():
            finish = field(choice, "finish_reason")
            if finish is not None:
                self.finish_reason = short_name(finish) or self.finish_reason
            self._note_logprobs(field(field(choice, "logprobs"), "content"))
            delta = field(choice, "delta")
            self._take_tool_calls(field(delta, "tool_calls"))
            said = field(delta, "reasoning_content") or field(delta, "reasoning")
            thinking, answer = self._think.feed(content_text(field(delta, "content")))
            yield from self._keep(content_text(said) + thinking, answer)

    def _take_tool_calls(self, deltas: object) -> None:
        """Assemble tool-call pieces (``chatlab.provider.tool_calls``); they count as output."""
        if deltas is None:
            return
        self._tools.feed(deltas)
        if self._tools.count and self.first_token_at is None:
            self.first_token_at = self._clock()

    def _note_logprobs(self, content: object) -> None:
        """Keep each plausible entry of a chunk's ``logprobs.content``, up to ``MAX_TOKENS``."""
        if not isinstance(content, list):
            return
        for entry in content[: max(MAX_TOKENS - len(self._logprobs), 0)]:
            taken = token_logprob(entry)
            if taken is not None:
                self._logprobs.append(taken)

    def _keep(self, thinking: str, answer: str) -> Iterator[str]:
        """Record thinking and answer text (within the size cap); yield the answer."""
        if (thinking or answer) and self.first_token_at is None:
            self.first_token_at = self._clock()  # thinking is the model's first output too
        room, cut = self.max_chars - self._length, False
        if len(thinking) > room:
            thinking, answer, cut = thinking[:room], "", True
        room -= len(thinking)
        if len(answer) > room:
            answer, cut = answer[:room], True
        if thinking:
            self._thoughts.append(thinking)
            self._length += len(thinking)
        if answer:
            self._parts.append(answer)
            self._length += len(answer)
            yield answer
        if cut:
            raise reply_too_long(self.max_chars)

    def close(self) -> None:
        """Stop: end the reply quietly and close its connection. Safe from any thread."""
        with self._lock:
            if self._released:
                return
            self.stopped = not self._ended
            self._watch.close()  # shuts the socket only while a read is in progress
            reading = self._reading
        if not reading:  # else the reading thread releases it as its read fails
            self._release()

    def _release(self) -> None:
        with self._lock:
            if self._released:
                return
            self._released = True
        with contextlib.suppress(Exception):  # a broken connection may fail to close
            self._chunks.close()

    def outcome(self) -> Outcome:
        """What arrived so far and how it ended, frozen (call once the reply is over)."""
        return Outcome(
            text=self.text,
            reasoning=self.reasoning,
            finish_reason=self.finish_reason,
            stats=self.stats(),
            notices=(*self.notices, *self._tools.notices()),
            token_logprobs=self.token_logprobs,
            request=self.request,
            tool_calls=self.tool_calls,
        )

    def stats(self) -> ReplyStats:
        """Telemetry so far; usage is estimated when the server sent none."""
        usage = self.usage or Usage(
            prompt_tokens=self.estimated_prompt_tokens,
            completion_tokens=self._estimated_completion(),
            estimated=True,
        )
        end = self.ended_at if self.ended_at is not None else self._clock()
        first = self.first_token_at
        return ReplyStats(
            model=self.model,
            usage=usage,
            finish_reason=self.finish_reason,
            time_to_first_token=None if first is None else first - self.started,
            total_time=end - self.started,
            cost_usd=self._cost(usage),
            reasoning_tokens=self.reasoning_tokens,
            mean_logprob=self.mean_logprob,
        )

    def _estimated_completion(self) -> int:
        """The reply's tokens by estimate, never more than the request allowed: a server
        writes at most max tokens, so an estimate above it is the estimate's error."""
        calls = "".join(call.name + call.arguments for call in self.tool_calls)
        estimate = estimate_tokens(self.text + calls)
        request = self.request or {}
        cap = request.get("max_completion_tokens") or request.get("max_tokens")
        return min(estimate, cap) if isinstance(cap, int) and cap > 0 else estimate

    def _cost(self, usage: Usage) -> float | None:
        """The server's own figure where it sent one, else the endpoint's list prices."""
        if self.server_cost is not None:
            return self.server_cost
        return price_usd(
            self.model,
            base_url=self.base_url,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            cached_tokens=0 if usage.estimated else self.cached_tokens,
        )
