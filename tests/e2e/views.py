"""What the browser tests of the views under a reply share: screen sizes and fit checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import FloatRect, Locator, ViewportSize, expect

from tests.e2e.conftest import ChatPage

LAPTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}
SCREENS = [pytest.param(LAPTOP, id="1280x800"), pytest.param(PHONE, id="390x844")]


def open_sidebar(chat: ChatPage) -> None:
    """On a phone the sidebar starts folded away: unfold it."""
    expand = chat.page.get_by_test_id("stExpandSidebarButton")
    if expand.is_visible():
        expand.click()
    expect(chat.sidebar.get_by_role("button", name="New chat")).to_be_in_viewport()


def close_sidebar_on_a_phone(chat: ChatPage, screen: ViewportSize) -> None:
    """On a phone the open sidebar covers the page: fold it again."""
    if screen is PHONE:
        chat.sidebar.hover()
        chat.page.get_by_test_id("stSidebarCollapseButton").locator("button").click()
        expect(chat.input).to_be_in_viewport()


def boxes(*locators: Locator) -> list[FloatRect]:
    """The boxes of ``locators``, read in one frame. Read one after another, a page that
    scrolls between the reads (Streamlit follows a chat as it grows) moves one and not
    the other: two columns stacked on a phone were read as overlapping."""
    handles = [locator.element_handle() for locator in locators]
    rects: list[FloatRect] = locators[0].page.evaluate(
        """(elements) => elements.map((element) => {
            const rect = element.getBoundingClientRect();
            return {x: rect.x, y: rect.y, width: rect.width, height: rect.height};
        })""",
        handles,
    )
    assert all(rect["width"] or rect["height"] for rect in rects), ("not drawn", rects)
    return rects


def assert_readable(chat: ChatPage, content: Locator, screen: ViewportSize) -> None:
    """``content`` scrolled to is wholly on screen, above the chat box, which stays usable.

    The content is scrolled to the middle of the window, as a person reading it would:
    Playwright's ``scroll_into_view_if_needed`` counts content under the fixed chat box as
    already in view, and scrolls nothing. The page may scroll itself after ours (a run that
    ends keeps a chat at its bottom): then the run is waited out, and it is scrolled to anew.
    """
    for _ in range(3):
        content.evaluate("element => element.scrollIntoView({block: 'center'})")
        shown, chat_box = boxes(content, chat.page.get_by_test_id("stBottom"))
        if shown["y"] >= 0 and shown["y"] + shown["height"] <= chat_box["y"]:
            break
        chat.wait_idle()
    assert shown["x"] >= 0 and shown["x"] + shown["width"] <= screen["width"], shown
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= chat_box["y"], (shown, chat_box)
    chat.input.click(trial=True)  # nothing on top of the chat box intercepts a click


def assert_inside(inner: Locator, outer: Locator) -> None:
    """Every element of ``inner`` is drawn within ``outer`` (not cut at its edge)."""
    for element in inner.all():
        frame, rect = boxes(outer, element)
        assert (
            frame["x"] <= rect["x"] and rect["x"] + rect["width"] <= frame["x"] + frame["width"]
        ), (rect, frame)
        assert (
            frame["y"] <= rect["y"] and rect["y"] + rect["height"] <= frame["y"] + frame["height"]
        ), (rect, frame)
