"""The way into the lab: a wait that shows it is alive, the empty chat's welcome,
"Compare this prompt", a Compare setup's shareable link, and names for every button."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e

LONG_ANSWER = " ".join(f"word{i}" for i in range(60))


def test_a_slow_first_token_shows_the_seconds_waited(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text="At last, an answer.", first_token_delay=2.6))  # the app waits 3 s
    chat.send("Are you there?")
    reply = chat.replies.last
    expect(reply).to_contain_text("Waiting for the server · 0 s")
    # Redrawn while nothing arrives: the seconds count up.
    expect(reply).to_contain_text(re.compile(r"Waiting for the server · [12] s"))
    expect(reply).to_contain_text("At last, an answer.")
    expect(reply).to_contain_text("finish: stop")
    expect(reply).not_to_contain_text("Waiting for the server")
    chat.wait_idle()
    chat.assert_no_exception()


def test_a_streaming_reply_shows_its_pace(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(text=LONG_ANSWER, chunk_delay=0.1))
    chat.send("Count for me.")
    reply = chat.replies.last
    expect(reply).to_contain_text(re.compile(r"Receiving · \d+ tokens/s"))
    expect(chat.stop_button).to_be_visible()  # still streaming when the pace showed
    expect(reply).to_contain_text("finish: stop")
    expect(reply).not_to_contain_text("Receiving")
    chat.wait_idle()
    chat.assert_no_exception()
