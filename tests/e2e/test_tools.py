"""Tools in the browser: a tool defined in the sidebar, the reply's call shown as a card,
answered with the tool's canned result, and the reply that continues from it."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, FakeToolCall, Reply, tool_reply
from tests.e2e.conftest import OpenPage, assert_no_traceback_logged

pytestmark = pytest.mark.e2e

SCHEMA = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}


def test_a_tool_call_card_is_answered_and_the_reply_continues(
    open_page: OpenPage, fresh_app: AppProcess, fake: FakeOpenAI
) -> None:
    # A fresh app: its database (and so its tools) is this test's alone.
    chat = open_page(fresh_app)
    logged_before = len(fresh_app.log())
    tools = chat.sidebar.get_by_test_id("stExpander").filter(has_text="Tools (0)")
    tools.locator("summary").click()
    name = chat.sidebar.get_by_role("textbox", name="Tool name", exact=True)
    expect(name).to_be_visible()
    name.fill("get_weather")
    chat.sidebar.get_by_role("textbox", name="Parameters (JSON Schema)").fill(json.dumps(SCHEMA))
    chat.sidebar.get_by_role("textbox", name="Canned result").fill('{"sky": "clear"}')
    chat.sidebar.get_by_role("button", name="Save tool").click()
    expect(chat.sidebar.get_by_test_id("stExpander").filter(has_text="Tools (1)")).to_be_visible()
    chat.wait_idle()

    fake.enqueue(
        tool_reply(FakeToolCall("get_weather", '{"city": "Oslo"}', id="call_oslo", split=3)),
        Reply(text="The sky over Oslo is clear."),
    )
    chat.send("Weather in Oslo?")
    result = chat.main.get_by_role("textbox", name="Result of get_weather")
    expect(result).to_have_value('{"sky": "clear"}')  # the canned result, offered
    card = chat.replies.last
    expect(card.get_by_text("get_weather", exact=True)).to_be_visible()
    expect(card.get_by_test_id("stCode")).to_contain_text('"city": "Oslo"')
    chat.wait_idle()
    sent = fake.last_chat_body
    assert sent is not None and sent["tools"][0]["function"]["name"] == "get_weather"

    chat.main.get_by_role("button", name="Send results").click()
    reply = chat.replies.last.filter(has_text="The sky over Oslo is clear.").filter(
        has_text="finish:"
    )
    expect(reply).to_be_visible()
    chat.wait_idle()
    expect(result).to_have_count(0)  # answered: the card shows its result instead
    expect(chat.main.get_by_test_id("stCode").filter(has_text='{"sky": "clear"}')).to_be_visible()
    body = fake.last_chat_body
    assert body is not None
    assert body["messages"][-2]["tool_calls"][0]["id"] == "call_oslo"
    assert body["messages"][-1] == {
        "role": "tool",
        "tool_call_id": "call_oslo",
        "content": '{"sky": "clear"}',
    }
    chat.assert_no_exception()
    assert_no_traceback_logged(fresh_app, logged_before)
