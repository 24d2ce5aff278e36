"""Side by side in a real browser: two columns stream at once, blind until the vote, which
reveals the models; on a phone the columns stack and nothing is cut off."""

from __future__ import annotations

import pytest
from playwright.sync_api import Locator, expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage, OpenPage, copy_to_docs
from tests.e2e.views import LAPTOP, PHONE, boxes

pytestmark = pytest.mark.e2e

PROMPT = "Describe the sea at night in six words"


class SideBySidePage:
    """The side-by-side page as a user sees it."""

    def __init__(self, chat: ChatPage) -> None:
        self.chat = chat
        self.page = chat.page

    def shown(self) -> SideBySidePage:
        expect(self.page.get_by_role("heading", name="Side by side")).to_be_visible()
        self.chat.wait_idle()
        return self

    def start(self, *, blind: bool) -> None:
        if blind:
            switch = self.chat.main.get_by_role("switch", name="Blind")
            switch.focus()
            switch.press("Space")  # by keyboard: a click during a redraw can be lost
            expect(switch).to_be_checked()
            self.chat.wait_idle()
        self.chat.main.get_by_role("button", name="Start", exact=True).click()
        expect(self.chat.input).to_be_visible()
        self.chat.wait_idle()

    @property
    def columns(self) -> Locator:
        return self.chat.main.get_by_test_id("stColumn")

    def replies(self, column: int) -> Locator:
        return (
            self.columns.nth(column)
            .get_by_test_id("stChatMessage")
            .filter(has=self.page.get_by_test_id("stChatMessageAvatarAssistant"))
        )

    @property
    def stop_all(self) -> Locator:
        return self.chat.main.get_by_role("button", name="Stop all")


@pytest.fixture
def side(open_page: OpenPage, app: AppProcess) -> SideBySidePage:
    return SideBySidePage(open_page(app, path="side_by_side")).shown()


def test_two_columns_stream_at_once_and_a_blind_vote_reveals_them(
    side: SideBySidePage, fake: FakeOpenAI
) -> None:
    fake.default_reply = Reply(chunk_delay=0.25)  # the echo, a word every quarter second
    side.start(blind=True)
    expect(side.chat.main.get_by_text("hidden until you vote")).to_have_count(2)
    side.chat.send(PROMPT)
    # Both columns show words while both are still answering: they stream at once.
    for column in range(2):
        expect(side.replies(column).last).to_contain_text("Echo: Describe")
    expect(side.stop_all).to_be_visible()
    expect(side.columns.get_by_text("finish:")).to_have_count(0)  # blind: no telemetry
    expect(side.stop_all).to_have_count(0)  # both ended
    side.chat.wait_idle()
    for column in range(2):
        expect(side.replies(column).last).to_contain_text("six words")
    main = side.chat.main
    expect(main.get_by_text("gpt-4o")).to_have_count(0)
    main.get_by_role("radio", name="A is better").click()
    expect(main.get_by_text("You voted: A is better")).to_be_visible()
    expect(main.get_by_text("hidden until you vote")).to_have_count(0)
    expect(side.columns.get_by_text("finish: stop")).to_have_count(2)  # telemetry, now
    side.chat.wait_idle()
    first, second = boxes(side.columns.nth(0), side.columns.nth(1))
    assert second["x"] >= first["x"] + first["width"]  # side by side at 1280x800,
    assert second["y"] < first["y"] + first["height"] / 2  # level with each other
    assert second["x"] + second["width"] <= LAPTOP["width"]  # nothing cut off
    side.chat.assert_no_exception()
    copy_to_docs(side.chat.screenshot("side-by-side"), "side-by-side.png")


def test_the_columns_stack_on_a_phone_and_nothing_is_cut_off(
    side: SideBySidePage, fake: FakeOpenAI
) -> None:
    screen = PHONE  # at 1280x800: the blind test above
    side.page.set_viewport_size(screen)
    fake.default_reply = Reply(text="word " * 120, chunk_delay=0.001)
    side.start(blind=False)
    side.chat.send(PROMPT)
    expect(side.columns.get_by_text("finish: stop")).to_have_count(2)
    side.chat.wait_idle()
    first, second = boxes(side.columns.nth(0), side.columns.nth(1))
    for shown in (first, second):
        assert shown["x"] >= 0 and shown["x"] + shown["width"] <= screen["width"], shown
    assert second["y"] > first["y"] + first["height"] / 2  # stacked, one under the other
    side.chat.assert_no_exception()
    side.chat.screenshot(f"side-by-side-{screen['width']}")
