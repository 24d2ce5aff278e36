"""What a hostile or broken server sends, met at the boundary: the real openai client
against the fake server on 127.0.0.1, every fault in the real wire format."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import FrozenInstanceError

import openai
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.deadline import Watch
from chatlab.errors import ChatError, Kind
from chatlab.messages import ChatSettings
from chatlab.provider.background import BackgroundReply
from chatlab.provider.client import make_client, start_reply
from chatlab.provider.stream import NOTHING, ReplyStream
from testing.fake_openai import FakeOpenAI, Reply

SETTINGS = ChatSettings(model="gpt-4o-mini", temperature=0.3, max_tokens=50)
MESSAGES = [{"role": "user", "content": "hello"}]
# Socket timeouts longer than the deadlines under test: only the deadlines can end a wait.
SLOW_SOCKET = Timeouts(connect=30.0, read=30.0)
DEADLINES = Timeouts(connect=1.0, read=1.0, reply=600.0)


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, SLOW_SOCKET) as made:
        yield made


def _start(
    client: openai.OpenAI, timeouts: Timeouts = DEADLINES, max_chars: int = 200_000
) -> ReplyStream:
    stream, _ = start_reply(client, SETTINGS, MESSAGES, timeouts=timeouts, max_chars=max_chars)
    return stream


def _fail(
    client: openai.OpenAI, timeouts: Timeouts = DEADLINES, max_chars: int = 200_000
) -> tuple[ChatError, str]:
    stream = None
    with pytest.raises(ChatError) as caught:
        stream = _start(client, timeouts, max_chars)
        "".join(stream)
    return caught.value, (stream.text if stream is not None else "")


# -- what a chunk carries --------------------------------------------------------------------

ABSURD_COUNTS = ["Infinity", "-Infinity", "NaN", "1e300", "-3", '"many"', "1.5", "null", "[]"]


@pytest.mark.parametrize("value", ABSURD_COUNTS)
def test_absurd_usage_counts_become_an_estimate(  # ("12" the SDK itself turns into 12)
    fake: FakeOpenAI, client: openai.OpenAI, value: str
) -> None:
    usage = f'{{"prompt_tokens":{value},"completion_tokens":{value},"total_tokens":{value}}}'
    fake.enqueue(Reply(text="a b c d", usage_json=usage))
    stream = _start(client)
    assert "".join(stream) == "a b c d"
    stats = stream.stats()
    assert stats.usage.estimated
    assert 0 < stats.usage.completion_tokens < 10
    assert stats.cost_usd is None  # a local server has no list price: never a made-up one
    json.dumps([stats.usage.prompt_tokens, stats.usage.completion_tokens], allow_nan=False)


def test_plausible_usage_counts_are_kept(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="a b", usage_json='{"prompt_tokens":7,"completion_tokens":2.0}'))
    stream = _start(client)
    "".join(stream)
    usage = stream.stats().usage
    assert (usage.prompt_tokens, usage.completion_tokens, usage.estimated) == (7, 2, False)


def test_content_as_a_list_of_parts_joins_the_text_parts(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    parts = [
        [{"type": "text", "text": "Hel"}],
        [{"type": "text", "text": "lo"}, {"type": "image_url", "image_url": {"url": "x"}}],
        [],
    ]
    fake.enqueue(Reply(chunks=parts))
    assert "".join(_start(client)) == "Hello"


def test_content_of_another_type_is_shown_or_ignored(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(chunks=["n=", 42, {"odd": True}, True, 0.5, None]))
    assert "".join(_start(client)) == "n=420.5"


def test_lone_surrogates_are_replaced_everywhere(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(chunks=["a\ud800b", "\udc00"], model="m\ud800", finish_reason="stop"))
    stream = _start(client)
    text = "".join(stream)
    assert text == "a\ufffdb\ufffd" == stream.text
    assert stream.stats().model == "m\ufffd"
    (text + stream.stats().model).encode("utf-8")  # storable and drawable


def test_a_model_name_that_is_not_a_short_string_is_ignored(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="hi", model="x" * 5000))
    stream = _start(client)
    "".join(stream)
    assert stream.stats().model == SETTINGS.model


def test_a_finish_reason_that_is_not_a_short_string_is_ignored(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="hi", finish_reason="y" * 5000))
    err, partial = _fail(client)
    assert err.kind == Kind.INCOMPLETE and partial == "hi"


# -- deadlines a trickle cannot defeat ---------------------------------------------------------


def test_keep_alive_comments_after_the_first_token_time_out(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="one two", fault="trickle", fault_after=1, trickle_every=0.1))
    err, partial = _fail(client)
    assert err.kind == Kind.TIMEOUT and "CHATLAB_READ_TIMEOUT" in err.message
    assert partial == "one"


def test_keep_alive_comments_before_any_token_time_out(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="never", fault="trickle", fault_after=0, trickle_every=0.1))
    err, partial = _fail(client)
    assert err.kind == Kind.TIMEOUT and partial == ""


def test_a_trickled_status_line_times_out(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(fault="trickle_headers", trickle_every=0.1))
    err, _ = _fail(client)
    assert err.kind == Kind.TIMEOUT and "CHATLAB_READ_TIMEOUT" in err.message


def test_a_reply_streaming_past_the_reply_timeout_is_cut(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="more ", fault="endless", chunk_delay=0.02))
    err, partial = _fail(client, Timeouts(connect=1.0, read=1.0, reply=1.0))
    assert err.kind == Kind.TIMEOUT and "CHATLAB_REPLY_TIMEOUT" in err.action
    assert partial.startswith("more more ")


# -- the size cap ----------------------------------------------------------------------------


def test_an_endless_reply_is_cut_at_the_size_limit(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="abc defg ", fault="endless"))
    err, partial = _fail(client, max_chars=1000)
    assert err.kind == Kind.TOO_LONG and not err.retryable
    assert "1,000" in err.message and "CHATLAB_MAX_REPLY_CHARS" in err.action
    assert len(partial) == 1000 and partial.startswith("abc defg abc")


def test_a_reply_exactly_at_the_limit_is_complete(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(chunks=["12345", "67890"]))
    assert "".join(_start(client, max_chars=10)) == "1234567890"


# -- Stop ------------------------------------------------------------------------------------


def _close_soon(stream: ReplyStream | Watch) -> threading.Timer:
    timer = threading.Timer(0.2, stream.close)
    timer.start()
    return timer


@pytest.mark.parametrize("fault", ["hang", "trickle"])
def test_close_from_another_thread_ends_a_blocked_read_quietly(
    fake: FakeOpenAI, client: openai.OpenAI, fault: str
) -> None:
    fake.enqueue(Reply(text="one two", fault=fault, fault_after=1, trickle_every=0.1))
    stream = _start(client, Timeouts(connect=30.0, read=30.0))
    deltas = iter(stream)
    assert next(deltas) == "one"
    _close_soon(stream).join()
    assert list(deltas) == []  # no ChatError: the UI marks the reply stopped
    assert stream.stopped and stream.text == "one"
    stream.close()  # again: harmless


def test_close_before_iterating_ends_at_once(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="one two"))
    stream = _start(client)
    stream.close()
    assert list(stream) == [] and stream.stopped


def test_close_after_the_reply_ended_changes_nothing(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="done"))
    stream = _start(client)
    assert "".join(stream) == "done"
    stream.close()
    assert not stream.stopped and stream.finish_reason == "stop"
    fake.enqueue(Reply(text="next"))
    assert "".join(_start(client)) == "next"  # the pooled connection still works


def test_closing_the_watch_stops_a_request_still_waiting_for_headers(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(fault="trickle_headers", trickle_every=0.1))
    watch = Watch()
    _close_soon(watch)
    with pytest.raises(ChatError) as caught:
        start_reply(client, SETTINGS, MESSAGES, timeouts=SLOW_SOCKET, watch=watch)
    assert caught.value.kind == Kind.STOPPED


# -- answers that are not a stream -------------------------------------------------------------


def test_a_web_page_says_so_and_names_the_server(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(fault="html"))
    err, _ = _fail(client)
    assert err.kind == Kind.NOT_COMPATIBLE
    assert "web page" in err.message and fake.base_url in err.message
    assert "OPENAI_BASE_URL" in err.action and "Continue" not in str(err)


def test_huge_response_headers_say_so(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(fault="huge_headers"))
    err, _ = _fail(client)
    assert err.kind == Kind.NOT_COMPATIBLE and "headers too large" in err.message
    assert "dropped" not in err.message


def test_a_whole_completion_instead_of_a_stream_is_shown(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="The whole reply.", fault="json", prompt_tokens=9, completion_tokens=4))
    stream = _start(client)
    assert "".join(stream) == "The whole reply."
    stats = stream.stats()
    assert (stats.usage.prompt_tokens, stats.usage.completion_tokens) == (9, 4)
    assert stats.finish_reason == "stop"


@pytest.mark.parametrize("body", ['{"status":"ok"}', "[1, 2]", "{not json"])
def test_json_that_is_not_a_completion_is_explained(
    fake: FakeOpenAI, client: openai.OpenAI, body: str
) -> None:
    fake.enqueue(Reply(fault="json", body=body))
    err, _ = _fail(client)
    assert err.kind == Kind.NOT_COMPATIBLE and "OPENAI_BASE_URL" in err.action


# -- context overflow, in each server's words --------------------------------------------------

LLAMA_CPP = {
    "error": {
        "code": 400,
        "message": "request (8897 tokens) exceeds the available context size (4096 tokens), "
        "try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 8897,
        "n_ctx": 4096,
    }
}
VLLM_TEXT = (
    "This model's maximum context length is 4096 tokens. However, you requested 9409 tokens "
    "(8897 in the messages, 512 in the completion). Please reduce the length of the messages "
    "or completion."
)
VLLM = {"object": "error", "message": VLLM_TEXT, "type": "BadRequestError", "param": None}
VLLM_WRAPPED = {"error": {**VLLM, "code": 400}}
VLLM_INPUT = {
    "error": {
        "message": "This model's maximum context length is 4096 tokens. However, your request "
        "has 8897 input tokens. Please reduce the length of the input messages.",
        "type": "BadRequestError",
        "code": 400,
    }
}
OPENAI = {
    "error": {
        "message": "This model's maximum context length is 4096 tokens. However, your messages "
        "resulted in 8897 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error",
        "param": "messages",
        "code": "context_length_exceeded",
    }
}
LM_STUDIO = {
    "error": "Trying to keep the first 8897 tokens when context the overflows. However, the "
    "model is loaded with context length of only 4096 tokens, which is not enough. Try to load "
    "the model with a larger context length, or provide a shorter input"
}
LM_STUDIO_KEEP = {
    "error": "The number of tokens to keep from the initial prompt is greater than the context "
    "length (n_keep: 8897>= n_ctx: 4096). Try to load the model with a larger context length, "
    "or provide a shorter input."
}
OLLAMA = {"error": {"message": "the input length exceeds the context length", "type": "api_error"}}


@pytest.mark.parametrize(
    "body", [LLAMA_CPP, VLLM, VLLM_WRAPPED, VLLM_INPUT, OPENAI, LM_STUDIO, LM_STUDIO_KEEP]
)
def test_context_overflow_in_every_dialect_gives_the_numbers(
    fake: FakeOpenAI, client: openai.OpenAI, body: dict[str, object]
) -> None:
    fake.enqueue(Reply(status=400, body=json.dumps(body)))
    err, _ = _fail(client)
    assert err.kind == Kind.CONTEXT_LENGTH
    assert (err.prompt_tokens, err.context_window) == (8897, 4096)
    assert err.message == "The conversation is 8,897 tokens; this model holds 4,096."
    assert "Drop the oldest turns" in err.action


def test_context_overflow_without_numbers_is_still_recognised(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(status=400, body=json.dumps(OLLAMA)))
    err, _ = _fail(client)
    assert err.kind == Kind.CONTEXT_LENGTH
    assert err.prompt_tokens is None and err.context_window is None


def test_absurd_numbers_in_an_overflow_are_dropped(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    error = {**LLAMA_CPP["error"], "n_prompt_tokens": 1e300, "n_ctx": -4}
    error["message"] = "request exceeds the available context size"
    fake.enqueue(Reply(status=400, body=json.dumps({"error": error})))
    err, _ = _fail(client)
    assert err.kind == Kind.CONTEXT_LENGTH
    assert err.prompt_tokens is None and err.context_window is None


# -- retry only where it helps -----------------------------------------------------------------


def test_only_a_fault_retrying_cannot_fix_offers_no_retry(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    # Every other failure is retried after doing what its action says (paste a key, pick a
    # model, fix the base URL, change a setting); an exhausted quota is not.
    fake.enqueue(Reply(status=400, error={"message": "top_p must be at most 1", "param": "top_p"}))
    assert _fail(client)[0].retryable
    fake.enqueue(Reply(status=401, error={"message": "bad key", "code": "invalid_api_key"}))
    assert _fail(client)[0].retryable
    fake.enqueue(Reply(status=429, error={"message": "no", "code": "insufficient_quota"}))
    assert not _fail(client)[0].retryable


# -- a shared cache that ran out (llama.cpp) is not a conversation that is too long -------------

LLAMA_CACHE_FULL = {
    "code": 500,
    "message": "Context size has been exceeded.",
    "type": "server_error",
}


def test_llamacpps_cache_full_mid_stream_is_capacity_not_a_long_conversation(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(
        Reply(text="one two three", fault="error_event", fault_after=2, error=LLAMA_CACHE_FULL)
    )
    err, text = _fail(client)
    assert err.kind == Kind.CAPACITY
    assert "Context size has been exceeded." in err.message  # the server's own words
    assert "Drop the oldest turns" not in str(err)
    assert text == "one two"


def test_llamacpps_cache_full_before_the_stream_is_capacity_too(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(status=500, body=json.dumps({"error": LLAMA_CACHE_FULL})))
    err, _ = _fail(client)
    assert err.kind == Kind.CAPACITY
    assert err.retryable


def test_a_prompt_over_llamacpps_window_is_still_too_long(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(status=400, body=json.dumps(LLAMA_CPP)))
    assert _fail(client)[0].kind == Kind.CONTEXT_LENGTH


def test_an_estimated_count_never_exceeds_max_tokens(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    # A reply cut mid-stream sends no usage: its count is estimated from its text, and a
    # text that estimates high must not claim more tokens than the request allowed (50).
    long_words = " ".join(["incomprehensibilities"] * 40)  # ~6 tokens a word by length
    fake.enqueue(Reply(text=long_words, fault="cut", fault_after=40))
    stream = _start(client)
    with pytest.raises(ChatError):
        "".join(stream)
    usage = stream.stats().usage
    assert usage.estimated and usage.completion_tokens == 50


# -- the outcome: what settling a reply reads ---------------------------------------------------


def test_the_outcome_is_what_the_stream_received_frozen(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="Hello there", finish_reason="length"))
    stream = _start(client)
    "".join(stream)
    outcome = stream.outcome()
    assert (outcome.text, outcome.finish_reason) == ("Hello there", "length")
    assert outcome.stats == stream.stats() and outcome.request == stream.request
    assert outcome.stats is not None and outcome.stats.source == "chat"
    with pytest.raises(FrozenInstanceError):
        outcome.text = "changed"  # type: ignore[misc]
    counted = outcome.counted_as("compare")
    assert counted.stats is not None and counted.stats.source == "compare"
    assert counted.text == outcome.text and outcome.stats.source == "chat"


def test_a_reply_that_never_opened_comes_to_nothing(fake: FakeOpenAI) -> None:
    def refused(_watch: Watch) -> ReplyStream:
        raise ChatError(Kind.SERVER, "No room.", "Try later.")

    worker = BackgroundReply(refused)
    assert worker.join(5)
    assert worker.outcome() == NOTHING
    assert NOTHING.counted_as("compare") == NOTHING and NOTHING.mean_logprob is None
