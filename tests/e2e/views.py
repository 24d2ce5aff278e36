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


def box(locator: Locator) -> FloatRect:
    rect = locator.bounding_box()
    assert rect is not None, "not drawn"
    return rect


def assert_readable(chat: ChatPage, content: Locator, screen: ViewportSize) -> None:
    """``content`` scrolled to is wholly on screen, above the chat box, which stays usable.

    The content is scrolled to the middle of the window, as a person reading it would:
    Playwright's ``scroll_into_view_if_needed`` counts content under the fixed chat box as
    already in view, and scrolls nothing. The page may scroll itself after ours (a run that
    ends keeps a chat at its bottom): then the run is waited out, and it is scrolled to anew.
    """
    for _ in range(3):
        content.evaluate("element => element.scrollIntoView({block: 'center'})")
        shown, chat_box = box(content), box(chat.page.get_by_test_id("stBottom"))
        if shown["y"] >= 0 and shown["y"] + shown["height"] <= chat_box["y"]:
            break
        chat.wait_idle()
    assert shown["x"] >= 0 and shown["x"] + shown["width"] <= screen["width"], shown
    assert shown["y"] >= 0 and shown["y"] + shown["height"] <= chat_box["y"], (shown, chat_box)
    chat.input.click(trial=True)  # nothing on top of the chat box intercepts a click


def assert_inside(inner: Locator, outer: Locator) -> None:
    """Every element of ``inner`` is drawn within ``outer`` (not cut at its edge)."""
    frame = box(outer)
    for element in inner.all():
        rect = box(element)
        assert (
            frame["x"] <= rect["x"] and rect["x"] + rect["width"] <= frame["x"] + frame["width"]
        ), (rect, frame)
        assert (
            frame["y"] <= rect["y"] and rect["y"] + rect["height"] <= frame["y"] + frame["height"]
        ), (rect, frame)
