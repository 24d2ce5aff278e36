"""Chatting in the browser: replies stream in, settings shape the request, Stop and
Continue keep what arrived."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Recorded, Reply, split_words
from tests.e2e.conftest import ChatPage, copy_to_docs

pytestmark = pytest.mark.e2e

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
FIRST_QUESTION = "What does the temperature setting do?"
FIRST_ANSWER = (
    "Temperature scales how random each next word is: low values keep the answer focused "
    "and repeatable, high values make it varied and surprising."
)
SECOND_QUESTION = "Show me how to set it in code."
SECOND_ANSWER = """At **0** the model nearly always picks its most likely next word:

- `temperature=0`: much the same answer every time
- `temperature=1`: the model's own distribution

```python
reply = client.chat.completions.create(
    model="gpt-4o-mini", messages=messages, temperature=0.2
)
```"""
CURSOR = "▌"
STOPPED_NOTE = "Stopped. The partial reply is kept and sent as context."
LENGTH_NOTE = "Cut off at the max-tokens limit. Continue asks for the rest."


def content_chunks_sent(request: Recorded) -> int:
    """How many content deltas the fake has written in reply to ``request`` so far."""
    count = 0
    for _, data in list(request.sent):
        if data.startswith("{"):
            choices = json.loads(data).get("choices") or [{}]
            count += bool(choices[0].get("delta", {}).get("content"))
    return count


def roles_and_contents(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


def test_two_turns_stream_in_and_carry_the_whole_history(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat.screenshot("empty-chat")
    pieces = split_words(FIRST_ANSWER)
    assert len(pieces) >= 20
    fake.enqueue(Reply(chunks=pieces, chunk_delay=0.4))
    chat.send(FIRST_QUESTION)

    expect(chat.user_texts).to_have_text([FIRST_QUESTION])
    expect(chat.replies.last).to_contain_text("Temperature scales how")
    # Read the page first, then the server: if the last chunk was not sent by then, the page
    # showed the start of the reply before the server had finished writing it.
    shown = chat.reply_text().removesuffix(CURSOR).strip()
    sent = content_chunks_sent(fake.chat_requests[0])
    expect(chat.stop_button).to_be_visible()  # while a reply streams, Send becomes Stop
    chat.screenshot("streaming")
    assert sent < len(pieces), f"all {len(pieces)} chunks were sent before the page showed any"
    assert FIRST_ANSWER.startswith(shown) and len(shown) < len(FIRST_ANSWER), shown

    expect(chat.replies.last).to_contain_text(FIRST_ANSWER)
    expect(chat.replies.last).to_contain_text("finish: stop")  # the telemetry caption
    chat.wait_idle()
    expect(chat.page.get_by_text(CURSOR)).to_have_count(0)

    fake.enqueue(Reply(text=SECOND_ANSWER, chunk_delay=0.01))
    chat.chat(SECOND_QUESTION, "much the same answer every time")

    expect(chat.user_texts).to_have_text([FIRST_QUESTION, SECOND_QUESTION])
    expect(chat.replies).to_have_count(2)
    expect(chat.replies.first).to_contain_text(FIRST_ANSWER)
    expect(chat.replies.last.locator("pre")).to_contain_text("temperature=0.2")
    first, second = (r.body for r in fake.chat_requests)
    assert roles_and_contents(first) == [
        ("system", DEFAULT_SYSTEM_PROMPT),
        ("user", FIRST_QUESTION),
    ]
    assert roles_and_contents(second) == [
        ("system", DEFAULT_SYSTEM_PROMPT),
        ("user", FIRST_QUESTION),
        ("assistant", FIRST_ANSWER),
        ("user", SECOND_QUESTION),
    ]
    assert first["stream"] is True and second["stream"] is True
    copy_to_docs(chat.screenshot("chat-with-reply"))


def test_sliders_and_system_prompt_shape_the_next_request(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat.set_slider("Temperature", "ArrowRight", "ArrowRight", shows="0.80")
    chat.set_slider("Max tokens", "Home", "ArrowRight", "ArrowRight", shows="3")
    set_system_prompt(chat, "You answer like a pirate.")
    chat.chat("Hello", "Echo: Hello")

    first = fake.last_chat_body
    assert first is not None
    assert (first["temperature"], first["max_tokens"]) == (pytest.approx(0.8), 3)
    assert roles_and_contents(first) == [
        ("system", "You answer like a pirate."),
        ("user", "Hello"),
    ]

    chat.set_slider("Temperature", "Home", shows="0.00")
    chat.set_slider("Max tokens", "End", "ArrowLeft", shows="16383")  # gpt-4o-mini's cap - 1
    set_system_prompt(chat, "")
    chat.chat("Again", "Echo: Again")

    second = fake.last_chat_body
    assert second is not None
    assert (second["temperature"], second["max_tokens"]) == (0, 16383)
    assert roles_and_contents(second) == [  # an empty system prompt is left out
        ("user", "Hello"),
        ("assistant", "Echo: Hello"),
        ("user", "Again"),
    ]


def set_system_prompt(chat: ChatPage, text: str) -> None:
    box = chat.textbox("System prompt")
    box.fill(text)
    box.press("Tab")  # a text area applies its value when it loses focus
    expect(box).to_have_value(text)
    chat.wait_idle()


def test_stop_keeps_the_partial_reply_and_sends_it_as_context(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    pieces = [f"step{i} " for i in range(40)]
    fake.enqueue(Reply(chunks=pieces, chunk_delay=0.2))
    chat.send("Count slowly to forty.")
    expect(chat.replies.last).to_contain_text("step3")
    chat.stop_button.click()

    # At once, with no other click: the reply as stopped, with its note, its numbers and
    # what can be done next, not the streaming frame Stop froze (components/after_stop.py).
    stopped = chat.replies.last
    expect(stopped).to_contain_text(STOPPED_NOTE)
    expect(stopped).to_contain_text("finish: none")
    expect(stopped.get_by_role("button", name="Regenerate")).to_be_visible()
    chat.wait_idle()
    expect(stopped).not_to_contain_text("Receiving")
    expect(chat.input).to_be_enabled()
    partial = chat.reply_text()
    assert partial.startswith("step0 step1 step2 step3"), partial
    assert "step39" not in partial and CURSOR not in partial

    chat.chat("Why did you stop?", "Echo: Why did you stop?")

    expect(chat.replies.first).to_contain_text(STOPPED_NOTE)
    kept = chat.reply_text(0)
    assert kept.startswith(partial) and "step39" not in kept
    body = fake.last_chat_body
    assert body is not None
    assert roles_and_contents(body)[-3:] == [
        ("user", "Count slowly to forty."),
        ("assistant", kept + " "),  # what the page shows is what the model gets back
        ("user", "Why did you stop?"),
    ]
    assert content_chunks_sent(fake.chat_requests[0]) < len(pieces)


def test_a_button_pressed_while_a_reply_streams_does_what_it_says(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    """A newer run ends the streaming one as Stop does; it is not stopped in turn."""
    chat.chat("First question.", "Echo: First question.")
    fake.enqueue(
        Reply(chunks=[f"step{i} " for i in range(40)], chunk_delay=0.2),
        Reply(chunks=["A", " fresh", " answer."], chunk_delay=0.3),
    )
    chat.send("Count slowly to forty.")
    expect(chat.replies.last).to_contain_text("step3")
    chat.replies.first.get_by_role("button", name="Regenerate").click()

    # The first reply's alternative streams in full, after the counting was cut short.
    expect(chat.page.get_by_text("A fresh answer.")).to_be_visible()
    chat.wait_idle()
    first = chat.replies.first
    expect(first).to_contain_text("A fresh answer.")
    expect(first).to_contain_text("finish: stop")
    expect(first).to_contain_text("2/2")
    assert len(fake.chat_requests) == 3


def test_a_stopped_reply_is_there_after_a_reload(chat: ChatPage, fake: FakeOpenAI) -> None:
    """Stop ends the run that streams; the partial reply must still reach the store.

    Found against a real llama.cpp: after Stop and a reload the question was there and
    the reply was not.
    """
    fake.enqueue(Reply(chunks=[f"word{i} " for i in range(400)], chunk_delay=0.05))
    chat.send("Write a very long story.")
    expect(chat.replies.last).to_contain_text("word5")
    chat.stop_button.click()
    chat.wait_idle()
    expect(chat.input).to_be_enabled()
    chat.page.reload()
    expect(chat.main).to_contain_text(STOPPED_NOTE)
    expect(chat.replies.last).to_contain_text("word5")


def test_continue_after_a_length_cut_off_appends_to_the_same_reply(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="Roses are red, violets", finish_reason="length"))
    chat.send("Write a short poem.")
    expect(chat.replies.last).to_contain_text(LENGTH_NOTE)
    expect(chat.replies.last).to_contain_text("finish: length")
    chat.wait_idle()

    fake.enqueue(Reply(text=" are blue."))
    chat.button("Continue").click()

    expect(chat.replies.last).to_contain_text("Roses are red, violets are blue.")
    expect(chat.replies.last).to_contain_text("finish: stop")
    chat.wait_idle()
    expect(chat.replies).to_have_count(1)
    expect(chat.page.get_by_text(LENGTH_NOTE)).to_have_count(0)
    expect(chat.button("Continue")).to_have_count(0)
    body = fake.last_chat_body
    assert body is not None
    sent = roles_and_contents(body)
    assert sent[-2] == ("assistant", "Roses are red, violets")
    assert sent[-1][0] == "user" and sent[-1][1].startswith("Continue exactly where")
