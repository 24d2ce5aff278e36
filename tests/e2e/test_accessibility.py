"""An axe-core scan of every page, light and dark: no serious or critical violation.

axe-playwright-python bundles axe.min.js, so the scan runs offline. A violation inside
Streamlit's own widgets, whose markup Chat Lab cannot change, is excluded by its rule and
a selector as narrow as it can be, with the reason beside it (``STREAMLIT_OWN``). Hover
colours are a moment's: the mouse is moved off the page's controls before each scan.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe  # type: ignore[import-untyped]  # no types
from playwright.sync_api import expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import ChatPage, OpenPage

pytestmark = pytest.mark.e2e

FAILING_IMPACTS = {"serious", "critical"}
# (rule id, CSS selector of the node) pairs in Streamlit's own markup that Chat Lab cannot
# change, each with its reason. None so far: what the scan found (captions' contrast, the
# dark theme's colours) was fixed in .streamlit/config.toml.
STREAMLIT_OWN: set[tuple[str, str]] = set()


def serious_violations(chat: ChatPage) -> list[str]:
    """The serious and critical violations on the page as it is now, one line per node."""
    chat.page.mouse.move(1, 1)  # a hovered button's colours are a moment's, not the page's
    results: dict[str, Any] = Axe().run(chat.page).response
    found = []
    for violation in results["violations"]:
        if violation["impact"] not in FAILING_IMPACTS:
            continue
        for node in violation["nodes"]:
            target = " ".join(str(part) for part in node["target"])
            if any(
                violation["id"] == rule and selector in target for rule, selector in STREAMLIT_OWN
            ):
                continue
            found.append(
                f"{violation['id']} ({violation['impact']}): {target}: {node['html'][:200]}"
            )
    return found


def in_scheme(chat: ChatPage, scheme: str) -> None:
    """Reload the page with the browser preferring ``scheme``; check the theme followed."""
    chat.page.emulate_media(color_scheme="dark" if scheme == "dark" else "light")
    chat.page.reload()
    expect(chat.page.locator(".st-key-welcome")).to_be_visible()
    chat.wait_idle()
    background = chat.page.get_by_test_id("stApp").evaluate(
        "app => getComputedStyle(app).backgroundColor"
    )
    red, green, blue = (int(n) for n in re.findall(r"\d+", background)[:3])
    assert (red + green + blue < 3 * 128) == (scheme == "dark"), background


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_the_pages_have_no_serious_accessibility_violations(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, scheme: str
) -> None:
    chat = open_page(app)
    in_scheme(chat, scheme)
    found = {"chat (empty)": serious_violations(chat)}
    chat.chat("Hello there", "Echo: Hello there")
    chat.button("Regenerate").last.click()  # two alternatives: the ‹ 2/2 › switcher
    expect(chat.page.get_by_text("2/2")).to_be_visible()
    chat.wait_idle()
    found["chat"] = serious_violations(chat)
    chat.screenshot(f"accessibility-{scheme}")
    pages = (
        ("compare", "Compare"),
        ("usage", "Usage"),
        ("side_by_side", "Side by side"),
        ("leaderboard", "Leaderboard"),
    )
    for path, heading in pages:
        chat.page.goto(f"{chat.app.url}{path}")
        expect(chat.page.get_by_role("heading", name=heading)).to_be_visible()
        chat.wait_idle()
        found[path] = serious_violations(chat)
    chat.page.emulate_media(color_scheme="light")  # the tab is kept for the next test as it came
    assert not any(found.values()), "\n".join(
        f"{page}: {line}" for page, lines in found.items() for line in lines
    )
    chat.assert_no_exception()
