import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import httpx2
import pytest

from chatlab import controls
from chatlab.errors import ChatError, ChatLabError, Kind
from chatlab.provider.dialects import (
    prompt_size,
    refuses_images,
    says_cache_full,
    says_overflow,
    server_count,
    window_size,
)
from chatlab.provider.server_errors import (
    empty_reply,
    http_error,
    incomplete_stream,
    no_answer_at_length,
    reply_too_long,
    retry_after_seconds,
    to_chat_error,
)

REQUEST = httpx2.Request("GET", "http://127.0.0.1:9/v1/models")


def test_retry_after_seconds_forms() -> None:
    assert retry_after_seconds({"retry-after": "12"}) == 12
    assert retry_after_seconds({"retry-after-ms": "1500"}) == 1.5
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"retry-after": "soon"}) is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (retry_after_seconds({"retry-after": later}) or 0) <= 31


def test_malformed_json_is_explained() -> None:
    err = to_chat_error(json.JSONDecodeError("bad", "{x", 1))
    assert err.kind == Kind.MALFORMED and "JSON" in err.message


def test_unknown_exception_is_explained_without_its_text() -> None:
    err = to_chat_error(RuntimeError("internal path /secret"))
    assert err.kind == Kind.UNKNOWN and "/secret" not in str(err)


def test_fixed_errors_have_actions() -> None:
    assert empty_reply().kind == Kind.EMPTY


ABSURD: list[object] = [-1, 1.5, 10**9, float("inf"), float("nan"), True, "12", None, []]
PLAUSIBLE: list[tuple[object, int | None]] = [(0, 0), (12, 12), (12.0, 12), (10**8, 10**8)]


@pytest.mark.parametrize(("value", "expected"), PLAUSIBLE + [(v, None) for v in ABSURD])
def test_server_counts_are_plausible_whole_numbers_or_unknown(
    value: object, expected: object
) -> None:
    assert server_count(value) == expected


def test_chat_errors_are_chatlab_errors_that_read_as_words() -> None:
    err = reply_too_long(5000)
    assert isinstance(err, ChatError) and isinstance(err, ChatLabError)
    assert str(err) == f"{err.message} {err.action}" and "5,000" in str(err)
    assert not err.retryable


# -- the dialects: each server's wording, read -------------------------------------------------


@pytest.mark.parametrize(
    ("text", "window", "prompt"),
    [
        (  # OpenAI
            "This model's maximum context length is 128000 tokens. However, your messages "
            "resulted in 130512 tokens.",
            128_000,
            130_512,
        ),
        (  # llama.cpp
            "request (5000 tokens) exceeds the available context size (4096 tokens), try "
            "increasing it",
            4096,
            5000,
        ),
        (  # vLLM
            "This model's maximum context length is 8192 tokens. However, your request has "
            "9000 input tokens.",
            8192,
            9000,
        ),
        (  # LM Studio
            "Trying to keep the first 6000 tokens when context the overflows. However, the "
            "model is loaded with context length of only 4096 tokens",
            4096,
            6000,
        ),
    ],
)
def test_each_servers_overflow_wording_gives_its_numbers(
    text: str, window: int, prompt: int
) -> None:
    assert says_overflow(text, ())
    assert (window_size(text), prompt_size(text)) == (window, prompt)
    assert not says_cache_full(text)


def test_the_dialects_tell_a_full_cache_and_a_text_only_model_apart() -> None:
    assert says_cache_full("Context size has been exceeded.")
    assert says_overflow("", {"context_length_exceeded"}) and not says_overflow("busy", {""})
    assert refuses_images("image input is not supported - hint: you may need mmproj")
    assert not refuses_images("The conversation is longer than the context window")
    assert window_size("maximum context length is 999999999999 tokens") is None  # absurd


# -- the advice names controls, never widgets or places a page lacks ---------------------------


def test_advice_names_controls_by_their_labels() -> None:
    assert controls.CONTINUE in incomplete_stream().action
    assert controls.MAX_TOKENS in no_answer_at_length(5, thought=True).action


def test_model_advice_names_no_place_compare_has_no_sidebar_picker() -> None:
    for status, body in [(404, "no such model"), (500, "image input is not supported")]:
        response = httpx2.Response(status, json={"error": {"message": body}})
        err = http_error(httpx2.HTTPStatusError("x", request=REQUEST, response=response), "u")
        assert "sidebar" not in err.action and "Pick" in err.action
