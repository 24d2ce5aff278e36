""" "Check this server": a few tiny requests that show what an endpoint supports.

Every probe asks for at most a few tokens, each request has a short timeout and the whole
check a time budget, so it ends in seconds even against a slow CPU server. A probe that
could not run is "unknown", never a guess. The report is plain data so the session can
keep it and the chat adapt (e.g. estimate tokens when no usage chunk comes).

What a server said is shown only when it is the app's own server. From a Base URL a
visitor typed, the guarded transport already turns every answer other than 200 into an
OpenAI error object; the check reads nothing but its ``error.message`` all the same
(``openai_error_fields``), so no path of this module can show such a server's body.

Each request (about five a click) is held by ``admit`` as a chat request is (the visitor's
rate and the process's in-flight bound, ``chatlab.guard.limits``): over the rate, the
gate's ``ChatError`` ends the check and reaches the caller, which shows it; nothing more
is sent.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import httpx2

from chatlab.config import OPENAI_BASE_URL, Endpoint
from chatlab.errors import ChatError, Kind
from chatlab.model_names import display_name
from chatlab.provider.background import Admit
from chatlab.provider.servers import context_window, http_client, list_server_models
from chatlab.url_policy import openai_error_fields

Status = Literal["yes", "no", "unknown"]
_T = TypeVar("_T")

REACHABLE = "Reachable"
KEY = "Key accepted"
MODELS = "Models listed"
STREAMING = "Streaming"
USAGE = "Usage chunk sent"
LOGPROBS = "Logprobs supported"
CONTEXT = "Context window known"
REASONING = "Reasoning fields"
ALTERNATION = "Strict role alternation"
VISION = "Vision (image input)"
ORDER = (REACHABLE, KEY, MODELS, STREAMING, USAGE, LOGPROBS, CONTEXT, REASONING, ALTERNATION)

# A 1x1 red PNG: the smallest image every vision model accepts.
TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR4nGP4"
    "z8DwHwAFAAH/iZk9HQAAAABJRU5ErkJggg=="
)
_MESSAGE_LIMIT = 200


@dataclass(frozen=True)
class Check:
    """One row: what was probed, what was seen, and what Chat Lab does about it."""

    name: str
    status: Status
    finding: str
    consequence: str


@dataclass(frozen=True)
class ServerReport:
    """What one endpoint and model support, as found by ``check_server``."""

    base_url: str
    model: str
    checks: tuple[Check, ...]
    context_window: int | None = None

    def status(self, name: str) -> Status:
        """The status of the check called ``name`` ("unknown" when it was not run)."""
        return next((c.status for c in self.checks if c.name == name), "unknown")

    def supports(self, name: str) -> bool | None:
        """True / False for a yes / no check, None when unknown."""
        status = self.status(name)
        return None if status == "unknown" else status == "yes"


@dataclass
class _Probe:
    """One check run: the client, the deadline, and what earlier probes learnt."""

    client: httpx2.Client
    base_url: str
    model: str
    deadline: float
    clock: Callable[[], float]
    typed: bool = False  # a Base URL a visitor typed: see the module's docstring
    tokens_param: str = "max_tokens"
    admit: Admit | None = None
    found: dict[str, Check] = field(default_factory=dict)
    _never: threading.Event = field(default_factory=threading.Event)  # nothing cancels a check

    def send(self, request: Callable[[], _T]) -> _T:
        """Make one request, held by ``admit`` (over the rate: its ``ChatError``, unsent)."""
        held = self.admit(self._never) if self.admit else contextlib.nullcontext()
        with held:
            return request()

    def add(self, name: str, status: Status, finding: str, consequence: str) -> None:
        self.found[name] = Check(name, status, finding, consequence)

    def said(self, response: httpx2.Response) -> str:
        """What the server said in ``response``, as far as it may be shown."""
        return server_said(response, typed=self.typed)

    def out_of_time(self) -> bool:
        return self.clock() > self.deadline

    def post(self, body: dict[str, Any]) -> httpx2.Response:
        """POST a chat request; a 400 for ``max_tokens`` (reasoning models) renames the cap."""
        body = {"model": self.model, self.tokens_param: 8, **body}
        url = f"{self.base_url}/chat/completions"
        response = self.send(lambda: once_more_if_closed(lambda: self.client.post(url, json=body)))
        if response.status_code == 400 and _error_param(response) == "max_tokens":
            self.tokens_param = "max_completion_tokens"
            body["max_completion_tokens"] = body.pop("max_tokens")
            response = self.send(
                lambda: once_more_if_closed(lambda: self.client.post(url, json=body))
            )
        return response


def server_said(response: httpx2.Response, *, typed: bool) -> str:
    """What the server said in ``response``, as far as it may be shown: from a Base URL a
    visitor ``typed``, only an OpenAI error object's ``message`` (see the module's docstring)."""
    if not typed:
        return _server_message(response)
    error = openai_error_fields(response.content)
    if error is None:
        return f"not an OpenAI-compatible server (HTTP {response.status_code})"
    return " ".join(str(error["message"]).split())


def once_more_if_closed(send: Callable[[], httpx2.Response]) -> httpx2.Response:
    """Send; again, once, if the server had closed the kept-alive connection the request
    went out on. A server may close an idle connection at any moment (llama-server does
    after a stream); the request then meets a closed socket and gets no answer at all,
    and RFC 9110 (9.2.2) lets a client resend an idempotent or unanswered request on a
    new connection. The pool drops the dead connection, so the second try opens one."""
    try:
        return send()
    except (httpx2.RemoteProtocolError, httpx2.ReadError, httpx2.WriteError) as exc:
        if not _closed_unanswered(exc):
            raise
    return send()


def _closed_unanswered(exc: httpx2.TransportError) -> bool:
    """The connection was closed or reset before any byte of an answer came."""
    text = str(exc).lower()
    return "without sending a response" in text or "reset" in text or "broken pipe" in text


def check_server(
    endpoint: Endpoint,
    model: str,
    *,
    timeout: float = 8.0,
    budget: float = 30.0,
    clock: Callable[[], float] = time.monotonic,
    admit: Admit | None = None,
) -> ServerReport:
    """Probe ``endpoint`` with ``model`` and return one readable row per capability.

    ``admit`` holds each request (see the module's docstring); its ``ChatError`` (over the
    rate, or the process busy) is raised, not reported as a row.
    """
    base_url = (endpoint.base_url or OPENAI_BASE_URL).rstrip("/")
    limits = httpx2.Timeout(timeout, connect=min(timeout, 3.0))
    guarded = http_client(endpoint.api_key, limits, policy=endpoint.policy, base_url=base_url)
    with guarded as client:
        deadline = clock() + budget
        typed = endpoint.policy is not None
        probe = _Probe(client, base_url, model, deadline, clock, typed, admit=admit)
        try:
            window = _run(probe, endpoint, timeout)
        except ChatError as err:  # a typed base URL this app may not reach
            if err.kind == Kind.RATE_LIMIT:  # the gate's: no finding about the server
                raise
            window = None
            probe.add(REACHABLE, "no", err.message, err.action)
    checks = [probe.found.get(name) or _not_run(name) for name in ORDER]
    if VISION in probe.found:
        checks.append(probe.found[VISION])
    return ServerReport(base_url, model, tuple(checks), window)


def _run(probe: _Probe, endpoint: Endpoint, timeout: float) -> int | None:
    """Run the probes in order, stopping where the rest cannot tell anything."""
    if not _check_listing(probe):
        return None
    window = _check_window(probe, endpoint, timeout)
    if not _check_stream(probe):
        return window
    for step in (_check_logprobs, _check_alternation, _check_vision):
        if probe.out_of_time():
            break
        step(probe)
    return window


def _not_run(name: str) -> Check:
    return Check(name, "unknown", "not checked", "checked again by the next Check this server")


# -- the probes ------------------------------------------------------------------------------


def _check_listing(probe: _Probe) -> bool:
    """Reachable, key accepted (when the listing needs one), models listed."""
    try:
        url = f"{probe.base_url}/models"
        response = probe.send(lambda: once_more_if_closed(lambda: probe.client.get(url)))
    except httpx2.HTTPError as exc:
        probe.add(REACHABLE, "no", transport_problem(exc), "check the base URL and the server")
        return False
    probe.add(REACHABLE, "yes", f"answered HTTP {response.status_code}", "Chat Lab can reach it")
    if response.status_code in (401, 403):
        detail = f"HTTP {response.status_code}: {probe.said(response)}"
        probe.add(KEY, "no", detail, "paste a valid key in the sidebar")
        return False
    ids = _listed_ids(response)
    if ids is None:
        detail = f"no model list (HTTP {response.status_code})"
        probe.add(MODELS, "no", detail, "Chat Lab asks for the model id: type it")
    elif probe.model in ids:
        detail = f"{len(ids)} listed, {display_name(probe.model)} among them"
        probe.add(MODELS, "yes", detail, "Chat Lab offers them to pick from")
    else:
        detail = f"{len(ids)} listed; {display_name(probe.model)} is not among them"
        probe.add(MODELS, "no", detail, "pick one of the listed models")
    return True


def _check_window(probe: _Probe, endpoint: Endpoint, timeout: float) -> int | None:
    try:
        models = probe.send(
            lambda: list_server_models(
                endpoint.base_url, endpoint.api_key, timeout=timeout, policy=endpoint.policy
            )
        )
    except (httpx2.HTTPError, ValueError):
        models = []
    window = context_window(models, probe.model)
    if window:
        probe.add(CONTEXT, "yes", f"{window:,} tokens", "the context budget uses it")
    else:
        detail = "the server does not say"
        probe.add(CONTEXT, "no", detail, "Chat Lab uses its model facts, else shows unknown")
    return window


def _check_stream(probe: _Probe) -> bool:
    """Streaming, usage chunk, reasoning fields; also whether the key works for chat."""
    body = {
        "messages": [{"role": "user", "content": "Say OK."}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    try:
        response = probe.post(body)
    except httpx2.HTTPError as exc:
        probe.add(
            STREAMING, "no", transport_problem(exc), "check the server's log, then check again"
        )
        return False
    if not _check_key(probe, response):
        return False
    if response.status_code != 200:
        detail = f"HTTP {response.status_code}: {probe.said(response)}"
        probe.add(STREAMING, "no", detail, "pick another model, or check the server's log")
        return False
    events = list(_events(response.text))
    chunks = [e for e in events if isinstance(e.get("choices"), list)]
    if not chunks:
        probe.add(STREAMING, "no", "no chunks in the answer", "check the server's log")
        return False
    probe.add(STREAMING, "yes", f"{len(chunks)} chunks", "replies appear as they are written")
    _note_usage(probe, events)
    _note_reasoning(probe, chunks)
    return True


def _check_key(probe: _Probe, response: httpx2.Response) -> bool:
    if response.status_code in (401, 403):
        detail = f"HTTP {response.status_code}: {probe.said(response)}"
        probe.add(KEY, "no", detail, "paste a valid key in the sidebar")
        return False
    sent = probe.client.headers.get("Authorization") is not None
    probe.add(KEY, "yes", "accepted" if sent else "no key needed", "—")
    return True


def _note_usage(probe: _Probe, events: list[dict[str, Any]]) -> None:
    if any(isinstance(e.get("usage"), dict) for e in events):
        probe.add(USAGE, "yes", "token counts sent", "token counts are the server's")
    else:
        probe.add(USAGE, "no", "no usage chunk", "token counts estimated, marked ≈")


def _note_reasoning(probe: _Probe, chunks: list[dict[str, Any]]) -> None:
    names = {
        name
        for chunk in chunks
        for choice in chunk["choices"]
        if isinstance(choice, dict) and isinstance(choice.get("delta"), dict)
        for name in ("reasoning_content", "reasoning")
        if choice["delta"].get(name)
    }
    if names:
        probe.add(REASONING, "yes", f"sent as {', '.join(sorted(names))}", "kept apart from reply")
    else:
        probe.add(REASONING, "unknown", "none in a short reply", "nothing to do")


def _check_logprobs(probe: _Probe) -> None:
    body = {"messages": [{"role": "user", "content": "Say OK."}], "logprobs": True}
    response = _post_quietly(probe, {**body, "top_logprobs": 1})
    if isinstance(response, httpx2.HTTPError):
        probe.add(LOGPROBS, "unknown", transport_problem(response), "not offered")
    elif response.status_code != 200:
        detail = f"rejected (HTTP {response.status_code}): {probe.said(response)}"
        probe.add(LOGPROBS, "no", detail, "token probabilities not available")
    elif _has_logprobs(response):
        probe.add(LOGPROBS, "yes", "returned", "token probabilities can be shown")
    else:
        probe.add(LOGPROBS, "no", "accepted but none returned", "token probabilities not available")


def _check_alternation(probe: _Probe) -> None:
    twice = [{"role": "user", "content": "Hi."}, {"role": "user", "content": "Hello?"}]
    response = _post_quietly(probe, {"messages": twice})
    if isinstance(response, httpx2.HTTPError):
        probe.add(
            ALTERNATION, "unknown", transport_problem(response), "roles kept alternating anyway"
        )
    elif response.status_code >= 400:
        detail = f"two user turns in a row rejected: {probe.said(response)}"
        probe.add(ALTERNATION, "yes", detail, "Chat Lab always sends alternating turns")
    else:
        probe.add(ALTERNATION, "no", "two user turns in a row accepted", "nothing to do")


def _check_vision(probe: _Probe) -> None:
    parts = [
        {"type": "text", "text": "What colour is this?"},
        {"type": "image_url", "image_url": {"url": TINY_PNG}},
    ]
    response = _post_quietly(probe, {"messages": [{"role": "user", "content": parts}]})
    if isinstance(response, httpx2.HTTPError):
        probe.add(VISION, "unknown", transport_problem(response), "send text only")
    elif response.status_code == 200:
        probe.add(VISION, "yes", "an image was accepted", "images can be sent")
    else:
        detail = f"an image was rejected (HTTP {response.status_code})"
        probe.add(VISION, "no", f"{detail}: {probe.said(response)}", "send text only")


# -- reading answers ---------------------------------------------------------------------------


def _post_quietly(probe: _Probe, body: dict[str, Any]) -> httpx2.Response | httpx2.HTTPError:
    try:
        return probe.post(body)
    except httpx2.HTTPError as exc:
        return exc


def _events(text: str) -> Iterator[dict[str, Any]]:
    """The JSON objects of an SSE body (``[DONE]`` and anything unparsable skipped)."""
    for line in text.splitlines():
        data = line.removeprefix("data:").strip() if line.startswith("data:") else ""
        if not data or data == "[DONE]":
            continue
        try:
            parsed = json.loads(data)
        except ValueError:
            continue
        if isinstance(parsed, dict):
            yield parsed


def _has_logprobs(response: httpx2.Response) -> bool:
    try:
        logprobs = response.json()["choices"][0].get("logprobs")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return False
    return isinstance(logprobs, dict) and bool(logprobs.get("content"))


def _listed_ids(response: httpx2.Response) -> list[str] | None:
    if response.status_code != 200:
        return None
    try:
        data = response.json().get("data")
    except (ValueError, AttributeError):
        return None
    if not isinstance(data, list):
        return None
    return [str(e["id"]) for e in data if isinstance(e, dict) and "id" in e]


def _error_param(response: httpx2.Response) -> str | None:
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return None
    return str(error.get("param")) if isinstance(error, dict) else None


def _server_message(response: httpx2.Response) -> str:
    """The error text a server sent, on one line and short (shown as plain text)."""
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    if isinstance(payload, dict):
        error = payload.get("error", payload)
        payload = error.get("message", error) if isinstance(error, dict) else error
    text = " ".join(str(payload).split())
    if len(text) <= _MESSAGE_LIMIT:
        return text
    # Both ends: llama.cpp puts the template's own error last, after a source excerpt.
    half = _MESSAGE_LIMIT // 2
    return f"{text[:half]} … {text[-half:]}"


def transport_problem(exc: httpx2.HTTPError) -> str:
    if isinstance(exc, httpx2.TimeoutException):
        return "no answer in time"
    if isinstance(exc, httpx2.ConnectError):
        return "connection refused or no route"
    return f"connection failed ({type(exc).__name__})"
