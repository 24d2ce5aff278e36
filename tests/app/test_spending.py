"""What a visitor may spend, under AppTest: one sweep per session whatever is shown, Compare's
values within the sidebar's bounds and each model's limit, a run over budget or too long for
the model refused before anything is sent, and the rate limit of the chat and of Compare."""

from __future__ import annotations

import importlib
import re
import threading
import time

import pytest
from streamlit.testing.v1 import AppTest

from chatlab.compare.sweep import Sweep
from chatlab.guard import limits
from chatlab.messages import ChatMessage
from components.session import CompareState
from testing.fake_openai import FakeOpenAI
from tests.app.conftest import AppFactory, click, held, kept, plant, send
from tests.app.test_compare_page import gated_sweep, open_compare, run_sweep


def unescaped(value: str) -> str:
    """Text drawn through ``chatlab.markdown.plain``, as the reader sees it."""
    return re.sub(r"\\(.)", r"\1", value)


def error_text(at: AppTest) -> str:
    """The one error on the page, as the reader sees it."""
    (error,) = at.error
    return unescaped(error.value)


def run_button(at: AppTest) -> bool:
    """Whether the Run button is enabled."""
    (button,) = [b for b in at.button if b.label == "Run"]
    return not button.disabled


def test_run_waits_for_the_sweep_in_progress_even_with_a_stored_run_reopened(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = run_sweep(open_compare(make_app), temperatures="0.2", samples=1)
    stored = held(at, CompareState).run
    assert isinstance(stored, Sweep) and stored.finished
    gate = threading.Event()
    running = held(at, CompareState).sweeps.start(lambda: gated_sweep(gate))
    assert running is not None
    at = at.run()
    assert not run_button(at)
    assert any("A run is in progress" in c.value for c in at.caption)

    (opened,) = [b for b in at.button if b.key == f"compare_open_{stored.id}"]
    at = opened.click().run()  # reopening a stored run used to enable Run again
    assert not at.exception
    assert held(at, CompareState).run is not running
    assert not run_button(at)
    assert len(fake.chat_requests) == 1
    assert held(at, CompareState).sweeps.running() is running

    at = click(at, "Stop the run in progress")
    assert running.wait(10)
    assert run_button(at.run())
    gate.set()


def test_max_tokens_above_the_models_limit_are_sent_as_that_limit(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    at.text_input(key="compare_values_max_tokens").set_value("100, 100000")
    at = run_sweep(at, temperatures="0.5", samples=1)
    assert not at.exception
    sent = sorted(r.body["max_tokens"] for r in fake.chat_requests)
    assert sent == [100, 16_384]  # gpt-4o-mini writes at most 16,384 tokens
    assert any("sent as that limit" in c.value for c in at.caption)


def test_values_outside_the_sidebars_bounds_are_refused(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    at.text_input(key="compare_values_max_tokens").set_value("1000000000")
    at = run_sweep(at, temperatures="0.5", samples=1)
    error = error_text(at)
    assert "out of range" in error and "from 1 to 272,000" in error
    at.text_input(key="compare_values_max_tokens").set_value("")
    at.text_input(key="compare_values_seed").set_value("-1")
    at = click(at, "Run")
    assert "seed -1 is out of range. Use values from 0 to 4,294,967,294." in error_text(at)
    assert fake.chat_requests == []


def test_a_run_over_the_request_budget_is_refused_with_its_figures(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_MAX_RUN_REQUESTS", "5")
    at = run_sweep(open_compare(make_app), temperatures="0, 0.7, 1.4", samples=2)
    error = error_text(at)
    assert "This run would send 6 requests" in error
    assert "at most 5 (CHATLAB_MAX_RUN_REQUESTS)" in error
    assert "Use fewer values, models or samples" in error
    assert fake.chat_requests == []
    assert held(at, CompareState).run is None  # nothing stored either


def test_a_run_within_budget_states_its_estimate(make_app: AppFactory, fake: FakeOpenAI) -> None:
    at = open_compare(make_app)
    at.text_area(key="compare_prompt").set_value("Name a colour.")
    at.text_input(key="compare_values_temperature").set_value("0, 1")
    at.number_input(key="compare_samples").set_value(1)
    at = at.run()  # before Run: the line under it
    (estimate,) = [unescaped(c.value) for c in at.caption if "requests ·" in c.value]
    assert estimate.startswith("Estimate: 2 requests")
    assert "2 requests" in estimate and "at most 2,048 out" in estimate
    # A local server is no provider's price list: unknown, never $0.
    assert "cost unknown for gpt-4o-mini" in estimate
    at = run_sweep(at, temperatures="0, 1", samples=1)
    assert len(fake.chat_requests) == 2
    assert not [c for c in at.caption if "tokens in each" in c.value]  # said once, before Run


def test_a_context_longer_than_the_models_window_is_refused_before_sending(
    make_app: AppFactory, fake: FakeOpenAI
) -> None:
    at = open_compare(make_app)
    long_text = "word " * 130_000  # ≈ 162,000 tokens: past gpt-4o-mini's 128,000
    plant(at, [ChatMessage("user", long_text), ChatMessage("assistant", "Noted.")])
    at = at.run()
    at.checkbox(key="compare_use_conversation").check()
    at = run_sweep(at, temperatures="0", samples=1)
    error = error_text(at)
    assert "more than gpt-4o-mini's context window of 128,000" in error
    assert "Use the open conversation as context" in error
    assert fake.chat_requests == []


def test_over_the_rate_limit_the_chat_says_when_to_retry_and_keeps_the_message(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "2")
    at = make_app().run()
    at = send(send(at, "one"), "two")
    assert not at.error
    at = send(at, "three")
    assert len(fake.chat_requests) == 2  # the third was never sent
    error = error_text(at)
    assert "You have sent 2 requests in the last minute" in error
    assert "(CHATLAB_RATE_LIMIT)" in error and re.search(r"Retry in \d+ s\.", error)
    assert kept(at)[-1] == ("user", "three")
    assert any(b.label == "Retry" for b in at.button)


def test_the_rate_limit_is_per_visitor(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "1")
    first = send(make_app().run(), "one")
    other = send(make_app().run(), "from another tab")
    assert not first.error and not other.error
    assert len(fake.chat_requests) == 2
    assert send(first, "again").error


def test_a_compare_run_is_held_to_the_rate_limit(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "2")
    monkeypatch.setattr(limits, "WINDOW", 1.5)  # the rate's minute, shortened for the test
    importlib.import_module("openai")  # as the warm-up would: Run's 10 s are the sweep's alone
    at = open_compare(make_app)
    pressed = time.monotonic()  # before Run: no request of the run is admitted earlier
    at = run_sweep(at, temperatures="0, 0.7, 1.4", samples=1)
    assert not at.exception and not at.error
    sweep = held(at, CompareState).run
    assert isinstance(sweep, Sweep) and sweep.wait(10) and sweep.finished
    first, second, third = sorted(r.at for r in fake.chat_requests)
    assert second - first < 1.0  # two within the rate go at once, four at a time allowed
    # The third waited for the window: it cannot reach the server sooner than a window
    # after Run. (Measured from Run, not from the first request's arrival, which a loaded
    # machine may delay: that made the gap look shorter than the wait.)
    assert third - pressed >= 1.5


def test_check_this_server_is_held_to_the_rate_limit(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHATLAB_RATE_LIMIT", "2")
    at = click(make_app().run(), "Check this server")
    assert not at.exception
    error = error_text(at)
    assert "You have sent 2 requests in the last minute" in error and "CHATLAB_RATE_LIMIT" in error
    assert fake.chat_requests == []  # the model list and the window lookup used the two
    assert "Retry in" in error_text(send(at, "hello"))  # the chat shares the visitor's rate
