"""The stream wrapper: text deltas out, telemetry recorded on the way.

``ReplyStream`` iterates over the SDK's chunk stream and yields only text. While doing
so it notes when the first token came, the finish reason and the usage chunk (sent
last, with ``choices: []``, when ``stream_options.include_usage`` is on). Servers that
send no usage get an estimate, flagged as such. Whatever goes wrong mid-stream is
raised as a ``ChatError`` and the text received so far stays readable in ``.text``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, Protocol

from chatlab.errors import ChatError, empty_reply, incomplete_stream, to_chat_error
from chatlab.messages import ReplyStats, Usage
from chatlab.tokens import cost_usd, estimate_tokens

Clock = Callable[[], float]


class ChunkStream(Protocol):
    """What the SDK's ``Stream[ChatCompletionChunk]`` offers us."""

    def __iter__(self) -> Iterator[Any]: ...

    def close(self) -> None: ...


class ReplyStream:
    """Yields a reply's text deltas and records its telemetry."""

    def __init__(
        self,
        chunks: ChunkStream,
        *,
        model: str,
        prompt_tokens: int,
        started: float,
        clock: Clock = time.perf_counter,
        notices: tuple[str, ...] = (),
    ) -> None:
        self._chunks = chunks
        self._clock = clock
        self._parts: list[str] = []
        self.model = model
        self.notices = notices
        self.started = started
        self.estimated_prompt_tokens = prompt_tokens
        self.first_token_at: float | None = None
        self.ended_at: float | None = None
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    @property
    def text(self) -> str:
        """Everything received so far."""
        return "".join(self._parts)

    def __iter__(self) -> Iterator[str]:
        try:
            for chunk in self._chunks:
                yield from self._take(chunk)
        except ChatError:
            raise
        except Exception as exc:
            raise to_chat_error(exc, model=self.model) from exc
        finally:
            self.ended_at = self._clock()
            self._chunks.close()
        if self.finish_reason is None:
            raise incomplete_stream()
        if not self._parts and self.finish_reason == "stop":
            raise empty_reply()

    def _take(self, chunk: Any) -> Iterator[str]:
        if getattr(chunk, "usage", None) is not None:
            self.usage = Usage(
                prompt_tokens=chunk.usage.prompt_tokens or 0,
                completion_tokens=chunk.usage.completion_tokens or 0,
            )
        if getattr(chunk, "model", None):
            self.model = chunk.model
        for choice in chunk.choices or ():
            if choice.finish_reason:
                self.finish_reason = choice.finish_reason
            text = choice.delta.content if choice.delta else None
            if text:
                if self.first_token_at is None:
                    self.first_token_at = self._clock()
                self._parts.append(text)
                yield text

    def close(self) -> None:
        """Release the connection (stopping the server's generation)."""
        self._chunks.close()

    def stats(self) -> ReplyStats:
        """Telemetry so far; usage is estimated when the server sent none."""
        usage = self.usage or Usage(
            prompt_tokens=self.estimated_prompt_tokens,
            completion_tokens=estimate_tokens(self.text),
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
            cost_usd=cost_usd(self.model, usage.prompt_tokens, usage.completion_tokens),
        )
