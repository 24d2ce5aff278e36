"""Token probabilities (issue 8): the wire format, the stream's boundary, and the math."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import replace

import httpx2
import openai
import pytest

from chatlab.config import Endpoint, Timeouts
from chatlab.logprobs import (
    MAX_TOP_LOGPROBS,
    NO_LOGPROBS,
    TokenLogprob,
    logprobs_from,
    logprobs_json,
    mean_logprob,
    perplexity,
    reweighted,
    reweighting_rows,
    summary,
    token_logprob,
    visible,
)
from chatlab.messages import ChatMessage, ChatSettings, ReplyStats, Usage
from chatlab.provider.client import Quirks, make_client, request_options, start_reply
from chatlab.provider.stream import ReplyStream
from chatlab.storage import Store
from chatlab.transfer import InvalidDocument, settings_from, settings_json, stats_from, stats_json
from testing.fake_openai import Dialect, FakeOpenAI, Reply, fake_logprob, logprob_entry

pytest_plugins = ["tests.postgres"]

SETTINGS = ChatSettings(model="gpt-4o-mini", logprobs=True, top_logprobs=3)
MESSAGES = [{"role": "user", "content": "hello"}]


@pytest.fixture
def client(fake: FakeOpenAI) -> Iterator[openai.OpenAI]:
    endpoint = Endpoint(api_key="sk-unit", base_url=fake.base_url, key_source="environment")
    with make_client(endpoint, Timeouts(connect=2.0, read=5.0)) as made:
        yield made


def _events(fake: FakeOpenAI) -> list[dict[str, object]]:
    sent = fake.chat_requests[-1].sent
    return [json.loads(data) for _, data in sent if data != "[DONE]"]


# -- the fake server's wire format -------------------------------------------------------------


def test_fake_streams_logprobs_on_each_content_chunk_as_openai_does(fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="Hi you"))
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    httpx2.post(
        f"{fake.base_url}/chat/completions", json={**body, "logprobs": True, "top_logprobs": 2}
    )
    role, first, second, finish = (event["choices"][0] for event in _events(fake))  # type: ignore[index]
    assert role["logprobs"] is None and finish["logprobs"] is None
    assert first["logprobs"] == {
        "content": [
            {
                "token": "Hi",
                "logprob": fake_logprob("Hi"),
                "bytes": [72, 105],
                "top_logprobs": [
                    {"token": "Hi", "logprob": fake_logprob("Hi"), "bytes": [72, 105]},
                    {"token": "Hi~1", "logprob": round(fake_logprob("Hi") - 1, 4),
                     "bytes": [72, 105, 126, 49]},
                ],
            }
        ],
        "refusal": None,
    }  # fmt: skip
    assert second["logprobs"]["content"][0]["token"] == " you"


def test_fake_logprobs_are_derived_from_the_token_text() -> None:
    # sum of the bytes of "Hi" = 72 + 105 = 177; 177 % 97 = 80; 80 / 50 = 1.6
    assert fake_logprob("Hi") == -1.6
    assert len(logprob_entry("x", 20)["top_logprobs"]) == 20
    assert logprob_entry("x", 0)["top_logprobs"] == []


def test_fake_sends_no_logprobs_unless_asked_or_when_it_ignores_them(fake: FakeOpenAI) -> None:
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    httpx2.post(f"{fake.base_url}/chat/completions", json=body)
    assert all(e["choices"][0]["logprobs"] is None for e in _events(fake))  # type: ignore[index]
    fake.dialect = Dialect(logprobs=False)
    httpx2.post(f"{fake.base_url}/chat/completions", json={**body, "logprobs": True})
    assert all(e["choices"][0]["logprobs"] is None for e in _events(fake))  # type: ignore[index]


def test_fake_non_streamed_completion_carries_every_tokens_logprobs(fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="Say OK"))
    body = {"model": "m", "messages": MESSAGES, "logprobs": True, "top_logprobs": 1}
    answer = httpx2.post(f"{fake.base_url}/chat/completions", json=body).json()
    content = answer["choices"][0]["logprobs"]["content"]
    assert [entry["token"] for entry in content] == ["Say", " OK"]


# -- request and stream ------------------------------------------------------------------------


def test_request_carries_logprobs_only_when_asked() -> None:
    plain = request_options(ChatSettings(model="m"), MESSAGES, Quirks())
    assert "logprobs" not in plain and "top_logprobs" not in plain
    asked = request_options(SETTINGS, MESSAGES, Quirks())
    assert (asked["logprobs"], asked["top_logprobs"]) == (True, 3)
    no_alternatives = request_options(replace(SETTINGS, top_logprobs=0), MESSAGES, Quirks())
    assert no_alternatives["logprobs"] is True and "top_logprobs" not in no_alternatives


def test_stream_collects_each_token_with_its_alternatives(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(text="Hello there"))
    stream, _ = start_reply(client, SETTINGS, MESSAGES)
    assert "".join(stream) == "Hello there"
    hello, there = stream.token_logprobs
    assert hello.token == "Hello" and hello.logprob == fake_logprob("Hello")
    assert [alt for alt, _ in there.alternatives] == [" there", " there~1", " there~2"]
    expected = (fake_logprob("Hello") + fake_logprob(" there")) / 2
    assert stream.mean_logprob == pytest.approx(expected)
    assert stream.perplexity == pytest.approx(math.exp(-expected))
    assert stream.stats().mean_logprob == pytest.approx(expected)
    assert stream.notices == ()


def test_a_server_ignoring_logprobs_gets_a_note_not_an_error(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.dialect = Dialect(logprobs=False)
    fake.enqueue(Reply(text="fine"))
    stream, _ = start_reply(client, SETTINGS, MESSAGES)
    assert "".join(stream) == "fine"
    assert stream.token_logprobs == () and stream.stats().mean_logprob is None
    assert stream.notices == (NO_LOGPROBS,)


def test_a_server_rejecting_logprobs_is_asked_again_without_them_and_learnt(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.reject_params = {"logprobs", "top_logprobs"}
    fake.enqueue(Reply(text="fine"))
    stream, learnt = start_reply(client, SETTINGS, MESSAGES)
    assert "".join(stream) == "fine"
    first, retried = (r.body for r in fake.chat_requests)
    assert first["logprobs"] is True and not {"logprobs", "top_logprobs"} & set(retried)
    assert learnt == Quirks(no_logprobs=True) and stream.notices == (NO_LOGPROBS,)
    stream, _ = start_reply(client, SETTINGS, MESSAGES, quirks=learnt)
    "".join(stream)
    assert len(fake.chat_requests) == 3 and "logprobs" not in fake.chat_requests[-1].body
    assert stream.notices == (NO_LOGPROBS,)


class _Chunks:
    def __init__(self, chunks: list[object]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[object]:
        return iter(self.chunks)

    def close(self) -> None:
        pass


def _with_logprobs(content: object) -> dict[str, object]:
    choice = {"delta": {"content": "x"}, "logprobs": {"content": content}, "finish_reason": None}
    return {"choices": [choice]}


def test_stream_keeps_only_plausible_token_probabilities() -> None:
    good = {"token": "x", "logprob": -0.5, "top_logprobs": [{"token": "y", "logprob": -1}]}
    bad = [
        {"token": "x", "logprob": math.inf},
        {"token": "x", "logprob": math.nan},
        {"token": "x", "logprob": 0.5},  # a probability above 1
        {"token": "x", "logprob": True},
        {"token": 7, "logprob": -1.0},
        {"token": "x" * 201, "logprob": -1.0},
        "not an entry",
    ]
    alternatives = [{"token": "a", "logprob": -1.0}, {"token": None, "logprob": -1.0}] * 30
    chunks: list[object] = [
        _with_logprobs([good, *bad]),
        _with_logprobs("not a list"),
        _with_logprobs([{"token": "\ud800", "logprob": -2, "top_logprobs": alternatives}]),
        {"choices": [{"delta": {}, "finish_reason": "stop"}]},
    ]
    stream = ReplyStream(_Chunks(chunks), model="m", prompt_tokens=1, started=0.0)
    "".join(stream)
    kept, odd = stream.token_logprobs
    assert kept == TokenLogprob("x", -0.5, (("y", -1.0),))
    assert odd.token == "\ufffd" and odd.alternatives == (("a", -1.0),) * 10  # 20 looked at


# -- the math ----------------------------------------------------------------------------------

HALF_QUARTER = [("a", math.log(0.5)), ("b", math.log(0.25))]


@pytest.mark.parametrize(
    ("temperature", "expected"),
    [
        (1.0, [2 / 3, 1 / 3]),  # 0.5 : 0.25 renormalised
        (0.5, [0.8, 0.2]),  # squared: 0.25 : 0.0625
        (2.0, [0.585786, 0.414214]),  # square roots: 0.7071 : 0.5
        (0.0, [1.0, 0.0]),  # greedy
    ],
)
def test_reweighting_is_softmax_of_logprob_over_temperature(
    temperature: float, expected: list[float]
) -> None:
    assert reweighted(HALF_QUARTER, temperature) == pytest.approx(expected, abs=1e-6)


def test_reweighting_survives_very_unlikely_alternatives() -> None:
    assert reweighted([("a", -1e6), ("b", -1e6 - 1)], 0.01) == pytest.approx([1.0, 0.0])
    assert reweighted([], 1.0) == []


def test_reweighting_rows_cover_every_temperature_and_alternative() -> None:
    token = TokenLogprob(" a", math.log(0.5), tuple(HALF_QUARTER))
    rows = reweighting_rows(token, (1.0, 0.5))
    assert [(r["temperature"], r["token"]) for r in rows] == [
        (1.0, "a"), (1.0, "b"), (0.5, "a"), (0.5, "b")
    ]  # fmt: skip
    assert rows[2]["probability"] == pytest.approx(0.8)


def test_mean_perplexity_and_summary() -> None:
    tokens = [TokenLogprob("a", -0.5), TokenLogprob("b", -1.5)]
    assert mean_logprob(tokens) == -1.0 and mean_logprob([]) is None
    assert perplexity(-1.0) == pytest.approx(math.e) and perplexity(None) is None
    assert perplexity(-1e6) is not None  # capped, not an overflow
    assert summary(-0.42) == "mean logprob \u22120.42 · perplexity 1.52"
    assert visible(" you\n") == "␣you↵" and visible("") == "∅"
    assert token_logprob({"token": "a", "logprob": 0}) == TokenLogprob("a", 0.0)


# -- telemetry and storage ---------------------------------------------------------------------

STATS = ReplyStats("m", Usage(10, 30), "stop", 0.1, 1.0, mean_logprob=-0.5)


def test_continued_reply_weights_the_mean_by_each_parts_tokens() -> None:
    later = replace(STATS, usage=Usage(10, 10), mean_logprob=-1.5)
    assert STATS.followed_by(later).mean_logprob == pytest.approx((-0.5 * 30 - 1.5 * 10) / 40)
    assert STATS.followed_by(replace(later, mean_logprob=None)).mean_logprob is None


def test_mean_logprob_and_probability_settings_round_trip() -> None:
    assert stats_from(stats_json(STATS)).mean_logprob == -0.5
    bad = stats_json(replace(STATS, mean_logprob=0.3))
    assert bad is not None and bad["mean_logprob"] is None  # a probability above 1: unknown
    assert settings_from(settings_json(SETTINGS)) == SETTINGS
    with pytest.raises(InvalidDocument, match="top_logprobs"):
        settings_from({**(settings_json(SETTINGS) or {}), "top_logprobs": MAX_TOP_LOGPROBS + 1})


TOKENS = (
    TokenLogprob("Hi", -0.25, (("Hi", -0.25), ("Hey", -1.5))),
    TokenLogprob(" you", -1.0),
)


def test_stored_tokens_are_read_back_when_asked_and_kept_by_later_saves(
    database_url: str,
) -> None:
    question = ChatMessage("user", "hello")
    answer = ChatMessage("assistant", "Hi you", parent_id=question.id, token_logprobs=TOKENS)
    with Store.open(database_url) as store:
        conversation_id = store.create_conversation("alice")
        store.save_message("alice", conversation_id, question)
        store.save_message("alice", conversation_id, answer)
    with Store.open(database_url) as store:
        found = store.load_messages("alice", conversation_id)
        assert found is not None
        (_, loaded) = found
        assert loaded.token_logprobs == ()  # left out when a conversation opens
        assert store.load_token_logprobs("alice", conversation_id, answer.id) == TOKENS
        assert store.load_token_logprobs("bob", conversation_id, answer.id) == ()  # not Bob's
        store.save_message("alice", conversation_id, loaded)  # saved again without them
        assert store.load_token_logprobs("alice", conversation_id, answer.id) == TOKENS
        assert store.load_token_logprobs("alice", conversation_id, question.id) == ()


def test_stored_tokens_are_checked_as_they_are_read() -> None:
    stored = logprobs_json(TOKENS)
    assert stored == [["Hi", -0.25, [["Hi", -0.25], ["Hey", -1.5]]], [" you", -1.0, []]]
    assert logprobs_from(stored) == TOKENS
    hostile = [["x", 1.5, []], ["y", -1, "no"], ["z", -1, [["a", "b"], ["c", -2]]], "w", 7]
    assert logprobs_from(hostile) == (TokenLogprob("z", -1.0, (("c", -2.0),)),)
    assert logprobs_from({"not": "a list"}) == () and logprobs_json(()) is None
