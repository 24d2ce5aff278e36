"""The one error contract: every failure Chat Lab explains is a ``ChatLabError`` with a
``message`` (what happened, in words), an ``action`` (what to do next) and ``retryable``.

This module holds only the contract and ``Kind``, so everything may import it without
loading anything else. What a model server's failures mean is ``chatlab.provider.server_errors``;
how each server words them is ``chatlab.provider.dialects``. Features raise their own subclasses
of ``ChatLabError`` (storage, presets, uploads); the UI shows any of them the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["NOT_COMPATIBLE_CODE", "ChatError", "ChatLabError", "Kind"]

# The code of the error object that stands for an answer not shown (chatlab.url_policy).
NOT_COMPATIBLE_CODE = "chatlab_not_openai_compatible"


class Kind(StrEnum):
    """What went wrong, as far as the user needs to know."""

    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    CONTEXT_LENGTH = "context_length"
    CAPACITY = "capacity"  # the server's room for requests running at once ran out
    BAD_REQUEST = "bad_request"
    SERVER = "server"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    STREAM_CUT = "stream_cut"
    MALFORMED = "malformed"
    NOT_COMPATIBLE = "not_compatible"  # a web page, plain JSON, oversized headers, no events
    STREAM_ERROR = "stream_error"
    INCOMPLETE = "incomplete"
    EMPTY = "empty"
    NO_VISION = "no_vision"  # the model refused an attached image
    NO_ANSWER = "no_answer"  # max tokens reached before any answer (spent on thinking)
    TOO_LONG = "too_long"  # the reply reached CHATLAB_MAX_REPLY_CHARS
    STOPPED = "stopped"  # the user stopped the request before the reply began
    URL_REFUSED = "url_refused"  # a typed Base URL this app may not reach (url_policy)
    UNKNOWN = "unknown"


class ChatLabError(Exception):
    """Every failure Chat Lab explains: ``message`` says what happened, ``action`` what to do.

    The UI shows ``str(err)`` (through the one escaping path for untrusted text: a message
    can quote a server or a file) and offers Retry only when ``retryable``.
    """

    def __init__(self, message: str, action: str, *, retryable: bool = True) -> None:
        super().__init__(message, action)
        self.message = message
        self.action = action
        self.retryable = retryable

    def __str__(self) -> str:
        return f"{self.message} {self.action}"


@dataclass(eq=False, repr=False)  # not frozen: raising sets __traceback__
class ChatError(ChatLabError):
    """A failure talking to the model, with its ``kind`` and the server's own words.

    ``prompt_tokens`` and ``context_window`` are set for a context overflow when the
    server said them.
    """

    kind: Kind
    message: str
    action: str
    retryable: bool = True
    retry_after: float | None = None
    detail: str | None = None
    prompt_tokens: int | None = None
    context_window: int | None = None

    def __post_init__(self) -> None:
        ChatLabError.__init__(self, self.message, self.action, retryable=self.retryable)

    __str__ = ChatLabError.__str__
