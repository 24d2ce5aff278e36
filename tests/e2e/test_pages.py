"""Every page opens from its own URL, even as a fresh process's very first request."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from testing.app_process import AppProcess


@pytest.mark.parametrize(
    ("path", "heading"),
    [
        ("usage", "Usage"),
        ("compare", "Compare"),
        ("side_by_side", "Side by side"),
        ("leaderboard", "Leaderboard"),
    ],
)
def test_a_page_opens_from_its_url_as_the_first_request(
    browser: Browser, fresh_app: AppProcess, path: str, heading: str
) -> None:
    # A tab left open across a restart: the new process's first request is the page's URL,
    # which Streamlit serves in its old pages-folder mode, without app.py.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{fresh_app.url.rstrip('/')}/{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        app = page.get_by_test_id("stApp")
        expect(app).to_have_attribute("data-test-script-state", "notRunning")
        expect(page.get_by_test_id("stException")).to_have_count(0)
    finally:
        context.close()
    assert "Traceback" not in fresh_app.log()
