"""A fresh clone with no key and no server: the page explains how to connect."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI
from tests.e2e.conftest import OpenPage

pytestmark = pytest.mark.e2e


def test_without_key_or_base_url_the_setup_panel_shows(
    open_page: OpenPage, keyless_app: AppProcess, fake: FakeOpenAI
) -> None:
    chat = open_page(keyless_app)

    expect(chat.page.get_by_text("No model connection yet.")).to_be_visible()
    expect(chat.main).to_contain_text("OpenAI API key")
    expect(chat.input).to_have_count(0)
    chat.assert_no_exception()
    chat.screenshot("setup-panel")


def test_a_base_url_typed_in_the_setup_state_needs_no_key(
    open_page: OpenPage, keyless_app: AppProcess, fake: FakeOpenAI
) -> None:
    chat = open_page(keyless_app)
    chat.set_base_url(fake.base_url)

    expect(chat.page.get_by_text("No model connection yet.")).to_have_count(0)
    chat.chat("Hello", "Echo: Hello")
    assert [r.headers.get("authorization") for r in fake.chat_requests] == [None]
