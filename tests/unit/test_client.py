"""The real openai client against the fake server: streaming, telemetry, every fault."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any, get_args

import httpx2
import openai
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.errors import ChatError, Kind
from chatlab.messages import REASONING_EFFORTS, ChatSettings
from chatlab.provider.client import (
    MAX_TOKENS_IGNORED,
    TEMPERATURE_IGNORED,
    Quirks,
    make_client,
    optional_params_labels,
    param_ignored,
    request_options,
    start_reply,
)
from chatlab.structured import ResponseFormat
from testing.fake_openai import FakeOpenAI, Reply, blackhole, unused_port

SETTINGS = ChatSettings(model="gpt-4o-mini", temperature=0.3, max_tokens=50)
MESSAGES = [{"role": "system", "content": "sys"}, {"role": "user", "content": "hello"}]
FAST = Timeouts(connect=1.0, read=1.0)


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, FAST) as made:
        yield made


def _reply(client: openai.OpenAI, quirks: Quirks | None = None) -> tuple[str, object, Quirks]:
    stream, learnt = start_reply(client, SETTINGS, MESSAGES, quirks=quirks)
    return "".join(stream), stream, learnt


def _fail(client: openai.OpenAI) -> tuple[ChatError, str]:
    stream = None
    with pytest.raises(ChatError) as caught:
        stream, _ = start_reply(client, SETTINGS, MESSAGES)
        "".join(stream)
    return caught.value, (stream.text if stream is not None else "")


def test_streams_text_and_sends_settings(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="Hello there, friend."))
    text, _, _ = _reply(client)
    assert text == "Hello there, friend."
    body = fake.last_chat_body
    assert body is not None
    assert body["messages"] == MESSAGES
    assert (body["temperature"], body["max_tokens"], body["stream"]) == (0.3, 50, True)
    assert body["stream_options"] == {"include_usage": True}
    assert fake.chat_requests[-1].headers["authorization"] == "Bearer sk-unit"


def test_usage_chunk_is_recorded_exactly(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="a b c", prompt_tokens=11, completion_tokens=3))
    _, stream, _ = _reply(client)
    stats = stream.stats()  # type: ignore[attr-defined]
    assert (stats.usage.prompt_tokens, stats.usage.completion_tokens) == (11, 3)
    assert not stats.usage.estimated
    assert stats.finish_reason == "stop"
    assert stats.time_to_first_token is not None
    assert 0 <= stats.time_to_first_token <= stats.total_time
    assert stats.cost_usd is None  # a local server has no list price: tests/unit/test_prices.py


def test_usage_is_estimated_and_marked_when_server_sends_none(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="x" * 40, usage=False))
    _, stream, _ = _reply(client)
    usage = stream.stats().usage  # type: ignore[attr-defined]
    assert usage.estimated
    assert usage.completion_tokens == 10
    assert usage.prompt_tokens > 0


def test_time_to_first_token_reflects_server_think_time(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="quick", first_token_delay=0.3))
    _, stream, _ = _reply(client)
    assert stream.stats().time_to_first_token >= 0.3  # type: ignore[attr-defined]


@pytest.mark.parametrize("reason", ["length", "content_filter"])
def test_finish_reason_is_recorded(fake: FakeOpenAI, client: openai.OpenAI, reason: str) -> None:
    fake.enqueue(Reply(text="cut off", finish_reason=reason))
    _, stream, _ = _reply(client)
    assert stream.finish_reason == reason  # type: ignore[attr-defined]


def test_reasoning_model_retries_with_max_completion_tokens_and_no_temperature(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.reject_params = {"max_tokens", "temperature"}
    fake.enqueue(Reply(text="thought hard"))
    text, stream, learnt = _reply(client)
    assert text == "thought hard"
    bodies = [r.body for r in fake.chat_requests]
    assert len(bodies) == 3  # max_tokens rejected, then temperature, then success
    assert "max_tokens" not in bodies[-1] and bodies[-1]["max_completion_tokens"] == 50
    assert "temperature" not in bodies[-1]
    assert learnt == Quirks(completion_tokens_param=True, no_temperature=True)
    assert stream.notices == (TEMPERATURE_IGNORED,)  # type: ignore[attr-defined]
    fake.enqueue(Reply(text="again"))
    _reply(client, learnt)
    assert len(fake.chat_requests) == 4  # learnt quirks: right the first time


def test_server_that_knows_neither_token_param_gets_none(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.reject_params = {"max_tokens", "max_completion_tokens"}
    fake.enqueue(Reply(text="ok"))
    _, stream, learnt = _reply(client)
    assert learnt.no_max_tokens
    assert MAX_TOKENS_IGNORED in stream.notices  # type: ignore[attr-defined]


# One value per optional parameter, as ChatSettings holds it and as the request carries it.
SET_PARAMS: dict[str, tuple[Any, Any]] = {
    "top_p": (0.4, 0.4),
    "seed": (42, 42),
    "stop": (("END", "\n\n"), ["END", "\n\n"]),
    "presence_penalty": (-0.5, -0.5),
    "frequency_penalty": (1.5, 1.5),
    "reasoning_effort": ("low", "low"),
    "response_format": (ResponseFormat("json_object"), {"type": "json_object"}),
}


def _with(name: str) -> ChatSettings:
    return replace(SETTINGS, **{name: SET_PARAMS[name][0]})


def test_every_optional_param_has_a_control_and_a_test_value() -> None:
    assert SET_PARAMS.keys() == optional_params_labels().keys()


def test_request_carries_no_optional_param_unless_set() -> None:
    body = request_options(SETTINGS, MESSAGES, Quirks())
    assert set(body) == {
        "model", "messages", "stream", "stream_options", "temperature", "max_tokens"
    }  # fmt: skip


@pytest.mark.parametrize("name", SET_PARAMS)
def test_request_carries_exactly_the_optional_param_set(name: str) -> None:
    body = request_options(_with(name), MESSAGES, Quirks())
    added = set(body) - set(request_options(SETTINGS, MESSAGES, Quirks()))
    assert added == {name}
    assert body[name] == SET_PARAMS[name][1]


@pytest.mark.parametrize("name", SET_PARAMS)
def test_rejected_param_is_dropped_for_the_model_and_the_user_told(
    fake: FakeOpenAI, client: openai.OpenAI, name: str
) -> None:
    fake.reject_params = {name}
    fake.enqueue(Reply(text="fine without it"))
    stream, learnt = start_reply(client, _with(name), MESSAGES)
    assert "".join(stream) == "fine without it"
    first, retried = [r.body for r in fake.chat_requests]
    assert first[name] == SET_PARAMS[name][1] and name not in retried
    assert learnt == Quirks(dropped=frozenset({name}))
    assert stream.notices == (param_ignored(name),)
    label = optional_params_labels()[name]
    assert f"the {label} setting has no effect" in param_ignored(name)

    stream, _ = start_reply(client, _with(name), MESSAGES, quirks=learnt)
    "".join(stream)
    assert len(fake.chat_requests) == 3  # learnt: right the first time
    assert name not in fake.chat_requests[-1].body
    assert stream.notices == (param_ignored(name),)


def test_each_rejected_param_is_learnt_in_turn(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.reject_params = {"seed", "top_p", "max_tokens"}
    settings = replace(SETTINGS, seed=7, top_p=0.9, presence_penalty=0.3)
    stream, learnt = start_reply(client, settings, MESSAGES)
    "".join(stream)
    assert len(fake.chat_requests) == 4  # three rejections, then the reply
    last = fake.chat_requests[-1].body
    assert (last["presence_penalty"], last["max_completion_tokens"]) == (0.3, 50)
    assert not {"seed", "top_p", "max_tokens"} & set(last)
    assert learnt.dropped == {"seed", "top_p"} and learnt.completion_tokens_param
    assert stream.notices == (param_ignored("top_p"), param_ignored("seed"))


def test_a_param_not_set_is_never_rejected_nor_noted(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.reject_params = {"seed"}
    stream, learnt = start_reply(client, SETTINGS, MESSAGES)
    "".join(stream)
    assert len(fake.chat_requests) == 1 and learnt == Quirks()
    known = Quirks(dropped=frozenset({"seed"}))
    stream, _ = start_reply(client, SETTINGS, MESSAGES, quirks=known)
    "".join(stream)
    assert stream.notices == ()  # the seed is not set: nothing to tell


def test_a_stop_sequence_rejected_by_its_place_drops_stop(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    rejection = {
        "message": "Unsupported value: 'stop[1]' is not supported with this model.",
        "type": "invalid_request_error",
        "param": "stop[1]",
        "code": "unsupported_value",
    }
    fake.enqueue(Reply(status=400, error=rejection), Reply(text="ok"))
    stream, learnt = start_reply(client, _with("stop"), MESSAGES)
    assert "".join(stream) == "ok"
    assert learnt.dropped == {"stop"} and "stop" not in fake.chat_requests[-1].body


def test_other_bad_requests_about_a_param_are_not_retried(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    invalid = {"message": "top_p must be <= 1", "param": "top_p", "code": "invalid_value"}
    fake.enqueue(Reply(status=400, error=invalid))
    with pytest.raises(ChatError):
        start_reply(client, _with("top_p"), MESSAGES)
    assert len(fake.chat_requests) == 1


def test_reasoning_efforts_are_the_sdks() -> None:
    sdk_values = get_args(get_args(openai.types.ReasoningEffort)[0])
    assert set(REASONING_EFFORTS) == set(sdk_values)


def test_keyless_server_gets_no_authorization_header(fake: FakeOpenAI) -> None:
    endpoint = Endpoint(api_key=None, base_url=fake.base_url, key_source="none")
    with make_client(endpoint, FAST) as keyless:
        stream, _ = start_reply(keyless, SETTINGS, MESSAGES)
        assert "".join(stream).startswith("Echo:")
    assert "authorization" not in fake.chat_requests[-1].headers


STATUS_FAULTS = [
    (401, {"code": "invalid_api_key", "type": "invalid_request_error"}, Kind.AUTH),
    (403, {"code": "unsupported_country_region_territory"}, Kind.PERMISSION),
    (404, {"code": "model_not_found", "type": "invalid_request_error"}, Kind.NOT_FOUND),
    (429, {"code": "rate_limit_exceeded", "type": "requests"}, Kind.RATE_LIMIT),
    (429, {"code": "insufficient_quota", "type": "insufficient_quota"}, Kind.QUOTA),
    (400, {"code": "context_length_exceeded", "param": "messages"}, Kind.CONTEXT_LENGTH),
    (400, {"code": "invalid_value", "param": "top_p"}, Kind.BAD_REQUEST),
    (500, {"type": "server_error"}, Kind.SERVER),
    (503, {"type": "server_error"}, Kind.SERVER),
]


@pytest.mark.parametrize(("status", "error", "kind"), STATUS_FAULTS)
def test_status_errors_explained(
    fake: FakeOpenAI, client: openai.OpenAI, status: int, error: dict[str, str], kind: Kind
) -> None:
    fake.enqueue(Reply(status=status, error={"message": "server words", **error}))
    err, _ = _fail(client)
    assert err.kind == kind
    assert err.message and err.action
    assert "Traceback" not in str(err)


def test_rate_limit_says_when_to_retry(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(
        Reply(status=429, error={"code": "rate_limit_exceeded"}, headers={"Retry-After": "7"})
    )
    err, _ = _fail(client)
    assert err.retry_after == 7
    assert "7 s" in err.action and err.retryable


def test_quota_is_not_worth_retrying(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(
        Reply(status=429, error={"code": "insufficient_quota"}, headers={"Retry-After": "1"})
    )
    err, _ = _fail(client)
    assert not err.retryable and "billing" in err.action


MID_STREAM_FAULTS = [
    ("cut", Kind.STREAM_CUT, "one two"),
    ("malformed", Kind.MALFORMED, "one two"),
    ("error_event", Kind.STREAM_ERROR, "one two"),
    ("no_done", Kind.INCOMPLETE, "one two three four"),
    ("hang", Kind.TIMEOUT, "one two"),
]


@pytest.mark.parametrize(("fault", "kind", "kept"), MID_STREAM_FAULTS)
def test_mid_stream_faults_keep_the_partial_reply(
    fake: FakeOpenAI, client: openai.OpenAI, fault: str, kind: Kind, kept: str
) -> None:
    fake.enqueue(Reply(text="one two three four", fault=fault, fault_after=2))
    err, partial = _fail(client)
    assert err.kind == kind
    assert partial == kept


def test_stream_without_finish_reason_is_incomplete(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="all of it", finish_reason=None))
    err, partial = _fail(client)
    assert err.kind == Kind.INCOMPLETE and partial == "all of it"


def test_empty_reply_is_an_error(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(chunks=[]))
    err, _ = _fail(client)
    assert err.kind == Kind.EMPTY


def test_slow_headers_time_out(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="late", fault="slow_headers", first_token_delay=3))
    err, _ = _fail(client)
    assert err.kind == Kind.TIMEOUT


@pytest.mark.parametrize("fault", ["hangup", "reset"])
def test_a_server_that_closes_without_answering_is_not_a_dropped_reply(
    fake: FakeOpenAI, client: openai.OpenAI, fault: str
) -> None:
    """A full listen queue (reset) or a crashed worker (hangup) ends the request before
    any answer: it was reported as a reply dropped "in the middle", which never began."""
    fake.enqueue(Reply(text="never sent", fault=fault))
    err, partial = _fail(client)
    assert err.kind == Kind.CONNECTION and err.retryable
    server = fake.base_url.removesuffix("v1")
    assert err.message == f"The model server at {server} closed the connection without answering."
    assert "overloaded" in err.action and "middle" not in err.message
    assert partial == ""


def test_connection_refused_names_the_server() -> None:
    url = f"http://127.0.0.1:{unused_port()}/v1"
    endpoint = Endpoint(api_key="k", base_url=url, key_source="environment")
    with make_client(endpoint, FAST) as refused:
        err, _ = _fail(refused)
    assert err.kind == Kind.CONNECTION
    assert "127.0.0.1" in err.message and "OPENAI_BASE_URL" in err.action


def test_connect_timeout() -> None:
    with blackhole() as url:
        endpoint = Endpoint(api_key="k", base_url=url, key_source="environment")
        with make_client(endpoint, Timeouts(connect=0.5, read=5)) as slow:
            err, _ = _fail(slow)
    assert err.kind == Kind.TIMEOUT


def test_client_uses_configured_timeouts(fake: FakeOpenAI) -> None:
    endpoint = Endpoint(api_key="k", base_url=fake.base_url, key_source="environment")
    made = make_client(endpoint, Timeouts(connect=3, read=7))
    assert made.timeout == httpx2.Timeout(7, connect=3)
    assert made.max_retries == 0
