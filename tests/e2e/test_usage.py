"""Usage in Chromium: its totals are the sum of what the chat and Compare sent (issue 18).

The app here has a database of its own (the session's shared app holds every other
test's replies), so its totals are exactly this test's requests: one chat reply and a
two-cell Compare run, each answered with the token counts the fake's usage chunk states.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import ViewportSize, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage, OpenPage
from tests.e2e.test_compare import ComparePage
from tests.e2e.views import LAPTOP, PHONE

pytestmark = pytest.mark.e2e

CHAT_REPLY = Reply(text="Hello there", prompt_tokens=11, completion_tokens=3)
COMPARE_REPLIES = [
    Reply(text="Calm and dark.", prompt_tokens=20, completion_tokens=4),
    Reply(text="Silver waves.", prompt_tokens=21, completion_tokens=5),
]
TOTALS = {  # what the Usage page's metrics show for each source filter
    "All": {"Requests": "3", "Tokens in": str(11 + 20 + 21), "Tokens out": str(3 + 4 + 5)},
    "Chat": {"Requests": "1", "Tokens in": "11", "Tokens out": "3"},
    "Compare": {"Requests": "2", "Tokens in": str(20 + 21), "Tokens out": str(4 + 5)},
}


def assert_totals(chat: ChatPage, source: str, screen: ViewportSize) -> None:
    """Pick ``source`` in "Sent from"; the metrics read its totals, wholly on screen."""
    picker = chat.main.get_by_test_id("stRadio")
    picker.get_by_text(source, exact=True).click()
    expect(picker.get_by_role("radio", name=source, exact=True)).to_be_checked()
    chat.wait_idle()
    for label, value in TOTALS[source].items():
        metric = chat.main.get_by_test_id("stMetric").filter(has_text=label)
        expect(metric.get_by_test_id("stMetricValue")).to_have_text(value)
        metric.scroll_into_view_if_needed()
        expect(metric).to_be_in_viewport(ratio=1)
        shown = metric.bounding_box()
        assert shown is not None and shown["x"] + shown["width"] <= screen["width"], shown


def test_usage_totals_are_a_chat_reply_plus_a_compare_run(
    open_page: OpenPage, fresh_app: AppProcess, fake: FakeOpenAI
) -> None:
    """Sent at 1280x800; the totals read at 1280x800, then on a phone (390x844)."""
    chat = open_page(fresh_app, viewport=LAPTOP)
    fake.enqueue(CHAT_REPLY)
    chat.chat("Say hello", "Hello there")

    compare = ComparePage(chat).open()
    fake.enqueue(*COMPARE_REPLIES)
    compare.fill(compare.field("Temperature"), "0, 1")  # two cells
    compare.run(samples=1, at_once=1)
    expect(compare.card(1)).to_contain_text("finish: stop")
    chat.wait_idle()
    expect(compare.stop).to_have_count(0)  # the run is over
    assert len(fake.chat_requests) == 3

    for screen in (LAPTOP, PHONE):
        chat.page.set_viewport_size(screen)
        chat.page.goto(f"{fresh_app.url}usage")
        expect(chat.page.get_by_role("heading", name="Usage")).to_be_visible()
        chat.wait_idle()
        # Each source's totals once; on a phone, the page's layout (the same for each).
        for source in ("All", "Compare", "Chat", "All") if screen is LAPTOP else ("Compare",):
            assert_totals(chat, source, screen)
        chat.assert_no_exception()
