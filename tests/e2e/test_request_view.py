"""The exact request under a reply, in the browser: the body as sent, and never the key."""

from __future__ import annotations

import json

from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ENV_KEY, ChatPage


def test_the_request_viewer_shows_the_body_and_never_the_key(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.enqueue(Reply(text="Bonjour."))
    chat.chat("Say hello in French.", "Bonjour.")
    sent = fake.last_chat_body
    assert sent is not None

    chat.replies.last.get_by_role("button", name="Request").click()
    popover = chat.page.get_by_test_id("stPopoverBody")
    shown_json = popover.get_by_test_id("stCode").first
    expect(shown_json).to_contain_text('"Say hello in French."')
    assert json.loads(shown_json.inner_text()) == sent  # exactly what reached the server
    popover.get_by_role("tab", name="Python").click()
    snippet = popover.get_by_test_id("stCode").filter(has_text="chat.completions.create")
    expect(snippet).to_contain_text("OPENAI_API_KEY")
    chat.wait_idle()

    # The key reached the server's Authorization header, and nothing else the page holds.
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"
    assert ENV_KEY not in chat.page.content()
    assert not any(ENV_KEY.encode() in frame for frame in chat.traffic.frames_received)
    assert not any(ENV_KEY in url for url in chat.traffic.urls)
