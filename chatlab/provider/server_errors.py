"""What failures talking to a model server mean: each becomes one ``ChatError``.

The OpenAI SDK raises a family of exceptions, and a compatible server or the network
adds a few of its own (``json.JSONDecodeError`` for a malformed chunk, for one). Pages
never see those: ``to_chat_error`` maps each to a message a person can act on, and
``http_error`` does the same for a request made with httpx alone (the model list).

Importing this module does not load the SDK (a third of a second): only the SDK raises
its exceptions, so they are looked for only once it is loaded.

The contract itself is ``chatlab.errors``; the servers' own wordings (context overflow,
no vision, a full cache) are matched in ``chatlab.provider.dialects``. Besides the mapping, the
named failures a reply can end in (``empty_reply``, ``stalled``, ...) live here, so every
sentence about a model server is in one file. Where advice names a control (Continue,
Max tokens) the name comes from ``chatlab.controls``, which labels the widget too; a model
is picked in the sidebar on one page and typed on another, so no place is named for it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

import httpx2

from chatlab.controls import BASE_URL, CONTINUE, MAX_TOKENS, RETRY
from chatlab.errors import NOT_COMPATIBLE_CODE, ChatError, Kind
from chatlab.provider.dialects import (
    prompt_size,
    refuses_images,
    says_cache_full,
    says_overflow,
    server_count,
    window_size,
)
from chatlab.url_policy import from_typed_url, openai_error_object

if TYPE_CHECKING:
    import openai

__all__ = [
    "capacity_exceeded",
    "empty_reply",
    "http_error",
    "incomplete_stream",
    "no_answer_at_length",
    "not_a_reply",
    "reply_timed_out",
    "reply_too_long",
    "retry_after_seconds",
    "stalled",
    "stopped_early",
    "to_chat_error",
    "web_page",
]

MAX_SERVER_TEXT = 2000  # characters of a server's error message worth showing
NOT_COMPATIBLE_EVENT = (
    "an error that is not an OpenAI error object: this is not an OpenAI-compatible server"
)


def to_chat_error(exc: BaseException, *, model: str = "", answered: bool = False) -> ChatError:
    """Explain any exception raised while talking to the model; ``answered``: the reply's
    stream had begun (a connection lost then is a reply cut short, not one never sent)."""
    if isinstance(exc, ChatError):
        return exc
    if isinstance(exc.__cause__, ChatError):  # raised in a transport, wrapped by the SDK
        return exc.__cause__
    if "openai" in sys.modules:
        explained = _sdk_error(exc, model=model, answered=answered)
        if explained is not None:
            return explained
    if isinstance(exc, httpx2.TimeoutException):
        return _timeout()
    if isinstance(exc, httpx2.TransportError):  # raised bare while reading a body
        return _dropped(f"{type(exc).__name__}: {exc}")
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


def _sdk_error(exc: BaseException, *, model: str, answered: bool) -> ChatError | None:
    """One of the SDK's exceptions explained; None for any other exception."""
    import openai  # loaded already: the caller checked

    if isinstance(exc, openai.APITimeoutError):
        return _timeout()
    if isinstance(exc, openai.APIConnectionError):
        return _connection(exc, answered=answered)
    if isinstance(exc, openai.APIStatusError):
        return _status(_Refusal.of_sdk(exc), model)
    if isinstance(exc, openai.APIError):
        refusal = _Refusal.of_sdk(exc)
        if from_typed_url(exc.request):
            refusal = refusal.as_typed()
        return _context_overflow(refusal) or ChatError(
            Kind.STREAM_ERROR,
            f"The server reported an error during the reply: {refusal.server_text}",
            "Retry; what arrived before the error is kept.",
            detail=refusal.detail,
        )
    return None


def http_error(exc: Exception, url: object) -> ChatError:
    """Explain a failed request made with httpx alone (``raise_for_status`` included), or
    an answer that is not JSON (``ValueError``), as the SDK's would be explained."""
    if isinstance(exc, httpx2.HTTPStatusError):
        return _status(_Refusal.of_response(exc.response), "")
    if isinstance(exc, httpx2.TimeoutException):
        return _timeout()
    server = httpx2.URL(str(url)).copy_with(path="/", query=None, fragment=None)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx2.TransportError):
        if _hung_up(exc):
            return _closed_without_answer(server, text)
        return _unreachable(server, text)
    if isinstance(exc, ValueError):
        return not_a_reply(url, "something that is not a model list")
    return to_chat_error(exc)


@dataclass(frozen=True)
class _Refusal:
    """What a server said in an error answer, however it reached us."""

    status: int | None  # None for an error event inside a 200 stream
    body: object  # the error object (``{"error": ...}`` unwrapped), or the raw text
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def of_sdk(cls, exc: openai.APIError) -> _Refusal:
        response = getattr(exc, "response", None)
        return cls(
            status=getattr(exc, "status_code", None),
            body=exc.body,
            message=exc.message,
            headers=response.headers if response is not None else {},
        )

    @classmethod
    def of_response(cls, response: httpx2.Response) -> _Refusal:
        """As the SDK reads an error answer: JSON if it parses, its ``error`` unwrapped."""
        try:
            body: object = response.json()
        except ValueError:
            body = response.text
        data = body.get("error", body) if isinstance(body, dict) else body
        return cls(
            status=response.status_code,
            body=data,
            message=f"Error code: {response.status_code} - {body}",
            headers=response.headers,
        )

    def as_typed(self) -> _Refusal:
        """What may show of an error from a Base URL a visitor typed: an OpenAI error's
        ``error.message`` (capped at ``url_policy.MAX_ERROR_MESSAGE``) and identifiers;
        any other error (a bare string, a number, an object with no message) in our words."""
        kept = openai_error_object(self.body) or {
            "message": NOT_COMPATIBLE_EVENT,
            "code": NOT_COMPATIBLE_CODE,
        }
        return _Refusal(self.status, kept, str(kept["message"]), self.headers)

    @property
    def code(self) -> str:
        code = self.body.get("code") if isinstance(self.body, dict) else None
        return str(code) if code is not None else ""

    @property
    def server_text(self) -> str:
        """The server's own words: the error's message, or a bare error string (LM Studio)."""
        text = self.message
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            text = self.body["message"]
        elif isinstance(self.body, str) and self.body.strip():
            text = self.body.strip()
        return text[:MAX_SERVER_TEXT]

    @property
    def detail(self) -> str:
        parts = [self.server_text]
        if self.status is not None:
            parts.insert(0, f"HTTP {self.status}")
        if self.code:
            parts.append(f"code={self.code}")
        return " · ".join(parts)


def incomplete_stream() -> ChatError:
    """The stream ended without a finish reason."""
    return ChatError(
        Kind.INCOMPLETE,
        "The reply ended before the model said it was finished.",
        f"{RETRY}, or use {CONTINUE} to ask for the rest; what arrived is kept.",
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
        f"Raise {MAX_TOKENS} (reasoning models often need several thousand) and retry.",
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


def _connection(exc: openai.APIConnectionError, *, answered: bool) -> ChatError:
    cause = exc.__cause__
    text = f"{type(cause).__name__}: {cause}" if cause else exc.message
    server = exc.request.url.copy_with(path="/")
    if "buffer too long" in str(cause):  # h11 refuses a header block over 100 KB
        return ChatError(
            Kind.NOT_COMPATIBLE,
            f"The server at {server} sent response headers too large to read (over 100 KB).",
            "Check OPENAI_BASE_URL: a proxy or server there is misbehaving; retrying "
            "will not help until it is fixed.",
            detail=text,
        )
    if _hung_up(cause) and answered:
        return _dropped(text)
    if _hung_up(cause):
        return _closed_without_answer(server, text)
    return _unreachable(server, text)


def _dropped(detail: str) -> ChatError:
    return ChatError(
        Kind.STREAM_CUT,
        "The connection dropped in the middle of the reply.",
        "Retry; what arrived before the drop is kept.",
        detail=detail,
    )


def _closed_without_answer(server: object, detail: str) -> ChatError:
    return ChatError(
        Kind.CONNECTION,
        f"The model server at {server} closed the connection without answering.",
        "Retry. If it keeps happening, the server may be overloaded or restarting: check its log.",
        detail=detail,
    )


def _unreachable(server: object, detail: str) -> ChatError:
    return ChatError(
        Kind.CONNECTION,
        f"Could not reach the model server at {server}.",
        "Check OPENAI_BASE_URL and that the server is running, then retry.",
        detail=detail,
    )


def _hung_up(cause: BaseException | None) -> bool:
    """The connection was made, then closed or reset before any answer."""
    return isinstance(cause, httpx2.RemoteProtocolError | httpx2.ReadError | httpx2.WriteError)


def _status(exc: _Refusal, model: str) -> ChatError:
    status, code, detail = exc.status or 0, exc.code, exc.detail
    if code == NOT_COMPATIBLE_CODE and status not in (401, 403, 429) and status < 500:
        return _not_compatible(exc.server_text)
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
            "Pick another model, or check OPENAI_BASE_URL.",
            detail=detail,
        )
    if status == 429:
        return _rate_limit(exc, code, detail)
    overflow = _context_overflow(exc)
    if overflow is not None:
        return overflow
    if refuses_images(exc.server_text):  # llama.cpp says it with a 500
        return ChatError(
            Kind.NO_VISION,
            f"The model {model!r} does not accept images." if model else exc.server_text,
            "Pick a model that reads images (a vision model) and retry, or "
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
        f"The server rejected the request: {exc.server_text}",
        "Change the settings the message names, then retry.",
        detail=detail,
    )


def _not_compatible(text: str) -> ChatError:
    """Our own words for an answer a typed Base URL's server sent (shown no further)."""
    return ChatError(
        Kind.NOT_COMPATIBLE,
        text,
        f"Check the {BASE_URL}: it should end in /v1 (or the path your server documents).",
        retryable=False,
    )


def _rate_limit(exc: _Refusal, code: str, detail: str) -> ChatError:
    if code == "insufficient_quota":
        return ChatError(
            Kind.QUOTA,
            "This API key has run out of quota.",
            "Add credit or raise the limit in your provider's billing settings; "
            "retrying will not help until then.",
            retryable=False,
            detail=detail,
        )
    wait = retry_after_seconds(exc.headers)
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


def _context_overflow(exc: _Refusal) -> ChatError | None:
    """A context-overflow error in any known dialect, with the numbers the server gave."""
    body = exc.body if isinstance(exc.body, dict) else {}
    text = exc.server_text
    names = {exc.code, str(body.get("type") or ""), str(body.get("code") or "")}
    if not says_overflow(text, names):
        return None
    if says_cache_full(text):
        return capacity_exceeded(text, exc.detail)
    prompt = server_count(body.get("n_prompt_tokens")) or prompt_size(text)
    window = server_count(body.get("n_ctx")) or window_size(text)
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
        detail=exc.detail,
        prompt_tokens=prompt,
        context_window=window,
    )


def capacity_exceeded(server_text: str, detail: str | None = None) -> ChatError:
    """The server ran out of room for the requests it runs at once (not this one's size)."""
    return ChatError(
        Kind.CAPACITY,
        "The server ran out of room for requests running at once: together they filled "
        f"the context it shares between them (it said: {server_text.strip()}). "
        "This conversation itself fits.",
        "Retry when fewer requests are running; what arrived is kept.",
        detail=detail,
    )
