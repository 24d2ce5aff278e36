"""Presets in the browser: picking one moves the sliders, saving one lists it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def pick_preset(chat: ChatPage, name: str) -> None:
    picker = chat.sidebar.get_by_test_id("stSelectbox").filter(has_text="Preset")
    chat.choose(picker, name)


def test_a_preset_applies_and_a_saved_one_is_offered(chat: ChatPage, fake: FakeOpenAI) -> None:
    logged_before = len(chat.app.log())
    pick_preset(chat, "Precise facts")
    expect(chat.slider_value("Temperature")).to_have_text("0.20")
    chat.wait_idle()
    chat.chat("What is the boiling point of water?", "Echo: What is the boiling point")
    body = fake.last_chat_body
    assert body is not None and body["temperature"] == 0.2
    assert body["messages"][0]["content"].startswith("You answer factual questions")

    name = chat.page.get_by_role("textbox", name="Preset name")
    chat.open_and_click(chat.sidebar.get_by_role("button", name="Save…"), name)
    name.fill("My <b>facts</b>")
    name.press("Enter")
    chat.page.get_by_role("button", name="Save preset").click()
    chat.wait_idle()
    pick_preset(chat, "My <b>facts</b>")  # offered, shown literally
    expect(chat.slider_value("Temperature")).to_have_text("0.20")
    chat.assert_no_exception()
    logged = chat.app.log()[logged_before:]
    assert "Traceback" not in logged
    assert "fragment rerun was triggered with a callback" not in logged
