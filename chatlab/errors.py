"""Every failure becomes one ``ChatError``: what happened, in words, and what to do next.

The OpenAI SDK raises a family of exceptions, and a compatible server or the network
adds a few of its own (``json.JSONDecodeError`` for a malformed chunk, for one). Pages
never see those: ``to_chat_error`` maps each to a message a person can act on.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

import httpx2
import openai

MAX_COUNT = 10**8  # more tokens than any request or reply has: absurd above it
MAX_SERVER_TEXT = 2000  # characters of a server's error message worth showing


class Kind(StrEnum):
    """What went wrong, as far as the user needs to know."""

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
    NOT_COMPATIBLE = "not_compatible"  # a web page, plain JSON, oversized headers, no events
    STREAM_ERROR = "stream_error"
    INCOMPLETE = "incomplete"
    EMPTY = "empty"
    NO_VISION = "no_vision"  # the model refused an attached image
    NO_ANSWER = "no_answer"  # max tokens reached before any answer (spent on thinking)
    TOO_LONG = "too_long"  # the reply reached CHATLAB_MAX_REPLY_CHARS
    STOPPED = "stopped"  # the user stopped the request before the reply began
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


def to_chat_error(exc: BaseException, *, model: str = "") -> ChatError:
    """Explain any exception raised while talking to the model."""
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc, openai.APITimeoutError | httpx2.TimeoutException):
        return _timeout()
    if isinstance(exc, httpx2.TransportError):  # raised bare while reading a body
        return ChatError(
            Kind.STREAM_CUT,
            "The connection dropped in the middle of the reply.",
            "Retry; what arrived before the drop is kept.",
            detail=f"{type(exc).__name__}: {exc}",
        )
    if isinstance(exc, openai.APIConnectionError):
        return _connection(exc)
    if isinstance(exc, openai.APIStatusError):
        return _status(exc, model)
    if isinstance(exc, openai.APIError):
        return _context_overflow(exc) or ChatError(
            Kind.STREAM_ERROR,
            f"The server reported an error during the reply: {_server_text(exc)}",
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


def no_answer_at_length(reasoning_tokens: int | None, thought: bool) -> ChatError:
    """The reply hit max tokens before any answer: all of them went to thinking, say."""
    if reasoning_tokens:
        why = f"{reasoning_tokens:,} of them went to thinking"
    else:
        why = "the model spent them thinking" if thought else "none was left for an answer"
    return ChatError(
        Kind.NO_ANSWER,
        f"The reply used up its max tokens before writing any answer: {why}. "
        "They were billed all the same.",
        "Raise Max tokens (reasoning models often need several thousand) and retry.",
    )


def reply_too_long(limit: int) -> ChatError:
    """The reply reached ``CHATLAB_MAX_REPLY_CHARS`` and was cut there."""
    return ChatError(
        Kind.TOO_LONG,
        f"The reply was cut at {limit:,} characters, Chat Lab's limit for one reply.",
        "What arrived is kept. To allow longer replies, raise CHATLAB_MAX_REPLY_CHARS.",
        retryable=False,
    )


def reply_timed_out(seconds: float) -> ChatError:
    """The whole reply took longer than ``CHATLAB_REPLY_TIMEOUT``."""
    return ChatError(
        Kind.TIMEOUT,
        f"The reply was still streaming after {seconds:g} s, Chat Lab's limit for one reply.",
        "What arrived is kept. Retry, or raise CHATLAB_REPLY_TIMEOUT for very long replies.",
    )


def stalled(seconds: float) -> ChatError:
    """The connection stayed open but no piece of the reply came within the read timeout."""
    return ChatError(
        Kind.TIMEOUT,
        "The model server kept the connection open but sent nothing usable in time "
        f"(CHATLAB_READ_TIMEOUT is {seconds:g} s).",
        "Retry. A busy or slow local model may need a longer CHATLAB_READ_TIMEOUT.",
    )


def stopped_early() -> ChatError:
    """The user stopped the request before the reply began."""
    return ChatError(
        Kind.STOPPED,
        "The request was stopped before the reply began.",
        "Send again when you are ready.",
    )


def web_page(url: object) -> ChatError:
    """A 200 answer that is an HTML page (a proxy, a login page, a wrong port)."""
    return ChatError(
        Kind.NOT_COMPATIBLE,
        f"The server at {url} answered with a web page, not an OpenAI-compatible stream.",
        "Check OPENAI_BASE_URL: it should end in /v1 (or the path your server documents) "
        "and reach the model server itself, not a proxy or login page.",
    )


def not_a_reply(url: object, said: str) -> ChatError:
    """A 200 answer that is neither a stream of chunks nor a completion."""
    return ChatError(
        Kind.NOT_COMPATIBLE,
        f"The server at {url} answered with {said}, not an OpenAI-compatible reply.",
        "Check OPENAI_BASE_URL and that the server there speaks the Chat Completions API.",
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
    if "buffer too long" in str(cause):  # h11 refuses a header block over 100 KB
        return ChatError(
            Kind.NOT_COMPATIBLE,
            f"The server at {exc.request.url.copy_with(path='/')} sent response headers "
            "too large to read (over 100 KB).",
            "Check OPENAI_BASE_URL: a proxy or server there is misbehaving; retrying "
            "will not help until it is fixed.",
            detail=text,
        )
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
    status, code, detail = exc.status_code, str(exc.code or ""), _detail(exc)
    if status == 401:
        return ChatError(
            Kind.AUTH,
            "The API key was not accepted.",
            "Check the key (sidebar, .env or secrets.toml) and paste a valid one.",
            detail=detail,
        )
    if status == 403:
        return ChatError(
            Kind.PERMISSION,
            "This key is not allowed to use this model or endpoint.",
            "Pick another model, or check the key's project and permissions.",
            detail=detail,
        )
    if status == 404:
        return ChatError(
            Kind.NOT_FOUND,
            f"The model {model!r} was not found at this endpoint." if model else detail,
            "Pick another model in the sidebar, or check OPENAI_BASE_URL.",
            detail=detail,
        )
    if status == 429:
        return _rate_limit(exc, code, detail)
    overflow = _context_overflow(exc)
    if overflow is not None:
        return overflow
    if _NO_VISION_WORDS.search(_server_text(exc)):  # llama.cpp says it with a 500
        return ChatError(
            Kind.NO_VISION,
            f"The model {model!r} does not accept images." if model else _server_text(exc),
            "Pick a model that reads images (a vision model) in the sidebar and retry, or "
            "send your text without the image; your message is kept.",
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
        f"The server rejected the request: {_server_text(exc)}",
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


def _context_overflow(exc: openai.APIError) -> ChatError | None:
    """A context-overflow error in any known dialect, with the numbers the server gave."""
    body = exc.body if isinstance(exc.body, dict) else {}
    text = _server_text(exc)
    names = {str(exc.code or ""), str(body.get("type") or ""), str(body.get("code") or "")}
    if not (names & _OVERFLOW_CODES or _OVERFLOW_WORDS.search(text)):
        return None
    prompt = server_count(body.get("n_prompt_tokens")) or _number(_PROMPT_PATTERNS, text)
    window = server_count(body.get("n_ctx")) or _number(_WINDOW_PATTERNS, text)
    if prompt and window:
        message = f"The conversation is {prompt:,} tokens; this model holds {window:,}."
    elif window:
        message = f"The conversation is longer than this model's context window ({window:,})."
    else:
        message = "The conversation is longer than this model's context window."
    return ChatError(
        Kind.CONTEXT_LENGTH,
        message,
        "Drop the oldest turns and retry, start a new chat, or pick a model with a larger context.",
        detail=_detail(exc),
        prompt_tokens=prompt,
        context_window=window,
    )


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


def _server_text(exc: openai.APIError) -> str:
    """The server's own words: the error's message, or a bare error string (LM Studio)."""
    body = exc.body
    text = exc.message
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        text = body["message"]
    elif isinstance(body, str) and body.strip():
        text = body.strip()
    return text[:MAX_SERVER_TEXT]


def _detail(exc: openai.APIError) -> str:
    parts = [_server_text(exc)]
    if isinstance(exc, openai.APIStatusError):
        parts.insert(0, f"HTTP {exc.status_code}")
    if exc.code:
        parts.append(f"code={exc.code}")
    return " · ".join(parts)
