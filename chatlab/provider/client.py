"""The model client: one ``OpenAI`` per endpoint, starting replies.

The SDK loads on first use, not on import: it takes a third of a second, and a new
session's first page needs none of it (the model list comes over httpx, from
``chatlab.provider.servers``). ``warm_up`` loads it in the background once that page is drawn.

Reasoning models reject ``max_tokens`` (they take ``max_completion_tokens``) and any
temperature but 1, answering 400 with ``code`` ``unsupported_parameter`` or
``unsupported_value`` and the offending ``param``. Many compatible servers, on the other
hand, only know ``max_tokens``. So we send ``max_tokens`` first and learn per model: a
rejection adjusts ``Quirks`` and the request is retried once per setting; the page keeps
the quirks so later requests go right the first time.

The optional sampling parameters (those ``chatlab.params`` declares "when set": top_p,
seed, stop, the penalties, reasoning_effort) are sent only when the user set them, and
learnt the same way: a model that rejects one gets the request again without it, from then
on, and a notice names the control that has no effect. ``logprobs`` / ``top_logprobs``
(the Probabilities toggle) go and are dropped together.

``response_format`` (structured output, ``chatlab.structured``) is one of those, with two
differences: some servers refuse it without OpenAI's code, in their own words (LM Studio's
whole error is a string), which ``chatlab.provider.dialects.refuses_response_format`` knows;
and such a refusal is learnt for the format type sent (``response_format:json_object``), as
servers take one type and not the other (LM Studio only json_schema, older llama.cpp only
json_object). A schema the server finds fault with is not a refusal of the field: it is
shown, to be fixed.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import httpx2

from chatlab import config, controls
from chatlab.config import OPENAI_BASE_URL, Endpoint, Timeouts
from chatlab.deadline import Watch, tls_context, watch_client
from chatlab.errors import ChatError
from chatlab.logprobs import NO_LOGPROBS
from chatlab.messages import ChatSettings
from chatlab.params import Sending, declared
from chatlab.provider.dialects import refuses_response_format
from chatlab.provider.server_errors import (
    not_a_reply,
    stalled,
    stopped_early,
    to_chat_error,
    web_page,
)
from chatlab.provider.stream import ChunkStream, Clock, ReplyStream, field
from chatlab.structured import ResponseFormat
from chatlab.tokens import estimate_prompt_tokens
from chatlab.url_policy import guarded_transport

if TYPE_CHECKING:
    import openai

JSON_SLACK = 1_000_000  # bytes a completion object holds besides its text
# A notice names the setting, never its widget: a slider on Chat is a typed list on Compare.
TEMPERATURE_IGNORED = (
    f"This model only accepts its default temperature: the {controls.TEMPERATURE} setting "
    "has no effect."
)
MAX_TOKENS_IGNORED = (
    f"This model does not accept a reply-length cap: the {controls.MAX_TOKENS} setting has "
    "no effect."
)


def optional_params_labels() -> dict[str, str]:
    """Each request field sent only when set (``chatlab.params``), with its sidebar control."""
    return {d.field: d.param.label for d in declared() if d.param.sending == "when set"}


def logprob_params() -> frozenset[str]:
    """The request fields asked for, and refused, together with the Probabilities toggle."""
    return frozenset(d.field for d in declared() if d.param.sending == "with logprobs")


def param_ignored(param: str) -> str:
    """The notice for an optional parameter this model rejected."""
    label = optional_params_labels()[param]
    return f"This model does not accept {param}: the {label} setting has no effect."


def make_client(endpoint: Endpoint, timeouts: Timeouts) -> openai.OpenAI:
    """A client for ``endpoint``; the SDK's own retries are off (the UI offers Retry)."""
    import openai

    # A server that needs no key gets no Authorization header. The SDK insists on a
    # credential: an empty key provider passes its check at construction, and each
    # request then omits the header explicitly (see ``_auth``).
    key: str | Callable[[], str] = endpoint.api_key or (lambda: "")
    base_url = endpoint.base_url or OPENAI_BASE_URL
    return openai.OpenAI(
        api_key=key,
        base_url=base_url,
        timeout=httpx2.Timeout(timeouts.read, connect=timeouts.connect),
        max_retries=0,
        http_client=watch_client(_http_client(endpoint, base_url)),
    )


def _http_client(endpoint: Endpoint, base_url: str) -> httpx2.Client:
    """The SDK's own defaults (limits, redirects, proxies from the environment) for the
    operator's endpoint; for a typed one, ``chatlab.url_policy``'s guarded transport and
    no redirects (the transport is the only way out, so no proxy either)."""
    import openai

    if endpoint.policy is None:
        return openai.DefaultHttpxClient(verify=tls_context())
    transport = guarded_transport(endpoint.policy, base_url)
    return openai.DefaultHttpxClient(transport=transport, follow_redirects=False, trust_env=False)


WARM_UP = ("openai", "genai_prices")  # what a reply needs and a first page does not
_warming = threading.Lock()


def warm_up() -> None:
    """Load the SDK and the price tables on a background thread, once: by the time
    someone has typed a message they are ready. A request made meanwhile waits only for
    the rest of the load."""
    if _warming.acquire(blocking=False):  # never released: once per process
        threading.Thread(target=_load, args=(WARM_UP,), name="chatlab-warm-up", daemon=True).start()


def _load(modules: tuple[str, ...]) -> None:
    for name in modules:
        importlib.import_module(name)


def _auth(client: openai.OpenAI) -> dict[str, Any]:
    """Per-request headers: an explicitly omitted Authorization for a keyless client."""
    import openai

    return {} if client.api_key else {"Authorization": openai.Omit()}


@dataclass(frozen=True)
class Quirks:
    """What a model turned out not to accept."""

    completion_tokens_param: bool = False
    no_max_tokens: bool = False
    no_temperature: bool = False
    no_stream_options: bool = False
    # Optional request fields it rejects; "response_format:<type>" for one format type only
    # (LM Studio refuses json_object and takes json_schema).
    dropped: frozenset[str] = frozenset()
    no_logprobs: bool = False

    def adjusted_for(
        self, exc: openai.BadRequestError, sent: Mapping[str, Any] | None = None
    ) -> Quirks | None:
        """The quirks that avoid this rejection of the body ``sent``, or None when it is
        not about a setting."""
        refused = _format_refused(sent or {})
        if refused and refused not in self.dropped and refuses_response_format(_said(exc)):
            return replace(self, dropped=self.dropped | {refused})
        if exc.code not in {"unsupported_parameter", "unsupported_value"}:
            return None
        param = exc.param or ""
        # A rejected stop sequence may be named by its place in the list ("stop[1]").
        name = param.split("[", 1)[0].split(".", 1)[0]
        if name in optional_params_labels() and name not in self.dropped:
            return replace(self, dropped=self.dropped | {name})
        if name in logprob_params() and not self.no_logprobs:
            return replace(self, no_logprobs=True)
        if param == "temperature" and not self.no_temperature:
            return replace(self, no_temperature=True)
        if param == "max_tokens" and not self.completion_tokens_param:
            return replace(self, completion_tokens_param=True)
        if param == "max_completion_tokens" and not self.no_max_tokens:
            return replace(self, no_max_tokens=True)
        if param.startswith("stream_options") and not self.no_stream_options:
            return replace(self, no_stream_options=True)
        return None

    def drops(self, name: str, value: Any) -> bool:
        """Whether the optional request field ``name`` with ``value`` goes unsent."""
        return name in self.dropped or _format_refused({name: value}) in self.dropped

    def notices(self, settings: ChatSettings) -> tuple[str, ...]:
        """What to tell the user about controls this model ignores (optional ones if set)."""
        found = []
        if self.no_temperature:
            found.append(TEMPERATURE_IGNORED)
        if self.no_max_tokens:
            found.append(MAX_TOKENS_IGNORED)
        wanted = optional_params(settings)
        found += [param_ignored(name) for name, value in wanted.items() if self.drops(name, value)]
        if self.no_logprobs and settings.logprobs:
            found.append(NO_LOGPROBS)
        return tuple(found)


RESPONSE_FORMAT = "response_format"  # structured output (chatlab.structured)


def _format_refused(sent: Mapping[str, Any]) -> str:
    """The quirk a refusal of ``sent``'s response format learns: its type only."""
    asked = sent.get(RESPONSE_FORMAT)
    kind = asked.get("type") if isinstance(asked, Mapping) else None
    return f"{RESPONSE_FORMAT}:{kind}" if isinstance(kind, str) else ""


def _said(exc: openai.BadRequestError) -> str:
    """A rejection's words: the SDK's message and the body (LM Studio's is one string)."""
    return f"{exc.message} {exc.body}"


def optional_params(settings: ChatSettings) -> dict[str, Any]:
    """The optional parameters the user set, as the request carries them."""
    return _set_params(settings, "when set")


def _set_params(settings: ChatSettings, sending: Sending) -> dict[str, Any]:
    """The declared parameters sent this way that are set (not None, not their default, and
    what they need is on), by request field. The Probabilities ones go only when truthy:
    top_logprobs 0 asks for no alternatives, which is what leaving it out asks for."""
    found: dict[str, Any] = {}
    for param in declared():
        value = getattr(settings, param.name)
        needed = param.param.needs is None or getattr(settings, param.param.needs)
        unset = value is None or value == param.default
        if sending == "with logprobs" and not value:
            unset = True
        if param.param.sending == sending and needed and not unset:
            found[param.field] = _sent(value)
    return found


def _sent(value: Any) -> Any:
    """A parameter's value as the request carries it: lists for tuples, a response format
    as its ``response_format`` object (its schema checked before: ``schema_problem``)."""
    if isinstance(value, tuple):
        return list(value)
    return value.request_value() if isinstance(value, ResponseFormat) else value


def request_options(
    settings: ChatSettings,
    messages: list[dict[str, str]],
    quirks: Quirks,
    extra_body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The body of a streaming chat completion request: what the user set and the model
    takes, then ``extra_body``'s fields (a server's own, as the SDK's ``extra_body`` adds)."""
    body: dict[str, Any] = {"model": settings.model, "messages": messages, "stream": True}
    if not quirks.no_stream_options:
        body["stream_options"] = {"include_usage": True}
    if not quirks.no_temperature:
        body["temperature"] = settings.temperature
    if not quirks.no_max_tokens:
        param = "max_completion_tokens" if quirks.completion_tokens_param else "max_tokens"
        body[param] = settings.max_tokens
    for name, value in optional_params(settings).items():
        if not quirks.drops(name, value):
            body[name] = value
    if not quirks.no_logprobs:
        body.update(_set_params(settings, "with logprobs"))
    body.update(extra_body or {})
    return body


def start_reply(
    client: openai.OpenAI,
    settings: ChatSettings,
    messages: list[dict[str, str]],
    *,
    quirks: Quirks | None = None,
    clock: Clock = time.perf_counter,
    timeouts: Timeouts | None = None,
    max_chars: int | None = None,
    watch: Watch | None = None,
    extra_body: Mapping[str, Any] | None = None,
) -> tuple[ReplyStream, Quirks]:
    """Send the request and return the open stream, with the quirks it needed.

    ``extra_body`` adds fields only some servers take (``prefill.prefix_fields``): they
    are in the recorded request too. ``timeouts`` and ``max_chars`` default to the
    configuration. Closing ``watch`` from
    another thread stops the request before the stream exists (``Kind.STOPPED``).
    """
    import openai

    quirks = quirks or Quirks()
    timeouts = timeouts or config.timeouts()
    watch = watch or Watch()
    started = clock()
    # Ends: each pass returns, raises, or turns on one more quirk (four flags and one
    # dropped name per optional parameter).
    while True:
        watch.start(timeouts.connect + timeouts.read, timeouts.reply)
        try:
            with watch.active():
                body = request_options(settings, messages, quirks, extra_body)
                chunks = _checked(_send(client, body), max_chars or config.max_reply_chars())
        except openai.BadRequestError as exc:
            adjusted = quirks.adjusted_for(exc, body)
            if adjusted is None:
                raise to_chat_error(exc, model=settings.model) from exc
            quirks = adjusted
            continue
        except Exception as exc:
            raise _failed(exc, watch, timeouts, settings.model) from exc
        stream = ReplyStream(
            chunks,
            model=settings.model,
            prompt_tokens=estimate_prompt_tokens(messages),
            started=started,
            clock=clock,
            notices=quirks.notices(settings),
            watch=watch,
            timeouts=timeouts,
            max_chars=max_chars or config.max_reply_chars(),
            request=body,
            base_url=str(client.base_url),
        )
        return stream, quirks


def _failed(exc: Exception, watch: Watch, timeouts: Timeouts, model: str) -> ChatError:
    if watch.closed:
        return stopped_early()
    if watch.expired:
        return stalled(timeouts.read)
    return to_chat_error(exc, model=model)


def _send(client: openai.OpenAI, body: dict[str, Any]) -> ChunkStream:
    """POST the body as built, streaming.

    ``chat.completions.create`` first walks every message through the SDK's type-driven
    transforms, which costs about 0.3 s per request at 3,000 messages (measured with a
    sampling profiler) for a body that needs none: it is plain JSON already. The client's
    ``post`` (the SDK's documented way to reach any endpoint) sends it as it is, with the
    same auth, retries, timeouts and stream parsing.

    Chunks come as the JSON the server sent (``Stream[object]``): building each as a
    ``ChatCompletionChunk`` model took two thirds of the time to read a 2,000-token reply
    (cProfile), and ``ReplyStream`` reads and checks every field itself anyway.
    """
    import openai
    from openai.types.chat import ChatCompletion

    stream: ChunkStream = client.post(
        "/chat/completions",
        body=body,
        cast_to=ChatCompletion,
        stream=True,
        stream_cls=openai.Stream[object],
        options={"headers": _auth(client), "security": {"bearer_auth": True}},
    )
    return stream


def _checked(chunks: ChunkStream, max_chars: int) -> ChunkStream:
    """The SDK's stream, unless the server answered with a web page or a plain JSON body."""
    response = getattr(chunks, "response", None)
    if not isinstance(response, httpx2.Response):
        return chunks
    kind = response.headers.get("content-type", "").lower()
    url = response.url.copy_with(query=None)
    if "text/html" in kind:
        chunks.close()
        raise web_page(url)
    if "json" not in kind:
        return chunks
    try:  # a server that ignores stream=true: its whole reply is one completion object
        payload = _read_json(response, limit=max_chars * 6 + JSON_SLACK)
    finally:
        chunks.close()
    replayed = completion_chunks(payload)
    if replayed is None:
        raise not_a_reply(url, "a JSON document that is not a chat completion")
    return _Replayed(replayed)


def _read_json(response: httpx2.Response, *, limit: int) -> object:
    body = bytearray()
    for piece in response.iter_bytes():
        body += piece
        if len(body) > limit:
            raise not_a_reply(response.url, "a JSON document too large to be one reply")
    try:
        return json.loads(body)
    except ValueError:
        raise not_a_reply(response.url, "a document that is neither a stream nor JSON") from None


def completion_chunks(payload: object) -> list[dict[str, Any]] | None:
    """A non-streamed ``chat.completion`` as the one chunk it would have streamed."""
    choices = field(payload, "choices")
    first = choices[0] if isinstance(choices, list) and choices else None
    message = field(first, "message")
    if message is None:
        return None
    delta: dict[str, Any] = {"content": field(message, "content")}
    calls = field(message, "tool_calls")
    if isinstance(calls, list):  # whole calls: each one piece, by its place
        delta["tool_calls"] = [
            {**c, "index": i} for i, c in enumerate(calls) if isinstance(c, dict)
        ]
    choice = {
        "delta": delta,
        "logprobs": field(first, "logprobs"),
        "finish_reason": field(first, "finish_reason"),
    }
    return [
        {"model": field(payload, "model"), "usage": field(payload, "usage"), "choices": [choice]}
    ]


class _Replayed:
    """Chunks already in hand, offered as a stream."""

    def __init__(self, chunks: list[dict[str, Any]]) -> None:
        self._chunks = chunks

    def __iter__(self) -> Iterator[Any]:
        return iter(self._chunks)

    def close(self) -> None:
        pass
