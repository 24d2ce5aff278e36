"""The way into the lab: a wait that shows it is alive, the empty chat's welcome,
"Compare this prompt", a Compare setup's shareable link, and names for every button."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.sync_api import Locator, ViewportSize, expect

from components.chat.welcome import EXAMPLES
from testing.app_process import AppProcess
from testing.fake_openai import FakeOpenAI, Reply
from tests.e2e.conftest import UI_TIMEOUT_S, ChatPage, OpenPage

pytestmark = pytest.mark.e2e

LONG_ANSWER = " ".join(f"word{i}" for i in range(60))
WIDE: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def roles_and_contents(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in body["messages"]]


def welcome(chat: ChatPage) -> Locator:
    return chat.page.locator(".st-key-welcome")


def compare_field(chat: ChatPage, label: str) -> Locator:
    return chat.main.get_by_role("textbox", name=label, exact=True)


def open_compare_link(open_page: OpenPage, app: AppProcess, query: str) -> ChatPage:
    """A Compare link, followed into a tab of its own."""
    chat = open_page(app, path=f"compare?{query}")
    expect(chat.page.get_by_role("heading", name="Compare")).to_be_visible()
    chat.wait_idle()
    return chat


SIZES = pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])


@SIZES
def test_a_slow_first_token_shows_the_seconds_waited(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, viewport: ViewportSize
) -> None:
    chat = open_page(app, viewport=viewport)
    fake.enqueue(Reply(text="At last, an answer.", first_token_delay=2.6))  # the app waits 3 s
    chat.send("Are you there?")
    reply = chat.replies.last
    expect(reply).to_contain_text(re.compile(r"Waiting for the server · \d+ s"))
    # Redrawn while nothing arrives: the seconds count up (how far depends on the machine's
    # load, not on the test: any count past 0 is the page redrawn while waiting).
    expect(reply).to_contain_text(re.compile(r"Waiting for the server · [1-9]\d* s"))
    expect(reply.get_by_text("Waiting for the server")).to_be_in_viewport()
    expect(reply).to_contain_text("At last, an answer.")
    expect(reply).to_contain_text("finish: stop")
    expect(reply).not_to_contain_text("Waiting for the server")
    chat.wait_idle()
    chat.assert_no_exception()


@SIZES
def test_a_streaming_reply_shows_its_pace(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, viewport: ViewportSize
) -> None:
    chat = open_page(app, viewport=viewport)
    fake.enqueue(Reply(text=LONG_ANSWER, chunk_delay=0.1))
    chat.send("Count for me.")
    reply = chat.replies.last
    expect(reply).to_contain_text(re.compile(r"Receiving · \d+ tokens/s"))
    expect(reply.get_by_text(re.compile(r"Receiving · \d+ tokens/s"))).to_be_in_viewport()
    expect(chat.stop_button).to_be_visible()  # still streaming when the pace showed
    expect(reply).to_contain_text("finish: stop")
    expect(reply).not_to_contain_text("Receiving")
    chat.wait_idle()
    chat.assert_no_exception()


@SIZES
def test_an_example_from_the_welcome_is_sent_as_a_typed_message(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, viewport: ViewportSize
) -> None:
    chat = open_page(app, viewport=viewport)
    expect(welcome(chat)).to_contain_text("Welcome to Chat Lab")
    expect(welcome(chat).get_by_role("link", name="Compare settings side by side")).to_be_visible()
    example = welcome(chat).get_by_role("button", name=EXAMPLES[0])
    expect(example).to_be_in_viewport()
    example.click()
    expect(chat.user_texts).to_have_text([EXAMPLES[0]])
    expect(chat.replies.last).to_contain_text(f"Echo: {EXAMPLES[0]}")
    expect(chat.replies.last).to_contain_text("finish: stop")
    chat.wait_idle()
    expect(welcome(chat)).to_have_count(0)  # a conversation has begun
    (request,) = fake.chat_requests
    assert request.body["messages"][-1] == {"role": "user", "content": EXAMPLES[0]}
    # Saved as a typed message is: it is there after a reload, in the conversations list.
    chat.page.reload()
    expect(chat.user_texts).to_have_text([EXAMPLES[0]])
    chat.assert_no_exception()


def test_the_welcome_switches_on_probabilities_and_leads_to_compare(
    chat: ChatPage, fake: FakeOpenAI
) -> None:
    welcome(chat).get_by_role("button", name="Switch on Probabilities").click()
    expect(welcome(chat)).to_contain_text("Probabilities are on")
    chat.wait_idle()
    chat.send("Hello")
    expect(chat.replies.last).to_contain_text("finish: stop")
    chat.wait_idle()
    assert fake.last_chat_body is not None and fake.last_chat_body["logprobs"] is True
    chat.button("New chat").click()
    welcome(chat).get_by_role("link", name="Compare settings side by side").click()
    expect(chat.page.get_by_role("heading", name="Compare")).to_be_visible()
    chat.wait_idle()
    chat.assert_no_exception()


@SIZES
def test_compare_this_prompt_opens_compare_with_it_and_what_came_before(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, viewport: ViewportSize
) -> None:
    chat = open_page(app, viewport=viewport)
    chat.chat("Name a colour.", "Echo: Name a colour.")
    chat.chat("Now a fruit.", "Echo: Now a fruit.")
    chat.user_messages.last.get_by_role("button", name="Compare this prompt").click()
    expect(chat.page.get_by_role("heading", name="Compare")).to_be_visible()
    chat.wait_idle()
    expect(compare_field(chat, "Prompt")).to_have_value("Now a fruit.")
    context = chat.main.get_by_role("checkbox", name="Use the 2 messages before this prompt")
    expect(context).to_be_checked()
    expect(chat.main.get_by_test_id("stMultiSelect")).to_contain_text("gpt-4o-mini")
    expect(chat.page).to_have_url(re.compile(r"prompt=Now"))  # the setup's link
    chat.main.get_by_role("spinbutton", name="Samples per setting").fill("1")
    chat.main.get_by_role("spinbutton", name="Samples per setting").press("Tab")
    chat.wait_idle()
    before = len(fake.chat_requests)
    chat.page.get_by_role("button", name="Run", exact=True).click()
    requests = fake.wait_for_chat_requests(before + 3, timeout=UI_TIMEOUT_S)[before:]
    for request in requests:  # the conversation before the question, then the question
        assert roles_and_contents(request.body)[-3:] == [
            ("user", "Name a colour."),
            ("assistant", "Echo: Name a colour."),
            ("user", "Now a fruit."),
        ]
        assert request.body["model"] == "gpt-4o-mini"
    chat.wait_idle()
    chat.assert_no_exception()


def test_a_compare_link_reopens_its_setup_and_follows_the_form(
    open_page: OpenPage, app: AppProcess
) -> None:
    chat = open_compare_link(
        open_page, app, "prompt=Two%20words%2C%20please&temperature=0.2,0.9&samples=2&models=gpt-4o"
    )
    expect(compare_field(chat, "Prompt")).to_have_value("Two words, please")
    expect(compare_field(chat, "Temperature")).to_have_value("0.2,0.9")
    expect(chat.main.get_by_role("spinbutton", name="Samples per setting")).to_have_value("2")
    expect(chat.main.get_by_test_id("stMultiSelect")).to_contain_text("gpt-4o")
    expect(chat.main.get_by_test_id("stMultiSelect")).not_to_contain_text("gpt-4o-mini")
    # An edit moves into the address bar: the URL always reopens what the form holds.
    compare_field(chat, "Prompt").fill("Three words")
    compare_field(chat, "Prompt").press("Tab")
    expect(chat.page).to_have_url(re.compile(r"prompt=Three\+words|prompt=Three%20words"))
    chat.wait_idle()
    chat.page.goto(chat.page.url)  # the URL, opened afresh
    expect(compare_field(chat, "Prompt")).to_have_value("Three words")
    expect(compare_field(chat, "Temperature")).to_have_value("0.2,0.9")
    chat.assert_no_exception()


def test_a_hostile_compare_link_is_checked_and_shown_literally(
    open_page: OpenPage, app: AppProcess
) -> None:
    hostile = '<img src=x onerror="window.pwned=1"> **bold**'
    chat = open_compare_link(
        open_page,
        app,
        f"prompt={quote(hostile)}&temperature={quote('9, <b>x</b>')}&samples=999"
        f"&models={quote('<script>alert(1)</script>')}&top_p={'1,' * 200}",
    )
    expect(compare_field(chat, "Prompt")).to_have_value(hostile)  # as text, in its box
    warning = chat.main.get_by_test_id("stAlertContentWarning")
    expect(warning).to_contain_text("the temperature values (not valid)")
    expect(warning).to_contain_text("the top_p values (not valid)")
    expect(warning).to_contain_text("the samples")
    expect(warning).not_to_contain_text("<b>")
    expect(compare_field(chat, "Temperature")).to_have_value("0, 0.7, 1.4")  # the default
    expect(chat.main.get_by_role("spinbutton", name="Samples per setting")).to_have_value("3")
    expect(chat.page.locator("img[src=x]")).to_have_count(0)
    assert chat.page.evaluate("window.pwned") is None
    chat.assert_no_exception()


def test_the_alternative_switcher_buttons_are_named_for_what_they_do(chat: ChatPage) -> None:
    chat.chat("Hello", "Echo: Hello")
    chat.button("Regenerate").last.click()
    expect(chat.page.get_by_text("2/2")).to_be_visible()
    chat.wait_idle()
    previous = chat.page.get_by_role("button", name="Previous", exact=True)
    expect(previous).to_be_enabled()
    expect(chat.page.get_by_role("button", name="Next", exact=True)).to_be_disabled()
    spoken = chat.main.aria_snapshot()
    assert "chevron" not in spoken and "icon" not in spoken, spoken  # no icon's ligature name
    previous.click()
    expect(chat.page.get_by_text("1/2")).to_be_visible()
    chat.wait_idle()
    chat.assert_no_exception()
