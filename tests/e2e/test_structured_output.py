"""Structured output in the browser: JSON Schema chosen in the sidebar, the reply shown
indented and validated, and a violation listed when the model replies off the schema."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, StructuredOutput
from tests.e2e.conftest import ChatPage
from tests.e2e.views import open_sidebar

pytestmark = pytest.mark.e2e


def choose_json_schema(chat: ChatPage) -> None:
    """Open Advanced and pick JSON Schema; the editor shows the first example, checked."""
    open_sidebar(chat)
    chat.wait_idle()
    expander = chat.open_section("Advanced")
    picker = expander.get_by_test_id("stSelectbox").filter(has_text="Response format")
    expect(picker).to_be_visible()  # drawn by the rerun that opening Advanced makes
    chat.choose(picker, "JSON Schema")
    expect(chat.sidebar.get_by_role("textbox", name="JSON Schema")).to_be_visible()
    expect(chat.sidebar.get_by_text("A valid JSON Schema.")).to_be_visible()
    chat.wait_idle()


def test_a_json_schema_reply_is_validated_and_a_violation_listed(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    choose_json_schema(chat)
    chat.chat("Prices as JSON, please", "Valid JSON that matches the schema.")
    reply = chat.replies.last
    expect(reply.get_by_test_id("stCode").last).to_contain_text('"items": [')
    body = fake.last_chat_body
    assert body is not None
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["name"] == "shopping_list"

    fake.structured = StructuredOutput(reply={"items": [{"name": "tea", "price": "x"}], "total": 2})
    chat.chat("And again", "does not match the schema: 1 violation")
    reply = chat.replies.last
    expect(reply.get_by_test_id("stCode").last).to_contain_text('"price": "x"')
    expect(reply.get_by_text("$.items[0].price: 'x' is not of type 'number'")).to_be_visible()
    chat.assert_no_exception()
