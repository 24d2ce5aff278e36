"""The sampling check in a real browser: its table under "Check this server", and the note
under the Seed control of a server that ignores the seed."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from components.sampling_check import BUTTON
from testing.fake_openai import FakeOpenAI, Sampler
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def test_the_sampling_check_shows_its_table_and_the_seed_note(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    fake.sampler = Sampler(ignores=frozenset({"seed"}))
    chat.open_connection()
    table = chat.sidebar.get_by_test_id("stMarkdownContainer").filter(has_text="Sampling check,")
    # Once in a full suite run the click was lost (no spinner, no table, the script idle for
    # 60 s): the click counts as taken once the check's spinner or its table shows.
    taken = table.or_(chat.sidebar.get_by_test_id("stSpinner"))
    chat.until_shown(chat.button(BUTTON).click, taken.first, timeout_ms=10_000)
    expect(table).to_be_visible()
    expect(table).to_contain_text(
        "The same seed repeats (temperature 1): ignored — seed 1 twice gave"
    )
    expect(table).to_contain_text("Temperature 0 repeats itself: honoured — the same reply twice")
    expect(table).to_contain_text("A final assistant message is continued")  # all of it drawn
    fits = chat.sidebar.evaluate(
        """(sidebar) => {
            const content = sidebar.querySelector('[data-testid="stSidebarContent"]') || sidebar;
            return content.scrollWidth <= content.clientWidth;
        }"""
    )
    assert fits, "the table wraps in the sidebar: nothing to scroll sideways"

    chat.open_section("Advanced")
    seed = chat.sidebar.get_by_role("spinbutton", name="Seed")
    expect(seed).to_be_visible()
    note = chat.sidebar.get_by_text(
        re.compile(r"This server ignored seed in the sampling check \(\d+ \w+ \d{4}\)\.")
    )
    expect(note).to_be_visible()
    below = note.bounding_box()
    above = seed.bounding_box()
    assert below is not None and above is not None
    assert below["y"] > above["y"]  # under the Seed control
    chat.assert_no_exception()
