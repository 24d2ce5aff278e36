"""The server check's report, in a real browser: it fits the sidebar it is drawn in."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def test_the_check_report_fits_the_sidebar(chat: ChatPage, fake: FakeOpenAI) -> None:
    chat.open_connection()
    chat.button("Check this server").click()
    report = chat.sidebar.get_by_test_id("stMarkdownContainer").filter(has_text="Streaming")
    expect(report).to_be_visible()
    expect(report).to_contain_text("Strict role alternation")  # the whole report is drawn
    widths = chat.sidebar.evaluate(
        """(sidebar) => {
            const content = sidebar.querySelector('[data-testid="stSidebarContent"]') || sidebar;
            const report = [...sidebar.querySelectorAll('[data-testid="stMarkdownContainer"]')]
                .find((el) => el.innerText.includes('Strict role alternation'));
            return {
                sidebar: content.clientWidth,
                scrolls: content.scrollWidth,
                report: report.scrollWidth,
            };
        }"""
    )
    assert widths["report"] <= widths["sidebar"], widths
    assert widths["scrolls"] <= widths["sidebar"], widths  # nothing to scroll sideways
    chat.assert_no_exception()
