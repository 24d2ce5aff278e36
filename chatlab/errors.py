"""Every failure becomes one ``ChatError``: what happened, in words, and what to do next.

The OpenAI SDK raises a family of exceptions, and a compatible server or the network
adds a few of its own (``json.JSONDecodeError`` for a malformed chunk, for one). Pages
never see those: ``to_chat_error`` maps each to a message a person can act on.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import openai


class Kind(StrEnum):
    """What went wrong, as far as the user needs to know."""

    MISSING_KEY = "missing_key"
    AUTH = "auth"
    PERMISSION = "permission"
    NOT_FOUND = "not_found"
    RATE_LIMIT = "rate_limit"
    QUOTA = "quota"
    CONTEXT_LENGTH = "context_length"
    BAD_REQUEST = "bad_request"
    SERVER = "server"
    CONNECTION = "connection"
    TIMEOUT = "timeout"
    STREAM_CUT = "stream_cut"
    MALFORMED = "malformed"
    STREAM_ERROR = "stream_error"
    INCOMPLETE = "incomplete"
    EMPTY = "empty"
    UNKNOWN = "unknown"


@dataclass(eq=False)  # not frozen: raising sets __traceback__
class ChatError(Exception):
    """A failure explained: ``message`` says what happened, ``action`` what to do."""

    kind: Kind
    message: str
    action: str
    retryable: bool = True
    retry_after: float | None = None
    detail: str | None = None

    def __str__(self) -> str:
        return f"{self.message} {self.action}"


def to_chat_error(exc: BaseException, *, model: str = "") -> ChatError:
    """Explain any exception raised while talking to the model."""
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return _timeout()
    if isinstance(exc, openai.APIConnectionError):
        return _connection(exc)
    if isinstance(exc, openai.APIStatusError):
        return _status(exc, model)
    if isinstance(exc, openai.APIError):
        return ChatError(
            Kind.STREAM_ERROR,
            f"The server reported an error during the reply: {exc.message}",
            "Retry; what arrived before the error is kept.",
            detail=_detail(exc),
        )
    if isinstance(exc, json.JSONDecodeError):
        return ChatError(
            Kind.MALFORMED,
            "The server sent a piece of the reply that is not valid JSON.",
            "Retry. If it keeps happening, the server at this base URL is not fully "
            "OpenAI-compatible.",
        )
    return ChatError(
        Kind.UNKNOWN,
        f"Something unexpected went wrong ({type(exc).__name__}).",
        "Retry; if it persists, check the app's log.",
    )


def missing_key() -> ChatError:
    """No key and no base URL: nothing to talk to."""
    return ChatError(
        Kind.MISSING_KEY,
        "No API key is set.",
        "Paste a key in the sidebar, put OPENAI_API_KEY in .env, or set OPENAI_BASE_URL "
        "to a local server that needs no key.",
        retryable=False,
    )


def incomplete_stream() -> ChatError:
    """The stream ended without a finish reason."""
    return ChatError(
        Kind.INCOMPLETE,
        "The reply ended before the model said it was finished.",
        "Retry, or use Continue to ask for the rest; what arrived is kept.",
    )


def empty_reply() -> ChatError:
    """The model finished without saying anything."""
    return ChatError(
        Kind.EMPTY,
        "The model sent an empty reply.",
        "Retry, or rephrase your message.",
    )


def _timeout() -> ChatError:
    return ChatError(
        Kind.TIMEOUT,
        "The model server took too long to answer.",
        "Retry. A busy or slow local model may need a longer CHATLAB_READ_TIMEOUT.",
    )


def _connection(exc: openai.APIConnectionError) -> ChatError:
    cause = exc.__cause__
    text = f"{type(cause).__name__}: {cause}" if cause else exc.message
    if _mid_stream(cause):
        return ChatError(
            Kind.STREAM_CUT,
            "The connection dropped in the middle of the reply.",
            "Retry; what arrived before the drop is kept.",
            detail=text,
        )
    return ChatError(
        Kind.CONNECTION,
        f"Could not reach the model server at {exc.request.url.copy_with(path='/')}.",
        "Check OPENAI_BASE_URL and that the server is running, then retry.",
        detail=text,
    )


def _mid_stream(cause: BaseException | None) -> bool:
    # httpx raises RemoteProtocolError / ReadError once a response had started.
    name = type(cause).__name__ if cause else ""
    return name in {"RemoteProtocolError", "ReadError"}


def _status(exc: openai.APIStatusError, model: str) -> ChatError:
    status, code, detail = exc.status_code, exc.code or "", _detail(exc)
    if status == 401:
        return ChatError(
            Kind.AUTH,
            "The API key was not accepted.",
            "Check the key (sidebar, .env or secrets.toml) and paste a valid one.",
            retryable=False,
            detail=detail,
        )
    if status == 403:
        return ChatError(
            Kind.PERMISSION,
            "This key is not allowed to use this model or endpoint.",
            "Pick another model, or check the key's project and permissions.",
            retryable=False,
            detail=detail,
        )
    if status == 404:
        return ChatError(
            Kind.NOT_FOUND,
            f"The model {model!r} was not found at this endpoint." if model else detail,
            "Pick another model in the sidebar, or check OPENAI_BASE_URL.",
            retryable=False,
            detail=detail,
        )
    if status == 429:
        return _rate_limit(exc, code, detail)
    if status == 400 and code == "context_length_exceeded":
        return ChatError(
            Kind.CONTEXT_LENGTH,
            "The conversation is longer than this model's context window.",
            "Drop the oldest turns and retry, start a new chat, or pick a model "
            "with a larger context.",
            detail=detail,
        )
    if status >= 500:
        return ChatError(
            Kind.SERVER,
            f"The model server had an internal error ({status}).",
            "Retry in a moment.",
            detail=detail,
        )
    return ChatError(
        Kind.BAD_REQUEST,
        f"The server rejected the request: {exc.message}",
        "Change the settings the message names, then retry.",
        detail=detail,
    )


def _rate_limit(exc: openai.APIStatusError, code: str, detail: str) -> ChatError:
    if code == "insufficient_quota":
        return ChatError(
            Kind.QUOTA,
            "This API key has run out of quota.",
            "Add credit or raise the limit in your provider's billing settings; "
            "retrying will not help until then.",
            retryable=False,
            detail=detail,
        )
    wait = retry_after_seconds(exc.response.headers)
    when = f"in about {math.ceil(wait)} s" if wait is not None else "in a few seconds"
    return ChatError(
        Kind.RATE_LIMIT,
        "Too many requests: the provider's rate limit was hit.",
        f"Retry {when}.",
        retry_after=wait,
        detail=detail,
    )


def retry_after_seconds(headers: object) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date)."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    millis = get("retry-after-ms")
    if millis:
        try:
            return float(millis) / 1000
        except ValueError:
            pass
    raw = get("retry-after")
    if not raw:
        return None
    try:
        return max(0.0, float(raw))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def _detail(exc: openai.APIError) -> str:
    parts = [exc.message]
    if isinstance(exc, openai.APIStatusError):
        parts.insert(0, f"HTTP {exc.status_code}")
    if exc.code:
        parts.append(f"code={exc.code}")
    return " · ".join(parts)
