"""Token probabilities in the browser: a clicked token's alternatives, in a view that fits."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Locator, ViewportSize, expect

from chatlab.provider import fork_refusal, server_kind
from components.chat.probabilities_view import FORK_LABEL
from testing.app_process import AppProcess
from testing.fake_openai import CONTINUATION, Dialect, FakeOpenAI, Reply
from tests.e2e.conftest import ChatPage, OpenPage, copy_to_docs
from tests.e2e.views import (
    LAPTOP,
    SCREENS,
    assert_inside,
    assert_readable,
    close_sidebar_on_a_phone,
    open_sidebar,
)

pytestmark = pytest.mark.e2e


def tick(chat: ChatPage, choice: Locator, press: Callable[[], None]) -> None:
    """Make ``choice`` (a switch or a radio) checked by ``press``, once the page is idle.

    Under load in CI a press that lands while a run is redrawing the sidebar or the view
    was lost (the choice stayed as it was, seen in three runs): the page is let settle and
    the press made again, at most three times, and the choice must end checked.
    """
    for _ in range(3):
        chat.wait_idle()
        if choice.is_checked():
            return
        press()
        try:
            expect(choice).to_be_checked(timeout=5_000)
            return
        except AssertionError:
            continue
    expect(choice).to_be_checked()


def switch_probabilities_on(chat: ChatPage) -> None:
    """Tick Probabilities in the sidebar's Advanced settings (it may start ticked: the
    session's settings, as a person's), by keyboard, as a person tabbing to it would."""
    open_sidebar(chat)
    chat.wait_idle()
    chat.open_section("Advanced")
    switch = chat.sidebar.get_by_role("switch", name="Probabilities")
    expect(switch).to_be_attached()

    def press() -> None:
        switch.focus()
        chat.page.keyboard.press("Space")

    tick(chat, switch, press)
    expect(
        chat.sidebar.get_by_role("spinbutton", name="Top alternatives per token")
    ).to_be_enabled()
    chat.wait_idle()


@pytest.mark.parametrize("screen", SCREENS)
def test_a_clicked_token_shows_its_alternatives_in_a_view_that_fits(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, screen: ViewportSize
) -> None:
    chat = open_page(app, viewport=screen)
    switch_probabilities_on(chat)
    close_sidebar_on_a_phone(chat, screen)
    fake.enqueue(Reply(text="Hello there"))
    chat.chat("Say hello", "Hello there")
    body = fake.last_chat_body
    assert body is not None and (body["logprobs"], body["top_logprobs"]) == (True, 5)
    expect(chat.replies.last.get_by_text("perplexity", exact=False)).to_be_visible()

    chat.replies.last.get_by_role("button", name="Probabilities").click()
    view = chat.replies.last.locator("[class*='st-key-probabilities-panel-']")
    token_map = view.locator("[class*='st-key-probabilities-token-']")
    expect(token_map).to_be_visible()
    chat.wait_idle()
    assert_readable(chat, token_map, screen)

    there = token_map.get_by_role("radio", name="␣there")
    expect(token_map.get_by_role("radio", name="Hello")).to_be_checked()
    tick(chat, there, there.click)
    expect(view.get_by_text("Token 2:")).to_be_visible()
    chat.wait_idle()
    expect(view.get_by_text("An approximation from the top 5 alternatives")).to_be_visible()
    # The re-weighting chart labels its bars with the alternatives of " there", uncut.
    chart = view.get_by_test_id("stVegaLiteChart").last
    labels = chart.locator("text").filter(has_text="␣there")
    for alternative in ("␣there", "␣there~1", "␣there~4"):
        expect(chart.get_by_text(alternative, exact=True).first).to_be_visible()
    assert_inside(labels, chart)
    assert_readable(chat, token_map, screen)  # still on screen, chat box still free
    if screen is LAPTOP:
        view.scroll_into_view_if_needed()
        copy_to_docs(chat.screenshot("probabilities"), "probabilities.png")
    chat.assert_no_exception()


VLLM_FLAGS = {"continue_final_message": True, "add_generation_prompt": False}


def open_fork(chat: ChatPage, fake: FakeOpenAI, screen: ViewportSize = LAPTOP) -> Locator:
    """A reply "Hello there" with its Probabilities open at " there": the fork button."""
    switch_probabilities_on(chat)
    close_sidebar_on_a_phone(chat, screen)
    fake.enqueue(Reply(text="Hello there"))
    chat.chat("Say hello", "Hello there")
    chat.replies.last.get_by_role("button", name="Probabilities").click()
    view = chat.replies.last.locator("[class*='st-key-probabilities-panel-']")
    token_map = view.locator("[class*='st-key-probabilities-token-']")
    there = token_map.get_by_role("radio", name="␣there")
    expect(there).to_be_visible()
    tick(chat, there, there.click)
    # The fork shows for the first token too: wait for the view of the second, or a click
    # that lands before its run ends forks from "Hello" (seen under stress-ng).
    expect(view.get_by_text("Token 2:")).to_be_visible()
    fork = view.get_by_role("button", name=FORK_LABEL)
    expect(fork).to_be_visible()
    chat.wait_idle()
    return fork


def fork_and_check_the_branch(chat: ChatPage, fork: Locator) -> Locator:
    """Click the fork; the new reply goes on from the chosen alternative, shown as 2/2."""
    expect(fork).to_be_enabled()
    fork.click()
    forked = chat.replies.last.filter(has_text="finish:")
    expect(forked).to_contain_text("Hello there~1" + CONTINUATION)
    expect(forked.get_by_text("2/2", exact=True)).to_be_visible()
    chat.wait_idle()
    return forked


@pytest.mark.parametrize("screen", SCREENS)
def test_continue_from_an_alternative_adds_a_branch_on_a_llamacpp_server(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI, screen: ViewportSize
) -> None:
    fake.dialect = Dialect(name="llamacpp")
    chat = open_page(app, viewport=screen)
    fork = open_fork(chat, fake, screen)
    assert_readable(chat, fork, screen)

    forked = fork_and_check_the_branch(chat, fork)

    previous, after = (forked.get_by_role("button", name=n) for n in ("Previous", "Next"))
    for control in (previous, forked.get_by_text("2/2", exact=True), after):
        assert_readable(chat, control, screen)
    expect(previous).to_be_enabled()  # back to the reply it was forked from
    expect(after).to_be_disabled()

    body = fake.last_chat_body
    assert body is not None
    assert body["messages"][-1] == {"role": "assistant", "content": "Hello there~1"}
    assert not set(VLLM_FLAGS) & set(body)  # llama-server prefills without them
    chat.assert_no_exception()


def test_continue_from_an_alternative_on_vllm_asks_it_to_continue(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI
) -> None:
    fake.dialect = Dialect(name="vllm")
    chat = open_page(app)
    fork = open_fork(chat, fake)

    fork_and_check_the_branch(chat, fork)

    body = fake.last_chat_body
    assert body is not None
    assert body["messages"][-1] == {"role": "assistant", "content": "Hello there~1"}
    assert {name: body.get(name) for name in VLLM_FLAGS} == VLLM_FLAGS
    chat.assert_no_exception()


def test_continue_from_an_alternative_is_disabled_with_its_reason_on_openai(
    open_page: OpenPage, app: AppProcess, fake: FakeOpenAI
) -> None:
    chat = open_page(app)  # the fake's own dialect: OpenAI's
    fork = open_fork(chat, fake)

    expect(fork).to_be_disabled()
    reason = fork_refusal(server_kind([{"owned_by": "fake"}]))
    assert reason is not None
    view = chat.replies.last.locator("[class*='st-key-probabilities-panel-']")
    expect(view.get_by_text(reason)).to_be_visible()
    assert len(fake.chat_requests) == 1  # only the reply itself was asked for
    chat.assert_no_exception()
