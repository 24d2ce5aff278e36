"""The sidebar's collapsed sections in a browser: drawn once opened, nothing lost once shut.

Advanced sits in the settings' fragment: opening or shutting it, or changing a control in
it, reruns that fragment alone, and the page's full runs (which pin every setting) do not
come in between. A value changed there and then shut away must still be the one sent.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import ChatPage

pytestmark = pytest.mark.e2e


def test_a_seed_set_then_shut_away_is_sent_and_shown_again(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    chat.open_section("Advanced")
    seed = chat.sidebar.get_by_role("spinbutton", name="Seed")
    seed.fill("42")
    seed.press("Enter")
    expect(seed).to_have_value("42")
    chat.wait_idle()
    chat.shut_section("Advanced")  # the settings' fragment reruns without its controls
    expect(seed).to_have_count(0)
    chat.wait_idle()
    chat.chat("Hello", "Echo: Hello")
    body = fake.last_chat_body
    assert body is not None and body.get("seed") == 42
    chat.open_section("Advanced")
    expect(seed).to_have_value("42")
    chat.assert_no_exception()
