"""Spending in Chromium: closing the tab stops its Compare run, even one left running
while the visitor is on another page; nothing more reaches the model server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import (
    UI_TIMEOUT_MS,
    VIEWPORT,
    ChatPage,
    Traffic,
    assert_no_traceback_logged,
)
from tests.e2e.test_compare import PROMPT, ComparePage

pytestmark = pytest.mark.e2e


def compare_requests(fake: FakeOpenAI) -> int:
    return sum(PROMPT in str(r.body) for r in fake.chat_requests)


def test_closing_the_tab_stops_its_sweep(
    browser: Browser, app: AppProcess, fake: FakeOpenAI, open_page: object
) -> None:
    log_start = len(app.log())
    # The first reply takes a few seconds; every later one streams until its client hangs
    # up (or HANG_LIMIT, 30 s): only a stop ends it early.
    fake.enqueue(Reply(text="The sea is dark and calm tonight, and quiet.", chunk_delay=0.3))
    fake.default_reply = Reply(fault="endless", chunk_delay=0.1)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    chat = ChatPage(context.new_page(), app, Traffic()).open()
    compare = ComparePage(chat).open()
    compare.run(samples=3, at_once=1)  # nine requests, one at a time
    expect(compare.card(0)).to_contain_text("The sea")

    # The visitor reads the chat; no page follows the sweep, and it runs on.
    nav = compare.page.get_by_test_id("stSidebarNav")
    nav.get_by_role("link", name="Chat").click()
    expect(chat.input).to_be_visible()
    fake.wait_for_chat_requests(2, timeout=UI_TIMEOUT_MS / 1000)
    chat.wait_idle()
    chat.assert_no_exception()
    context.close()  # the tab (the whole browser session) is gone

    # The request in flight is hung up at once (the old code read it to its 30 s end):
    # waited for well under those 30 s, or the test could not fail.
    assert fake.wait_until_answered(timeout=15)
    # A later round trip through the same app: the stopped sweep sent nothing meanwhile.
    fake.default_reply = Reply()
    fake.enqueue(Reply(text="Still here."))
    other = browser.new_context(viewport=VIEWPORT)
    try:
        later = ChatPage(other.new_page(), app, Traffic()).open()
        later.chat("Anyone there?", "Still here.")
    finally:
        other.close()
    assert compare_requests(fake) == 2  # seven cells never went out
    assert_no_traceback_logged(app, log_start)
