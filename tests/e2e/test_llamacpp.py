"""In a real browser, against the fake's llama.cpp behaviour: one context bar while a reply
streams; a message too long on its own is no dead end."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.app_process import AppProcess
from testing.fake_openai import LLAMACPP_MODEL_PATH, FakeOpenAI, Reply, exceeds_window_error
from tests.e2e.conftest import ChatPage, OpenPage

pytestmark = pytest.mark.e2e

TOO_LONG = exceeds_window_error(5016, 4096)["error"]  # llama-server's own 400


def test_one_context_bar_while_a_reply_streams(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI
) -> None:
    # A llama.cpp server offers one model, named by its file: the configured default is not
    # among them, so the first page says so above the context bar, and the next does not.
    fake.models = [LLAMACPP_MODEL_PATH]
    chat = open_page(app)
    expect(chat.sidebar).to_contain_text("is not offered by this server")
    fake.enqueue(Reply(text=" ".join(["slow"] * 40), chunk_delay=0.1))
    chat.send("hello")
    expect(chat.stop_button).to_be_visible()  # streaming now
    expect(chat.replies.last).to_contain_text("slow slow")
    expect(chat.sidebar.get_by_text("Context:")).to_have_count(1)
    chat.wait_idle()
    expect(chat.sidebar.get_by_text("Context:")).to_have_count(1)
    chat.assert_no_exception()


def test_a_message_too_long_on_its_own_opens_to_edit(chat: ChatPage, fake: FakeOpenAI) -> None:
    fake.enqueue(Reply(status=400, error=TOO_LONG))
    chat.send("hello " * 30)
    expect(chat.page.get_by_text("Your message alone is 5,016 tokens")).to_be_visible()
    expect(chat.button("Drop oldest turns and retry")).to_have_count(0)
    expect(chat.button("Retry")).to_have_count(0)
    chat.button("Edit your message").click()
    expect(chat.page.get_by_role("textbox").filter(has_text="hello hello")).to_have_count(1)
    assert len(fake.chat_requests) == 1  # the same too-long message was not sent again
    chat.assert_no_exception()
