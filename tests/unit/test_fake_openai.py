"""The fake OpenAI server speaks the real wire format: checked with the real `openai` client.

Each fault must surface as the exception the real API would cause, so tests of the app built
on this fake mean something. Timing tests compare event order, never absolute durations.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import openai
import pytest
from openai import OpenAI
from openai.types.chat import ChatCompletionChunk

from testing import fake_openai
from testing.fake_openai import FakeOpenAI, Reply, blackhole, split_words, unused_port

MESSAGES: list[Any] = [{"role": "user", "content": "Hi there"}]
ROOT = Path(__file__).resolve().parents[2]
# Loading the CA bundle costs ~40 ms per client; share one context (tests use plain HTTP anyway).
SSL_CONTEXT = ssl.create_default_context()


def make_client(base_url: str, **kwargs: Any) -> OpenAI:
    """The real client with the SDK's own HTTP defaults (DefaultHttpxClient), no retries."""
    kwargs.setdefault("timeout", 5.0)
    http_client = openai.DefaultHttpxClient(verify=SSL_CONTEXT)
    return OpenAI(
        api_key="sk-test", base_url=base_url, max_retries=0, http_client=http_client, **kwargs
    )


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def client(server: FakeOpenAI) -> Iterator[OpenAI]:
    with make_client(server.base_url) as c:
        yield c


def stream(client: OpenAI, **kwargs: Any) -> list[ChatCompletionChunk]:
    kwargs.setdefault("model", "gpt-4o-mini")
    kwargs.setdefault("messages", MESSAGES)
    return list(client.chat.completions.create(stream=True, **kwargs))


def text_of(chunks: list[ChatCompletionChunk]) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def raw_post(server: FakeOpenAI, path: str, payload: object) -> tuple[int, bytes]:
    """POST with http.client (no proxies, no client library in between)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("POST", path, json.dumps(payload), {"Content-Type": "application/json"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw_get(server: FakeOpenAI, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def raw_stream_bytes(server: FakeOpenAI, body: dict[str, Any]) -> bytes:
    """The undecoded response (headers + chunked body) until the server stops sending."""
    data = json.dumps(body).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(data), data)
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


# -- happy path ------------------------------------------------------------------------------


def test_split_words_keeps_all_whitespace() -> None:
    text = "  Hello there,\n\ngeneral  Kenobi! "
    pieces = split_words(text)
    assert "".join(pieces) == text
    assert pieces[:2] == ["  Hello", " there,"]


def test_streamed_text_arrives_exactly(server: FakeOpenAI, client: OpenAI) -> None:
    text = "Hello there, général Kenobi! 👋\n"
    server.enqueue(Reply(text=text))
    chunks = stream(client)
    assert text_of(chunks) == text
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    deltas = [c.choices[0].delta.content for c in chunks[1:-1]]
    assert deltas == split_words(text)  # one event per word
    assert chunks[-1].choices[0].finish_reason == "stop"
    assert {c.id for c in chunks} == {chunks[0].id}


def test_explicit_chunks_override_text(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="ignored", chunks=["Hel", "lo", ""]))
    chunks = stream(client)
    assert [c.choices[0].delta.content for c in chunks[1:-1]] == ["Hel", "lo", ""]


def test_default_reply_echoes_last_user_message(server: FakeOpenAI, client: OpenAI) -> None:
    messages = [
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [{"type": "text", "text": "look"}, {"type": "text", "text": "here"}],
        },
    ]
    assert text_of(stream(client, messages=messages)) == "Echo: look here"


VLLM_CONTINUES = {"continue_final_message": True, "add_generation_prompt": False}


@pytest.mark.parametrize(
    ("dialect", "extra_body", "expected"),
    [
        (fake_openai.Dialect(name="llamacpp"), {}, fake_openai.CONTINUATION),
        (fake_openai.Dialect(name="llamacpp", prefill_assistant=False), {}, "Echo: Say hi"),
        (fake_openai.Dialect(name="vllm"), VLLM_CONTINUES, fake_openai.CONTINUATION),
        (fake_openai.Dialect(name="vllm"), {}, "Echo: Say hi"),
        (fake_openai.Dialect(name="vllm"), {"continue_final_message": True}, "Echo: Say hi"),
        (fake_openai.Dialect(name="ollama"), {}, fake_openai.CONTINUATION),
        (fake_openai.Dialect(name="lmstudio"), {}, "Echo: Say hi"),
        (fake_openai.Dialect(name="openai"), {}, "Echo: Say hi"),
    ],
)
def test_a_final_assistant_message_is_continued_only_where_the_server_prefills(
    server: FakeOpenAI,
    client: OpenAI,
    dialect: fake_openai.Dialect,
    extra_body: dict[str, Any],
    expected: str,
) -> None:
    server.dialect = dialect
    messages = [{"role": "user", "content": "Say hi"}, {"role": "assistant", "content": "Hi,"}]
    assert text_of(stream(client, messages=messages, extra_body=extra_body)) == expected


def test_model_is_echoed_or_overridden(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a"), Reply(text="b", model="gpt-4o-2024-08-06"))
    assert {c.model for c in stream(client, model="o3-mini")} == {"o3-mini"}
    assert {c.model for c in stream(client)} == {"gpt-4o-2024-08-06"}


def test_usage_chunk_when_include_usage(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="one two three"))
    chunks = stream(client, stream_options={"include_usage": True})
    *content, last = chunks
    assert last.choices == []
    assert last.usage is not None
    assert last.usage.completion_tokens == 3
    assert last.usage.prompt_tokens == len("Hi there") // 4 + 4
    assert last.usage.total_tokens == last.usage.prompt_tokens + 3
    assert all(c.usage is None for c in content)


def test_usage_numbers_can_be_overridden(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="x", prompt_tokens=120, completion_tokens=7))
    usage = stream(client, stream_options={"include_usage": True})[-1].usage
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (120, 7, 127)


def test_no_usage_when_disabled_or_not_requested(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b", usage=False), Reply(text="a b"))
    without_support = stream(client, stream_options={"include_usage": True})
    not_requested = stream(client)
    for chunks in (without_support, not_requested):
        assert all(c.usage is None and c.choices for c in chunks)
        assert text_of(chunks) == "a b"


@pytest.mark.parametrize("reason", ["stop", "length", "content_filter"])
def test_finish_reason(server: FakeOpenAI, client: OpenAI, reason: str) -> None:
    server.enqueue(Reply(text="cut short", finish_reason=reason))
    last = stream(client)[-1]
    assert last.choices[0].finish_reason == reason
    assert last.choices[0].delta.content is None


def test_finish_reason_none_sends_no_final_chunk(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b", finish_reason=None))
    chunks = stream(client)
    assert text_of(chunks) == "a b"
    assert all(c.choices[0].finish_reason is None for c in chunks)
    assert server.chat_requests[-1].sent[-1][1] == "[DONE]"


def test_non_streaming_completion(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="Hello there", finish_reason="length"))
    completion = client.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert completion.object == "chat.completion"
    assert completion.model == "gpt-4o"
    assert completion.choices[0].message.role == "assistant"
    assert completion.choices[0].message.content == "Hello there"
    assert completion.choices[0].finish_reason == "length"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 2


# -- wire format -----------------------------------------------------------------------------


def test_stream_wire_format(server: FakeOpenAI) -> None:
    server.enqueue(Reply(text="Hi you"))
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": True}
    raw = raw_stream_bytes(server, body)
    head, _, chunked = raw.partition(b"\r\n\r\n")
    headers = head.decode().lower() + "\r\n"
    assert headers.startswith("http/1.1 200")
    assert "content-type: text/event-stream; charset=utf-8\r\n" in headers
    assert "transfer-encoding: chunked\r\n" in headers
    assert "x-request-id: " in headers
    assert chunked.endswith(b"data: [DONE]\n\n\r\n0\r\n\r\n")  # proper terminating chunk
    events = server.chat_requests[-1].sent
    first = json.loads(events[0][1])
    assert list(first) == [
        "id",
        "object",
        "created",
        "model",
        "system_fingerprint",
        "choices",
        "usage",
    ]
    assert first["id"].startswith("chatcmpl-fake-")
    assert first["usage"] is None
    assert first["choices"] == [
        {
            "index": 0,
            "delta": {"role": "assistant", "content": "", "refusal": None},
            "logprobs": None,
            "finish_reason": None,
        }
    ]
    assert json.loads(events[1][1])["choices"][0]["delta"] == {"content": "Hi"}
    finish = json.loads(events[3][1])["choices"][0]
    assert (finish["delta"], finish["finish_reason"]) == ({}, "stop")
    usage = json.loads(events[4][1])["usage"]
    assert usage["prompt_tokens_details"] == {"cached_tokens": 0, "audio_tokens": 0}
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 0
    # Each SSE event travels in its own chunk of the chunked encoding, compact JSON.
    assert f"\r\ndata: {events[1][1]}\n\n\r\n".encode() in chunked
    assert b'"choices":[{"index":0,"delta":{"content":" you"}' in chunked


def test_first_tokens_arrive_before_last_is_sent(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(chunks=["a", "b", "c", "d", "e"], chunk_delay=0.2))
    first_received: float | None = None
    for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
        if first_received is None and chunk.choices and chunk.choices[0].delta.content:
            first_received = time.monotonic()
    sent = server.chat_requests[-1].sent
    last_content_sent = next(t for t, data in reversed(sent) if '"content":"e"' in data)
    assert first_received is not None
    assert first_received < last_content_sent


def test_first_token_delay_happens_after_headers(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="late", first_token_delay=0.5))
    response = client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    # create() returned, so headers are in, while the server has not sent any event yet.
    assert server.chat_requests[-1].sent == []
    assert text_of(list(response)) == "late"


# -- recording -------------------------------------------------------------------------------


def test_requests_are_recorded(server: FakeOpenAI, client: OpenAI) -> None:
    stream(client, temperature=0.3, stream_options={"include_usage": True})
    client.models.list()
    chat = server.chat_requests
    assert len(chat) == 1
    assert [(r.method, r.path) for r in server.requests] == [
        ("POST", "/v1/chat/completions"),
        ("GET", "/v1/models"),
    ]
    assert chat[0].headers["authorization"] == "Bearer sk-test"
    assert chat[0].headers["content-type"] == "application/json"
    assert server.last_chat_body == {
        "messages": MESSAGES,
        "model": "gpt-4o-mini",
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
    }


def test_request_is_recorded_even_when_reply_is_a_fault(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(fault="cut"))
    with pytest.raises(openai.APIConnectionError):
        stream(client, messages=[{"role": "user", "content": "doomed"}])
    assert server.last_chat_body is not None
    assert server.last_chat_body["messages"][0]["content"] == "doomed"


def test_clear_and_wait_for_chat_requests(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="queued"))
    server.clear()
    assert text_of(stream(client)) == "Echo: Hi there"
    assert len(server.wait_for_chat_requests(1, timeout=1)) == 1
    server.clear()
    assert server.requests == []
    assert server.last_chat_body is None
    with pytest.raises(TimeoutError):
        server.wait_for_chat_requests(1, timeout=0.05)


def test_wait_for_chat_requests_blocks_until_they_arrive(
    server: FakeOpenAI, client: OpenAI
) -> None:
    worker = threading.Thread(target=stream, args=(client,))
    worker.start()
    assert len(server.wait_for_chat_requests(1, timeout=5)) == 1
    worker.join(timeout=5)


# -- status errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "exc_type", "error"),
    [
        (
            401,
            openai.AuthenticationError,
            {"type": "invalid_request_error", "code": "invalid_api_key"},
        ),
        (404, openai.NotFoundError, {"type": "invalid_request_error", "code": "model_not_found"}),
        (429, openai.RateLimitError, {"type": "requests", "code": "rate_limit_exceeded"}),
        (500, openai.InternalServerError, {"type": "server_error", "code": None}),
    ],
)
@pytest.mark.parametrize("streaming", [True, False])
def test_status_errors(
    server: FakeOpenAI,
    client: OpenAI,
    status: int,
    exc_type: type[openai.APIStatusError],
    error: dict[str, Any],
    streaming: bool,
) -> None:
    headers = {"Retry-After": "7", "x-request-id": "req_123"}
    server.enqueue(
        Reply(status=status, error={"message": f"boom {status}", **error}, headers=headers)
    )
    with pytest.raises(exc_type) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES, stream=streaming)
    exc = caught.value
    assert exc.status_code == status
    assert exc.code == error["code"]
    assert exc.type == error["type"]
    assert exc.param is None
    assert exc.body == {"message": f"boom {status}", "param": None, **error}
    assert exc.response.headers["retry-after"] == "7"
    assert exc.request_id == "req_123"


def test_error_defaults_fill_the_envelope(server: FakeOpenAI) -> None:
    server.enqueue(Reply(status=503))
    status, body = raw_post(server, "/v1/chat/completions", {"model": "m", "messages": []})
    assert status == 503
    assert json.loads(body) == {
        "error": {"message": "Fake error", "type": None, "param": None, "code": None}
    }


def test_unknown_path_is_404_with_error_body(server: FakeOpenAI, client: OpenAI) -> None:
    status, body = raw_get(server, "/v1/nope")
    assert status == 404
    assert json.loads(body)["error"]["type"] == "invalid_request_error"
    with pytest.raises(openai.NotFoundError):
        client.embeddings.create(model="m", input="x")


# -- stream faults ---------------------------------------------------------------------------


def test_cut_raises_connection_error_after_partial_text(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="one two three four", fault="cut", fault_after=2))
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError) as caught:
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert not isinstance(caught.value, openai.APITimeoutError)
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert "".join(received) == "one two"


def test_cut_omits_the_terminating_chunk(server: FakeOpenAI) -> None:
    server.enqueue(Reply(text="a b", fault="cut", fault_after=1))
    raw = raw_stream_bytes(server, {"model": "m", "messages": MESSAGES, "stream": True})
    assert raw.endswith(b'"finish_reason":null}]}\n\n\r\n')
    assert b"0\r\n\r\n" not in raw.partition(b"\r\n\r\n")[2]


def test_malformed_event_raises_json_error(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="one two", fault="malformed", fault_after=1))
    received: list[str] = []
    with pytest.raises(json.JSONDecodeError):
        for chunk in client.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one"


def test_error_event_raises_api_error(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(
        Reply(text="a b", fault="error_event", fault_after=1, error={"message": "overloaded"})
    )
    with pytest.raises(openai.APIError) as caught:
        stream(client)
    assert not isinstance(caught.value, openai.APIStatusError | openai.APIConnectionError)
    assert caught.value.message == "overloaded"
    assert caught.value.type == "server_error"


def test_no_done_ends_quietly(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b c", fault="no_done"))
    chunks = stream(client, stream_options={"include_usage": True})
    assert text_of(chunks) == "a b c"
    assert all(c.choices[0].finish_reason is None and c.usage is None for c in chunks)
    assert "[DONE]" not in [data for _, data in server.chat_requests[-1].sent]


def test_hang_hits_read_timeout(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b c", fault="hang", fault_after=1))
    fast = client.with_options(timeout=httpx2.Timeout(5, read=0.5))
    received: list[str] = []
    with pytest.raises(openai.APITimeoutError):
        for chunk in fast.chat.completions.create(model="m", messages=MESSAGES, stream=True):
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "a"


def test_slow_headers_hits_read_timeout_in_create(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a", fault="slow_headers", first_token_delay=2.0))
    fast = client.with_options(timeout=httpx2.Timeout(5, read=0.3))
    with pytest.raises(openai.APITimeoutError):
        fast.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert server.chat_requests[-1].sent == []  # nothing was sent before the client gave up


def test_release_resumes_a_hang(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b c", fault="hang", fault_after=1))
    result: list[str] = []
    worker = threading.Thread(target=lambda: result.append(text_of(stream(client))))
    worker.start()
    server.wait_for_chat_requests(1)
    server.release()  # also frees a handler that has not reached the hang yet
    worker.join(timeout=5)
    assert result == ["a b c"]


def test_close_releases_a_hanging_handler_quickly(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="a b", fault="hang", chunk_delay=10.0))
    outcome: list[object] = []

    def consume() -> None:
        try:
            outcome.append(text_of(stream(client)))
        except openai.APIError as exc:
            outcome.append(exc)

    worker = threading.Thread(target=consume)
    worker.start()
    server.wait_for_chat_requests(1)
    started = time.monotonic()
    server.close()
    worker.join(timeout=5)
    # Far below the 30 s hang limit and the 10 s chunk delay: both waits were cut short.
    assert time.monotonic() - started < 5
    assert not worker.is_alive()
    assert outcome == ["a b"]


# -- connection faults -----------------------------------------------------------------------


def test_refused_port_raises_connection_error() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    with make_client(url) as refused, pytest.raises(openai.APIConnectionError) as caught:
        refused.models.list()
    assert not isinstance(caught.value, openai.APITimeoutError)


def test_blackhole_raises_connect_timeout() -> None:
    with (
        blackhole() as url,
        make_client(url, timeout=httpx2.Timeout(1.0)) as c,
        pytest.raises(openai.APITimeoutError) as caught,
    ):
        c.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(caught.value.__cause__, httpx2.ConnectTimeout)


# -- models and reasoning-model rules --------------------------------------------------------


def test_models_list_and_fault(server: FakeOpenAI, client: OpenAI) -> None:
    server.models = ["gpt-4o-mini", "o3-mini"]
    models = client.models.list()
    assert [m.id for m in models.data] == ["gpt-4o-mini", "o3-mini"]
    assert all(m.owned_by == "fake" and m.object == "model" for m in models.data)
    server.models_reply = Reply(status=500, error={"message": "down", "type": "server_error"})
    with pytest.raises(openai.InternalServerError, match="down"):
        client.models.list()


def test_reject_max_tokens_like_a_reasoning_model(server: FakeOpenAI, client: OpenAI) -> None:
    server.reject_params = {"max_tokens", "temperature"}
    server.enqueue(Reply(text="kept"))
    with pytest.raises(openai.BadRequestError) as caught:
        stream(client, max_tokens=100)
    assert caught.value.code == "unsupported_parameter"
    assert caught.value.param == "max_tokens"
    assert caught.value.type == "invalid_request_error"
    assert "Use 'max_completion_tokens' instead." in caught.value.message
    # The rejected request did not consume the queued reply.
    assert text_of(stream(client, max_completion_tokens=100)) == "kept"


def test_reject_temperature_unless_default(server: FakeOpenAI, client: OpenAI) -> None:
    server.reject_params = {"temperature": None}  # a dict works too; values are ignored
    with pytest.raises(openai.BadRequestError) as caught:
        stream(client, temperature=0.7)
    assert caught.value.code == "unsupported_value"
    assert caught.value.param == "temperature"
    assert "does not support 0.7 with this model" in caught.value.message
    assert text_of(stream(client, temperature=1)) == "Echo: Hi there"
    assert len(server.chat_requests) == 2


def test_reply_rejects_unknown_fault() -> None:
    with pytest.raises(ValueError, match="unknown fault"):
        Reply(fault="explode")


# -- hostile servers -------------------------------------------------------------------------


def raw_first_bytes(server: FakeOpenAI, body: dict[str, Any], size: int) -> bytes:
    """The first `size` bytes of the response, then hang up."""
    data = json.dumps(body).encode()
    request = (
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\n\r\n%s" % (len(data), data)
    )
    received = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(request)
        while len(received) < size and (chunk := sock.recv(size - len(received))):
            received += chunk
    return received


STREAM_BODY: dict[str, Any] = {"model": "m", "messages": MESSAGES, "stream": True}


def test_trickle_sends_sse_comment_bytes_one_chunk_each(server: FakeOpenAI) -> None:
    server.enqueue(Reply(text="a b", fault="trickle", fault_after=1, trickle_every=0.01))
    raw = raw_first_bytes(server, STREAM_BODY, 2000)
    _, _, body = raw.partition(b"\r\n\r\n")
    assert b'"content":"a"' in body and b'"content":" b"' not in body
    assert b"1\r\n:\r\n1\r\n \r\n1\r\nk\r\n1\r\ne\r\n" in body  # ": keep-alive\n", a byte each


def test_trickle_headers_never_finishes_the_header_block(server: FakeOpenAI) -> None:
    server.enqueue(Reply(fault="trickle_headers", trickle_every=0.01))
    raw = raw_first_bytes(server, STREAM_BODY, 40)
    assert raw.startswith(b"HTTP/1.1 200 OK\r\nX-Trickle: aaa") and b"\r\n\r\n" not in raw


def test_endless_streams_until_the_client_leaves(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(text="x ", fault="endless"))
    received = ""
    with client.chat.completions.create(model="m", messages=MESSAGES, stream=True) as chunks:
        for chunk in chunks:
            received += text_of([chunk])
            if len(received) >= 10_000:
                break
    assert received.startswith("x x x x ")
    server.close()  # returns although the endless handler was mid-write


def test_html_fault_is_a_200_web_page(server: FakeOpenAI) -> None:
    server.enqueue(Reply(fault="html"))
    status, body = raw_post(server, "/v1/chat/completions", STREAM_BODY)
    assert status == 200 and body.startswith(b"<!doctype html>")


def test_huge_headers_are_refused_by_the_client(server: FakeOpenAI, client: OpenAI) -> None:
    server.enqueue(Reply(fault="huge_headers"))
    with pytest.raises(openai.APIConnectionError) as caught:
        stream(client)
    assert "too long" in str(caught.value.__cause__)


def test_json_fault_answers_a_stream_request_with_one_completion(server: FakeOpenAI) -> None:
    server.enqueue(Reply(text="Whole", fault="json"))
    status, body = raw_post(server, "/v1/chat/completions", STREAM_BODY)
    completion = json.loads(body)
    assert status == 200 and completion["object"] == "chat.completion"
    assert completion["choices"][0]["message"]["content"] == "Whole"
    server.enqueue(Reply(fault="json", body='{"status":"ok"}'))
    assert raw_post(server, "/v1/chat/completions", STREAM_BODY) == (200, b'{"status":"ok"}')


def test_raw_usage_json_and_surrogates_go_out_as_written(server: FakeOpenAI) -> None:
    usage = '{"prompt_tokens":Infinity,"completion_tokens":NaN}'
    server.enqueue(Reply(chunks=["a\ud800", [{"type": "text", "text": "b"}], 7], usage_json=usage))
    body = {**STREAM_BODY, "stream_options": {"include_usage": True}}
    raw = raw_stream_bytes(server, body)
    assert b'"content":"a\\ud800"' in raw
    assert b'"content":[{"type":"text","text":"b"}]' in raw and b'"content":7' in raw
    assert b'"usage":' + usage.encode() in raw


def test_raw_error_body_goes_out_as_written(server: FakeOpenAI, client: OpenAI) -> None:
    body = '{"error":"context the overflows","n_ctx":4096}'
    server.enqueue(Reply(status=400, body=body))
    status, received = raw_post(server, "/v1/chat/completions", STREAM_BODY)
    assert (status, received) == (400, body.encode())


BURST = 200  # connections opened at once: fifty sessions sending together, times four


def test_a_burst_of_new_connections_is_served_whole(server: FakeOpenAI) -> None:
    """Fifty app sessions sending at once open fifty connections at once. With Python's
    default listen backlog (5) the kernel answered the overflow with SYN cookies and then
    reset the connections whose cookie it could not check: the app reported a reply
    "dropped" that never began (1 in 18 `make bench` runs). Real servers listen with a
    backlog in the hundreds or thousands (uvicorn 2048, nginx 511)."""
    request = b"GET /v1/models HTTP/1.1\r\nHost: fake\r\nConnection: close\r\n\r\n"
    go = threading.Barrier(BURST)
    failures: list[str] = []

    def one() -> None:
        go.wait()
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
                sock.sendall(request)
                answer = b""
                while chunk := sock.recv(65536):
                    answer += chunk
            if not answer.startswith(b"HTTP/1.1 200"):
                failures.append(repr(answer[:40]))
        except OSError as exc:
            failures.append(repr(exc))

    threads = [threading.Thread(target=one) for _ in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


@pytest.mark.parametrize(
    ("fault", "cause"),
    [("hangup", httpx2.RemoteProtocolError), ("reset", httpx2.ReadError)],
)
def test_a_server_can_close_without_answering(
    server: FakeOpenAI, client: OpenAI, fault: str, cause: type[Exception]
) -> None:
    server.enqueue(Reply(text="never sent", fault=fault))
    with pytest.raises(openai.APIConnectionError) as caught:
        client.chat.completions.create(model="m", messages=MESSAGES, stream=True)
    assert isinstance(caught.value.__cause__, cause)
    assert len(server.chat_requests) == 1


def test_a_crash_in_the_fake_fails_the_test(monkeypatch: pytest.MonkeyPatch) -> None:
    """A bug in the fake (not a fault it plays) used to print a traceback and pass."""

    def broken(handler: object, fake: FakeOpenAI) -> None:
        raise ZeroDivisionError("a bug in the fake")

    monkeypatch.setattr(fake_openai._Handler, "_models", broken)
    with (
        pytest.raises(AssertionError, match="ZeroDivisionError"),
        FakeOpenAI() as server,
        contextlib.suppress(http.client.HTTPException, OSError),
    ):
        raw_get(server, "/v1/models")


# -- llama.cpp's shared KV cache ---------------------------------------------------------------


def llamacpp(server: FakeOpenAI, window: int = 200, slots: int = 4) -> None:
    server.dialect = fake_openai.Dialect(
        name="llamacpp", context_window=window, total_slots=slots, shared_cache=True
    )


def test_props_report_slots_and_a_slots_window(server: FakeOpenAI) -> None:
    llamacpp(server, window=4096, slots=4)
    status, body = raw_get(server, "/props")
    props = json.loads(body)
    assert status == 200
    assert props["total_slots"] == 4
    assert props["default_generation_settings"]["n_ctx"] == 4096  # unified: the whole cache
    server.dialect.shared_cache = False
    props = json.loads(raw_get(server, "/props")[1])
    assert props["default_generation_settings"]["n_ctx"] == 1024  # split among the slots


def test_parallel_streams_that_overflow_the_shared_cache_all_end_with_llamacpps_error(
    server: FakeOpenAI,
) -> None:
    llamacpp(server, window=200)
    words = " ".join(["word"] * 80)
    server.default_reply = Reply(chunk_delay=0.002)
    body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": words}]}
    results: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: results.append(raw_stream_bytes(server, body)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    event = b'data: {"error":{"code":500,"message":"Context size has been exceeded.",'
    failed = [r for r in results if event in r]
    assert failed, "three streams of ~100 tokens each cannot share 200"
    assert all(b"[DONE]" not in r for r in failed)
    assert all(r.startswith(b"HTTP/1.1 200") for r in failed)  # mid-stream, after the status


def test_one_stream_that_fits_completes_and_stops_at_max_tokens(
    server: FakeOpenAI, client: OpenAI
) -> None:
    llamacpp(server, window=200)
    server.enqueue(Reply(text=" ".join(["w"] * 50)))
    chunks = stream(client, max_tokens=10, stream_options={"include_usage": True})
    assert len(split_words(text_of(chunks))) == 10
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 10


def test_a_prompt_as_long_as_the_window_is_refused_with_llamacpps_400(server: FakeOpenAI) -> None:
    llamacpp(server, window=100)
    body = {"model": "m", "messages": [{"role": "user", "content": "x " * 200}]}
    status, raw = raw_post(server, "/v1/chat/completions", body)
    error = json.loads(raw)["error"]
    assert status == 400
    assert error["type"] == "exceed_context_size_error"
    assert error["n_ctx"] == 100 and error["n_prompt_tokens"] >= 100
    assert "exceeds the available context size (100 tokens)" in error["message"]


def test_close_after_stream_drops_the_next_request_on_that_connection(server: FakeOpenAI) -> None:
    server.dialect = fake_openai.Dialect(name="llamacpp", close_after_stream=True)
    body = {"model": "m", "stream": True, "messages": MESSAGES}
    with httpx2.Client() as http:
        first = http.post(f"{server.base_url}/chat/completions", json=body)
        assert first.status_code == 200
        with pytest.raises(httpx2.RemoteProtocolError, match="without sending a response"):
            http.post(f"{server.base_url}/chat/completions", json=body)
    assert server.dropped == 1
