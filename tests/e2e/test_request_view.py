"""The exact request under a reply, in the browser: the body as sent, and never the key."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import ViewportSize, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ENV_KEY, OpenPage
from tests.e2e.views import SCREENS, assert_readable


@pytest.mark.parametrize("screen", SCREENS)
def test_the_request_viewer_shows_the_body_and_never_the_key(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, screen: ViewportSize
) -> None:
    chat = open_page(app, viewport=screen)
    fake.enqueue(Reply(text="Bonjour."))
    chat.chat("Say hello in French.", "Bonjour.")
    sent = fake.last_chat_body
    assert sent is not None

    chat.replies.last.get_by_role("button", name="Request").click()
    view = chat.replies.last.locator("[class*='st-key-request-panel-']")
    shown_json = view.get_by_test_id("stCode").first
    expect(shown_json).to_contain_text('"Say hello in French."')
    assert json.loads(shown_json.inner_text()) == sent  # exactly what reached the server
    chat.wait_idle()
    assert_readable(chat, shown_json, screen)
    view.get_by_role("tab", name="Python").click()
    snippet = view.get_by_test_id("stCode").filter(has_text="chat.completions.create")
    expect(snippet).to_contain_text("OPENAI_API_KEY")
    chat.wait_idle()
    assert_readable(chat, snippet, screen)

    # The key reached the server's Authorization header, and nothing else the page holds.
    assert fake.chat_requests[-1].headers["authorization"] == f"Bearer {ENV_KEY}"
    assert ENV_KEY not in chat.page.content()
    assert not any(ENV_KEY.encode() in frame for frame in chat.traffic.frames_received)
    assert not any(ENV_KEY in url for url in chat.traffic.urls)
    chat.assert_no_exception()
