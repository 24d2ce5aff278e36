"""In a real browser: what a user sees is what is stored, however fast they click (issue 11 §2)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from testing.app_process import AppProcess, stop
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ENV_KEY, UI_TIMEOUT_S, ChatPage, OpenPage, start_app

CURSOR = "▌"
STOPPED_NOTE = "Stopped. The partial reply is kept and sent as context."


def test_continue_clicked_twice_stores_what_the_screen_shows(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="part one", finish_reason="length"))
    chat.send("Tell me a long story.")
    expect(chat.replies.last).to_contain_text("finish: length")
    chat.wait_idle()

    # The first Continue is slow to answer; the second click lands while it waits, on
    # the button the first run has not yet redrawn. Continue sits in the live fragment
    # (components/chat/live.py), whose reruns wait for the run in progress, so the second
    # click comes after the first Continue has finished the reply: nothing is left to ask.
    fake.enqueue(
        Reply(chunks=[" part", " two"], first_token_delay=1.0, chunk_delay=0.3),
        Reply(text=" part three"),
    )
    continue_button = chat.button("Continue")
    box = continue_button.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    chat.page.mouse.click(x, y)
    fake.wait_for_chat_requests(2)  # the first Continue reached the server
    chat.page.mouse.click(x, y)
    expect(chat.replies.last).to_contain_text("part one part two")
    expect(chat.replies.last).to_contain_text("finish: stop")
    chat.wait_idle()
    on_screen = chat.reply_text().removesuffix(CURSOR).strip()
    assert on_screen.startswith("part one part two"), on_screen
    assert len(fake.chat_requests) == 2, "a second Continue of a finished reply asks nothing"

    chat.page.reload()
    expect(chat.replies.last).to_contain_text("part one part two")
    chat.wait_idle()
    assert chat.reply_text().strip() == on_screen, "after a reload, the stored reply is the same"
    expect(chat.replies).to_have_count(1)


@pytest.fixture(scope="module")
def patient_app(
    browser: Browser, fake_server: FakeOpenAI, app_scratch: Path
) -> Iterator[AppProcess]:
    """The app with a read timeout far longer than any wait below: only Stop can end a reply."""
    env = {
        "OPENAI_API_KEY": ENV_KEY,
        "OPENAI_BASE_URL": fake_server.base_url,
        "CHATLAB_READ_TIMEOUT": "120",
    }
    server = start_app("patient", env, app_scratch)
    yield server
    stop(server.process)


def test_stop_ends_a_reply_from_a_server_that_trickles_and_hangs_up(
    open_page: OpenPage, patient_app: AppProcess, fake: FakeOpenAI
) -> None:
    chat = open_page(patient_app)
    # One word, then keep-alive bytes every 0.2 s: no timeout would end this for minutes.
    fake.enqueue(Reply(text="first words", fault="trickle", fault_after=1, trickle_every=0.2))
    chat.send("Say something.")
    expect(chat.replies.last).to_contain_text("first")
    chat.stop_button.click()
    chat.wait_idle()
    expect(chat.input).to_be_enabled()
    # Far sooner than any timeout could (the app's is 120 s): Stop itself hung up.
    hung_up = fake.wait_until_answered(timeout=UI_TIMEOUT_S)
    assert hung_up, "Stop closed the connection to the server"
    chat.chat("Still there?", "Echo: Still there?")
    # Stopped by the user, not ended by the read timeout: no error, marked as stopped.
    expect(chat.error).to_have_count(0)
    expect(chat.replies.first).to_contain_text(STOPPED_NOTE)
    sent = fake.last_chat_body
    assert sent is not None
    assert [m["content"] for m in sent["messages"]][-2:] == ["first", "Still there?"]
