"""Reading many samples in Chromium: the word diff drawn as HTML shows a hostile output as
text (no element made, no script run), with its removed and added words marked."""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import OpenPage
from tests.e2e.test_compare import ComparePage

pytestmark = pytest.mark.e2e

HOSTILE = "<img src=x onerror=alert(1)>"
REPLIES = [  # temperatures 0, 0.7 and 1.4, one sample each, in grid order
    "The sea is calm tonight.",
    f"The sea is {HOSTILE} tonight.",
    "The sea is calm tonight.",
]


def test_the_diff_shows_a_hostile_output_as_text(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI
) -> None:
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    compare = ComparePage.opened(open_page, app)
    chat = compare.chat
    chat.page.on("dialog", record)
    fake.enqueue(*(Reply(text=text, chunk_delay=0.01) for text in REPLIES))
    compare.run(samples=1, at_once=1)  # one at a time: the queue's order is the grid's
    expect(compare.card(2)).to_contain_text("finish: stop")
    compare.chat.wait_idle()
    expect(chat.main.get_by_text("What changed:")).to_be_visible()

    compare.show("Clusters")
    expect(chat.main.get_by_text("1 answer", exact=False).first).to_be_visible()
    chat.main.get_by_text("×1 (sample 1)", exact=False).first.click()  # its text drawn
    opened = chat.main.get_by_test_id("stExpanderDetails")
    expect(opened.get_by_text("The sea is calm tonight.")).to_be_visible()
    compare.chat.wait_idle()
    compare.chat.screenshot("compare-clusters")

    compare.show("Word diff")  # by default: the first output and the first that differs
    removed = chat.main.locator("del")
    added = chat.main.locator("ins")
    expect(removed).to_have_text("calm")
    expect(added).to_have_text(HOSTILE)  # the markup as text
    expect(chat.main.locator("img[src=x]")).to_have_count(0)
    removed.scroll_into_view_if_needed()
    compare.chat.screenshot("compare-word-diff")
    assert dialogs == []  # no script ran
    compare.chat.assert_no_exception()
    chat.page.remove_listener("dialog", record)  # the tab is kept for the next test
