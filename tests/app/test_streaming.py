"""How a reply is sent and drawn: the request leaves before the page is drawn, and the
first word after a wait is drawn at once."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from chatlab import config
from chatlab.messages import ChatMessage
from chatlab.storage import Store
from components import session, sidebar
from components.chat import reply, turn
from testing.fake_openai import FakeOpenAI, Reply
from tests.app.conftest import AppFactory, chat_state, flushed, kept, send, shown


class Timeline:
    """Deltas arriving at set times on a clock the test moves, and what got drawn when.

    ``draw_stream``'s clock is this one and its tail drawings are recorded as
    ``(time, tail text)``.
    """

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.now = 0.0
        self.drawn: list[tuple[float, str]] = []
        monkeypatch.setattr("components.chat.reply.time.monotonic", lambda: self.now)
        monkeypatch.setattr(
            reply, "draw_tail", lambda _tail, split: self.drawn.append((self.now, split.tail))
        )

    def deltas(self, timed: list[tuple[float, str]], *, end: bool = True) -> Iterator[str]:
        for at, delta in timed:
            self.now = at
            yield delta
        if not end:
            raise RuntimeError("the test ends the stream here")  # before the final draw


def test_first_word_after_a_silence_is_drawn_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    timeline = Timeline(monkeypatch)
    timed = [(0.1, ""), (0.2, ""), (0.3, ""), (0.305, "Hello"), (0.31, " there")]
    reply.draw_stream(timeline.deltas(timed))
    # The silences redraw the (empty) tail so Stop is noticed; they do not hold back the
    # word that ends them. " there", 5 ms later, waits for the next frame (or the end).
    assert (0.305, "Hello") in timeline.drawn
    assert (0.31, "Hello there") not in timeline.drawn


def test_words_held_back_are_drawn_in_the_next_silence(monkeypatch: pytest.MonkeyPatch) -> None:
    timeline = Timeline(monkeypatch)
    with pytest.raises(RuntimeError):
        reply.draw_stream(timeline.deltas([(1.0, "one"), (1.01, " two"), (1.11, "")], end=False))
    assert timeline.drawn[-1] == (1.11, "one two")


def test_the_request_leaves_before_the_sidebar_is_drawn(
    app: AppTest, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    requests_when_drawn: list[int] = []
    draw = sidebar.endpoint_panel

    def counting(endpoint: config.Endpoint) -> None:
        state = session.chat()
        if state.in_flight is not None:
            state.in_flight.worker.join(5)  # the request is out: its reply may even be in
        requests_when_drawn.append(len(fake.chat_requests))
        draw(endpoint)

    monkeypatch.setattr(sidebar, "endpoint_panel", counting)
    fake.enqueue(Reply(text="early"))
    send(app, "hi")
    assert requests_when_drawn == [1]
    assert shown(app) == [("user", "hi"), ("assistant", "early")]


def test_the_request_leaves_before_the_users_message_is_stored(
    app: AppTest, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saving first held the GIL while the worker was getting the request out: a new
    thread waits up to 5 ms for it (first token +3 to +10 ms, traced)."""
    monkeypatch.setattr(turn, "HEAD_START", 5.0)  # a slow machine still waits for the server
    requests_when_saved: list[int] = []
    save = Store.save_message

    def counting(
        store: Store, owner: str, conversation_id: str, message: ChatMessage, **how: bool
    ) -> int:
        if message.role == "user":
            requests_when_saved.append(len(fake.chat_requests))
        return save(store, owner, conversation_id, message, **how)

    monkeypatch.setattr(Store, "save_message", counting)
    send(app, "hi")
    assert requests_when_saved == [1]
    assert kept(app)[0] == ("user", "hi")


def test_a_reply_whose_run_stopped_before_drawing_it_is_kept(
    make_app: AppFactory, fake: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = make_app().run()
    draw = sidebar.endpoint_panel
    stops = [True]

    def stopped_once(endpoint: config.Endpoint) -> None:
        if stops and stops.pop():
            st.stop()  # as Stop (or a newer run) lands between the request and the drawing
        draw(endpoint)

    monkeypatch.setattr(sidebar, "endpoint_panel", stopped_once)
    fake.enqueue(Reply(text="kept anyway"))
    send(at, "hi")
    started = chat_state(at).in_flight
    assert started is not None and not shown(at)
    assert started.worker.join(5)  # the reply arrived with no page drawing it
    at.run()  # the next run of any kind settles it
    assert flushed(at, 10)  # and saves it, behind the page
    assert chat_state(at).in_flight is None
    assert kept(at) == [("user", "hi"), ("assistant", "kept anyway")]
    assert shown(at) == [("user", "hi"), ("assistant", "kept anyway")]
    stored = Store.open(config.database_url())
    (summary,) = stored.list_conversations("local")
    messages = stored.load_messages("local", summary.id) or []
    assert [(m.role, m.content) for m in messages] == [("user", "hi"), ("assistant", "kept anyway")]
