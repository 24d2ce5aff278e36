"""Token probabilities in the browser: the view under a reply shows a token's alternatives."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def switch_probabilities_on(chat: ChatPage) -> None:
    title = chat.page.get_by_text("Advanced", exact=True)
    expander = chat.sidebar.get_by_test_id("stExpander").filter(has=title)
    expander.locator("summary").click()
    toggle = chat.sidebar.get_by_test_id("stCheckbox").filter(has_text="Probabilities")
    toggle.click()
    expect(
        chat.sidebar.get_by_role("spinbutton", name="Top alternatives per token")
    ).to_be_enabled()
    chat.wait_idle()


def test_the_probabilities_view_shows_alternatives_for_a_token(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    switch_probabilities_on(chat)
    fake.enqueue(Reply(text="Hello there"))
    chat.chat("Say hello", "Hello there")
    body = fake.last_chat_body
    assert body is not None and (body["logprobs"], body["top_logprobs"]) == (True, 5)
    expect(chat.replies.last.get_by_text("perplexity", exact=False)).to_be_visible()

    chat.replies.last.get_by_role("button", name="Probabilities").click()
    chat.wait_idle()
    popover = chat.page.get_by_test_id("stPopoverBody")
    picker = popover.get_by_test_id("stSelectbox").filter(has_text="Token")
    chat.choose(picker, "2: ␣there")
    chat.wait_idle()
    expect(popover.get_by_text("An approximation from the top 5 alternatives")).to_be_visible()
    # The re-weighting chart labels its bars with the alternatives of " there".
    chart = popover.get_by_test_id("stVegaLiteChart").last
    for alternative in ("␣there", "␣there~1", "␣there~4"):
        expect(chart.get_by_text(alternative, exact=True).first).to_be_visible()
    chat.assert_no_exception()
