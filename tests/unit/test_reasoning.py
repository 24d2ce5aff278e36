"""Thinking apart from the answer: both delta fields, <think> blocks, and no answer at all."""

from __future__ import annotations

import openai
import pytest
from hypothesis import given
from hypothesis import strategies as st

from chatlab.config import Endpoint, Timeouts
from chatlab.errors import ChatError, Kind
from chatlab.messages import ChatSettings
from chatlab.provider.client import make_client, start_reply
from chatlab.provider.reasoning import ThinkSplitter
from testing.fake_openai import FakeOpenAI, Reply

SETTINGS = ChatSettings(model="deepseek-r1")


def split(chunks: list[str]) -> tuple[str, str]:
    splitter, thinking, answer = ThinkSplitter(), "", ""
    for text in [*chunks]:
        more_thinking, more_answer = splitter.feed(text)
        thinking, answer = thinking + more_thinking, answer + more_answer
    rest_thinking, rest_answer = splitter.flush()
    return thinking + rest_thinking, answer + rest_answer


@given(st.text(alphabet="ab <>/thinkx\n", max_size=30), st.text(max_size=20), st.data())
def test_a_leading_think_block_is_split_off_however_the_stream_is_cut(
    thought: str, answer: str, data: st.DataObject
) -> None:
    text = f"\n<think>{thought.replace('</think>', '')}</think>\n{answer}"
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    chunks = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    # The newlines right after "</think>" are not the answer's.
    assert split(chunks) == (thought.replace("</think>", ""), answer.lstrip("\n"))


@pytest.mark.parametrize(
    "text", ["plain answer", "a <think>later</think> is not thinking", " <thin", ""]
)
def test_content_without_a_leading_think_block_is_all_answer(text: str) -> None:
    assert split(list(text)) == ("", text)


def test_an_unclosed_think_block_is_all_thinking() -> None:
    assert split(["<think>still go", "ing"]) == ("still going", "")


@pytest.fixture
def client(fake: FakeOpenAI) -> openai.OpenAI:
    endpoint = Endpoint(api_key="sk-test", base_url=fake.base_url, key_source="environment")
    return make_client(endpoint, Timeouts(connect=2, read=5))


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_from_either_delta_field_is_kept_apart_and_counted(
    fake: FakeOpenAI, client: openai.OpenAI, field: str
) -> None:
    fake.enqueue(Reply(text="The answer.", reasoning="First I think hard.", reasoning_field=field))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "q"}])
    assert "".join(stream) == "The answer." == stream.text
    assert stream.reasoning == "First I think hard."
    stats = stream.stats()
    assert stats.reasoning_tokens == 4
    assert stats.time_to_first_token is not None


def test_a_think_block_in_the_content_is_kept_apart(
    fake: FakeOpenAI, client: openai.OpenAI
) -> None:
    fake.enqueue(Reply(chunks=["<thi", "nk>Hmm, ", "let me see.</th", "ink>\n\nYes", "."]))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "q"}])
    assert "".join(stream) == "Yes."
    assert stream.reasoning == "Hmm, let me see."


def test_max_tokens_spent_thinking_says_so(fake: FakeOpenAI, client: openai.OpenAI) -> None:
    fake.enqueue(Reply(text="", reasoning="So much to consider here", finish_reason="length"))
    stream, _ = start_reply(client, SETTINGS, [{"role": "user", "content": "q"}])
    with pytest.raises(ChatError) as caught:
        list(stream)
    err = caught.value
    assert err.kind == Kind.NO_ANSWER and err.retryable
    assert "5 of them went to thinking" in err.message and "Max tokens" in err.action
    assert stream.reasoning == "So much to consider here"
