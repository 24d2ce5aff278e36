"""The main browser checks, against a real model server (see conftest.py for how to run)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chatlab.config import Endpoint
from chatlab.model_names import display_name
from chatlab.provider.server_check import check_server
from chatlab.provider.servers import ServerModel, context_window
from testing.app_process import AppProcess
from tests.e2e.conftest import ChatPage, OpenPage
from tests.real.conftest import API_KEY, BASE_URL

DROP_OLDEST = "Drop oldest turns and retry"


def finished_reply(chat: ChatPage) -> str:
    """Wait until the newest message is a finished reply (its telemetry ends it); its text."""
    reply = chat.messages.last.filter(
        has=chat.page.get_by_test_id("stChatMessageAvatarAssistant")
    ).filter(has_text="finish:")
    expect(reply).to_be_visible()
    chat.wait_idle()
    return chat.reply_text()


def cap_replies(chat: ChatPage, tokens: int = 16) -> None:
    """Keep replies short: a small model on a CPU writes a few tokens a second."""
    chat.set_slider("Max tokens", "Home", *["ArrowRight"] * (tokens - 1), shows=str(tokens))


def long_text(tokens: int) -> str:
    """About ``tokens`` tokens: one common word each."""
    return " ".join(["apple"] * tokens)


def known_window(server_models: list[ServerModel], model_id: str) -> int:
    window = context_window(server_models, model_id)
    assert window, f"the server states no context window for {model_id}"
    return window


def test_a_message_gets_a_streamed_reply_with_telemetry(
    open_page: OpenPage, real_app: AppProcess
) -> None:
    chat = open_page(real_app)
    cap_replies(chat)
    chat.send("Say hello.")
    assert finished_reply(chat)
    telemetry = chat.replies.last.get_by_test_id("stCaptionContainer")
    expect(telemetry.last).to_contain_text("tokens")


def test_the_model_picker_shows_the_servers_model_selected(
    open_page: OpenPage, real_app: AppProcess, model_id: str
) -> None:
    chat = open_page(real_app)
    picker = chat.sidebar.get_by_role("combobox", name="Model")
    expect(picker).to_have_value(display_name(model_id))


def test_the_context_window_shown_is_the_servers(
    open_page: OpenPage, real_app: AppProcess, server_models: list[ServerModel], model_id: str
) -> None:
    window = known_window(server_models, model_id)
    chat = open_page(real_app)
    expect(chat.sidebar).to_contain_text(f"of {window:,}")


def test_a_context_overflow_offers_to_drop_the_oldest_turns(
    open_page: OpenPage, real_app: AppProcess, server_models: list[ServerModel], model_id: str
) -> None:
    window = known_window(server_models, model_id)
    chat = open_page(real_app)
    cap_replies(chat)
    chat.send(long_text(window * 6 // 10))
    finished_reply(chat)
    chat.send(long_text(window * 6 // 10))
    expect(chat.button(DROP_OLDEST)).to_be_visible()
    chat.button(DROP_OLDEST).click()
    assert finished_reply(chat)


def test_stop_keeps_the_partial_reply(open_page: OpenPage, real_app: AppProcess) -> None:
    chat = open_page(real_app)
    chat.send("Write a very long story about a cat who sails around the world.")
    expect(chat.stop_button).to_be_visible()
    # Words arrived: the line under the reply says so ("Waiting for the server" is words
    # too, and a Stop before the first token rightly keeps no reply).
    expect(chat.replies.last).to_contain_text("Receiving")
    chat.stop_button.click()
    chat.wait_idle()
    expect(chat.input).to_be_enabled()
    # Streamlit draws nothing more in a stopped run: the note shows from the next one on.
    chat.page.reload()
    expect(chat.main).to_contain_text("Stopped. The partial reply is kept")
    expect(chat.replies.last).to_contain_text(re.compile(r"\w\w"))


def test_continue_after_the_max_tokens_cap_extends_the_reply(
    open_page: OpenPage, real_app: AppProcess
) -> None:
    chat = open_page(real_app)
    chat.set_slider("Max tokens", "Home", *["ArrowRight"] * 7, shows="8")
    chat.send("Tell me about the sea.")
    finished_reply(chat)
    expect(chat.main).to_contain_text("Cut off at the max-tokens limit")
    first = chat.reply_text()
    chat.button("Continue").click()
    expect(chat.replies.last).not_to_have_text(first)
    assert finished_reply(chat).startswith(first[:10])


def test_after_a_failed_turn_the_next_message_still_gets_a_reply(
    open_page: OpenPage, real_app: AppProcess, server_models: list[ServerModel], model_id: str
) -> None:
    """A strict template (Gemma's) rejects two user turns in a row: the app must never send them."""
    window = known_window(server_models, model_id)
    chat = open_page(real_app)
    cap_replies(chat)
    chat.send(long_text(window * 3 // 2))  # too long alone: this turn fails
    expect(chat.error).to_be_visible()
    chat.wait_idle()
    chat.send("Hello")
    assert finished_reply(chat)
    expect(chat.main).not_to_contain_text("roles must alternate")


def test_discovery_offers_the_local_server_in_one_click(
    open_page: OpenPage, discovering_app: AppProcess
) -> None:
    chat = open_page(discovering_app)
    found = chat.page.get_by_role("button").filter(has_text="at 127.0.0.1")
    expect(found).to_have_count(1)
    found.click()
    expect(chat.input).to_be_visible()
    chat.wait_idle()
    cap_replies(chat)
    chat.send("Say hello.")
    assert finished_reply(chat)


SWEEP_TIMEOUT_MS = 20 * 60_000  # nine replies of up to 1,024 tokens from a CPU model


@pytest.mark.timeout(SWEEP_TIMEOUT_MS // 1000 + 120)  # make test-real's 600 s is too short
def test_the_default_compare_sweep_completes_every_cell(
    open_page: OpenPage, real_app: AppProcess
) -> None:
    # The defaults a new user runs: temperatures 0, 0.7, 1.4 x 3 samples, 4 at once, max
    # tokens 1,024. On llama.cpp's defaults (4 slots sharing one -c 4096 cache) four such
    # requests at once overflowed the cache; Chat Lab must size the sweep to fit, or retry.
    chat = open_page(real_app)
    chat.page.goto(f"{real_app.url}compare")
    expect(chat.page.get_by_role("heading", name="Compare")).to_be_visible()
    chat.wait_idle()
    prompt = chat.main.get_by_role("textbox", name="Prompt", exact=True)
    prompt.fill("Name a colour, in one word.")
    prompt.press("Tab")
    chat.wait_idle()
    chat.page.get_by_role("button", name="Run", exact=True).click()
    done = chat.main.get_by_text(re.compile(r"^9 of 9 done"))
    expect(done).to_be_visible(timeout=SWEEP_TIMEOUT_MS)
    chat.wait_idle()
    expect(chat.main.get_by_text(re.compile(r"\bfailed\b"))).to_have_count(0)
    expect(chat.main.get_by_test_id("stAlertContentError")).to_have_count(0)
    chat.assert_no_exception()


def test_the_server_check_is_the_same_every_time(real_app: AppProcess, model_id: str) -> None:
    # llama-server closes a kept-alive connection after a stream, at times: a probe that
    # met it was reported "no answer in time" on 2 of 4 checks, logprobs and all.
    endpoint = Endpoint(API_KEY or None, BASE_URL, "environment")
    reports = [check_server(endpoint, model_id) for _ in range(4)]
    rows = [[(c.name, c.status) for c in report.checks] for report in reports]
    assert all(row == rows[0] for row in rows), rows
    assert all("in time" not in c.finding for report in reports for c in report.checks)
